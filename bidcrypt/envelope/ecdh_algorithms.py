"""ECDH key agreement (RFC 5753): the dhSinglePass schemes, curves and AES key wraps bidcrypt knows.

Re-exported by :mod:`bidcrypt.envelope.algorithms`, where the rest of the
envelope finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt.envelope import _asn1

SECP256R1 = "1.2.840.10045.3.1.7"
SECP384R1 = "1.3.132.0.34"

AES128_WRAP = "2.16.840.1.101.3.4.1.5"
AES192_WRAP = "2.16.840.1.101.3.4.1.25"
AES256_WRAP = "2.16.840.1.101.3.4.1.45"


@dataclass(frozen=True)
class KeyAgreementScheme:
    """A dhSinglePass scheme: ephemeral-static ECDH and the X9.63 KDF with one hash."""

    oid: str
    name: str
    hash_name: str
    cofactor: bool

    def hash(self) -> hashes.HashAlgorithm:
        """A fresh instance of the KDF hash."""
        return _KDF_HASHES[self.hash_name]()


_KDF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

#: Every dhSinglePass scheme bidcrypt opens. The cofactor variants compute the same
#: secret on the NIST curves (cofactor 1).
KEY_AGREEMENT_SCHEMES = {
    scheme.oid: scheme
    for scheme in (
        KeyAgreementScheme("1.3.133.16.840.63.0.2", "dhSinglePass-stdDH-sha1kdf-scheme", "sha1", False),
        KeyAgreementScheme("1.3.132.1.11.0", "dhSinglePass-stdDH-sha224kdf-scheme", "sha224", False),
        KeyAgreementScheme("1.3.132.1.11.1", "dhSinglePass-stdDH-sha256kdf-scheme", "sha256", False),
        KeyAgreementScheme("1.3.132.1.11.2", "dhSinglePass-stdDH-sha384kdf-scheme", "sha384", False),
        KeyAgreementScheme("1.3.132.1.11.3", "dhSinglePass-stdDH-sha512kdf-scheme", "sha512", False),
        KeyAgreementScheme("1.3.133.16.840.63.0.3", "dhSinglePass-cofactorDH-sha1kdf-scheme", "sha1", True),
        KeyAgreementScheme("1.3.132.1.14.0", "dhSinglePass-cofactorDH-sha224kdf-scheme", "sha224", True),
        KeyAgreementScheme("1.3.132.1.14.1", "dhSinglePass-cofactorDH-sha256kdf-scheme", "sha256", True),
        KeyAgreementScheme("1.3.132.1.14.2", "dhSinglePass-cofactorDH-sha384kdf-scheme", "sha384", True),
        KeyAgreementScheme("1.3.132.1.14.3", "dhSinglePass-cofactorDH-sha512kdf-scheme", "sha512", True),
    )
}

#: AES key wrap (RFC 3394) algorithms and their key-encryption-key lengths.
KEY_WRAPS = {AES128_WRAP: 16, AES192_WRAP: 24, AES256_WRAP: 32}


@dataclass(frozen=True)
class Curve:
    """An elliptic curve bidcrypt encrypts to, with the scheme it uses for it."""

    oid: str
    name: str
    curve: type[ec.EllipticCurve]
    #: The scheme bidcrypt writes: the KDF hash matches the curve's strength.
    scheme_oid: str


CURVES = {
    curve.oid: curve
    for curve in (
        Curve(SECP256R1, "P-256", ec.SECP256R1, "1.3.132.1.11.1"),
        Curve(SECP384R1, "P-384", ec.SECP384R1, "1.3.132.1.11.2"),
    )
}


def curve_of(public_key: ec.EllipticCurvePublicKey) -> Curve | None:
    """The supported curve of *public_key*, or None."""
    for curve in CURVES.values():
        if isinstance(public_key.curve, curve.curve):
            return curve
    return None


def key_wrap_for(key_size: int) -> str:
    """The AES key wrap whose key is as long as the content key (as OpenSSL chooses)."""
    for oid, size in KEY_WRAPS.items():
        if size == key_size:
            return oid
    raise ValueError(f"no AES key wrap for a {key_size}-byte key")


def key_wrap_algorithm(oid: str) -> bytes:
    """The DER AlgorithmIdentifier of an AES key wrap (parameters absent, RFC 3565 section 2.3.2)."""
    return bytes(cms.KeyEncryptionAlgorithm({"algorithm": oid}).dump())


def ecc_cms_shared_info(key_wrap: bytes, ukm: bytes | None, kek_length: int) -> bytes:
    """The DER ECC-CMS-SharedInfo fed to the X9.63 KDF (RFC 5753 section 7.2)."""
    value = _asn1.EccCmsSharedInfo(
        {
            "key_info": cms.KeyEncryptionAlgorithm.load(key_wrap),
            "entity_u_info": ukm,
            "supp_pub_info": (kek_length * 8).to_bytes(4, "big"),
        }
    )
    return bytes(value.dump())
