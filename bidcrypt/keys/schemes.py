"""Signature schemes: what a key source's signature is, for each kind of key, in CMS terms.

A key source signs bytes (:meth:`~bidcrypt.keys.KeyEntry.sign`): PKCS#1 v1.5
with an RSA key, a DER ECDSA-Sig-Value with an EC key. A
:class:`SignatureScheme` says, for one kind of key, how such a signature is
named in CMS (its ``SignatureAlgorithmIdentifier``), how it is checked with
the certificate's public key, and how long it can be (a placeholder while a
PDF signature is sized). Every CMS signature bidcrypt makes or checks goes
through :data:`SCHEMES`, so a new algorithm (SM2 with SM3) is one more
scheme here and its hash in :data:`HASHES`, not another signing path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bidcrypt.certs import PublicKey
from bidcrypt.gm import Sm2PublicKey, oids

#: The hashes a signature may be made with, by their CMS names (see :meth:`KeyEntry.sign`).
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sm3": hashes.SM3,
}


class SignatureScheme(ABC):
    """One signature algorithm: its CMS name, its check, its largest size."""

    #: The algorithm's name as asn1crypto gives it (``SignedDigestAlgorithm.signature_algo``).
    name: str
    #: Other names of the same algorithm (an OID another writer uses for it).
    also: tuple[str, ...] = ()
    #: The hash the algorithm always uses, when it fixes one (SM2 with SM3).
    fixed_hash: str | None = None

    @property
    def signing_hash(self) -> str:
        """The hash bidcrypt signs with under this scheme: the one it fixes (SM3 for SM2), else SHA-256."""
        return self.fixed_hash or "sha256"

    @abstractmethod
    def owns(self, public_key: PublicKey) -> bool:
        """True when *public_key* makes signatures of this scheme."""

    @abstractmethod
    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """The CMS ``SignatureAlgorithmIdentifier`` with the hash *hash_name*.

        Without a hash, the identifier of the scheme alone, or a
        :class:`ValueError` when the scheme must name its hash (ECDSA).
        """

    @abstractmethod
    def verify(self, public_key: PublicKey, signature: bytes, data: bytes, hash_name: str) -> None:
        """Raise :class:`cryptography.exceptions.InvalidSignature` unless *signature* is over *data*."""

    @abstractmethod
    def placeholder(self, public_key: PublicKey) -> bytes:
        """Zero bytes as long as the longest signature *public_key*'s private key makes."""


class RsaPkcs1v15(SignatureScheme):
    """RSASSA-PKCS1-v1_5 (RFC 8017), what every UKey signs with an RSA key."""

    name = "rsassa_pkcs1v15"

    def owns(self, public_key: PublicKey) -> bool:
        """An RSA key."""
        return isinstance(public_key, rsa.RSAPublicKey)

    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """``sha256WithRSAEncryption`` and the like; ``rsaEncryption`` without a hash."""
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa" if hash_name else self.name})

    def verify(self, public_key: PublicKey, signature: bytes, data: bytes, hash_name: str) -> None:
        """PKCS#1 v1.5 verification."""
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, data, padding.PKCS1v15(), HASHES[hash_name]())

    def placeholder(self, public_key: PublicKey) -> bytes:
        """As long as the modulus."""
        assert isinstance(public_key, rsa.RSAPublicKey)
        return bytes((public_key.key_size + 7) // 8)


class Ecdsa(SignatureScheme):
    """ECDSA (RFC 5753: the identifier names the hash), a DER ECDSA-Sig-Value."""

    name = "ecdsa"

    def owns(self, public_key: PublicKey) -> bool:
        """An EC key (on a curve other than SM2's, once SM2 is a scheme of its own)."""
        return isinstance(public_key, ec.EllipticCurvePublicKey)

    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """``ecdsa-with-SHA256`` and the like."""
        if hash_name is None:
            raise ValueError("an ECDSA signature algorithm names its hash")
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"})

    def verify(self, public_key: PublicKey, signature: bytes, data: bytes, hash_name: str) -> None:
        """ECDSA verification."""
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(signature, data, ec.ECDSA(HASHES[hash_name]()))

    def placeholder(self, public_key: PublicKey) -> bytes:
        """Both integers at their longest: the order's size plus a leading zero byte."""
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        longest = 1 << (8 * ((public_key.curve.key_size + 7) // 8) - 1)
        return bytes(algos.DSASignature({"r": longest, "s": longest}).dump())


class Sm2WithSm3(SignatureScheme):
    """SM2 with SM3 (GM/T 0009, GB/T 35276): a DER SM2Signature over Z(default ID) ‖ M.

    The identifier is ``1.2.156.10197.1.501`` with no parameters, what
    certificates, GmSSL and BouncyCastle write; the hash is always SM3.
    """

    name = "sm2_sm3"
    also = ("sm2_sign",)  # 1.2.156.10197.1.301.1, as emmansun/gmsm writes it
    fixed_hash = "sm3"

    def owns(self, public_key: PublicKey) -> bool:
        """An SM2 key."""
        return isinstance(public_key, Sm2PublicKey)

    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """``SM2-with-SM3``; only SM3 goes with it."""
        if hash_name not in (None, "sm3"):
            raise ValueError(f"SM2 signs with SM3, not {hash_name}")
        return algos.SignedDigestAlgorithm({"algorithm": oids.SM2_WITH_SM3})

    def verify(self, public_key: PublicKey, signature: bytes, data: bytes, hash_name: str) -> None:
        """SM2 verification with Z of the default distinguishing ID."""
        assert isinstance(public_key, Sm2PublicKey)
        if hash_name != "sm3":
            raise InvalidSignature(f"SM2 signs with SM3, not {hash_name}")
        public_key.verify(signature, data)

    def placeholder(self, public_key: PublicKey) -> bytes:
        """Both integers at their longest (33 bytes each)."""
        longest = 1 << 255
        return bytes(algos.DSASignature({"r": longest, "s": longest}).dump())


#: Every scheme bidcrypt signs and checks with, the most specific first.
SCHEMES: tuple[SignatureScheme, ...] = (RsaPkcs1v15(), Ecdsa(), Sm2WithSm3())


def scheme_for_key(public_key: PublicKey) -> SignatureScheme | None:
    """The scheme *public_key* signs with, or None when bidcrypt has none for it."""
    return next((scheme for scheme in SCHEMES if scheme.owns(public_key)), None)


def scheme_named(identifier: algos.SignedDigestAlgorithm) -> SignatureScheme | None:
    """The scheme a CMS ``SignatureAlgorithmIdentifier`` names, or None when bidcrypt has none."""
    try:
        name = identifier.signature_algo
    except (ValueError, KeyError, TypeError):  # not one of asn1crypto's own: maybe a national algorithm
        try:
            name = identifier["algorithm"].native
        except (ValueError, KeyError, TypeError):
            return None
    return next((scheme for scheme in SCHEMES if name == scheme.name or name in scheme.also), None)


def hash_named(identifier: algos.SignedDigestAlgorithm, default: str | None) -> str | None:
    """The hash a ``SignatureAlgorithmIdentifier`` names, else *default*; None when not in :data:`HASHES`."""
    scheme = scheme_named(identifier)
    if scheme is not None and scheme.fixed_hash is not None:
        return scheme.fixed_hash
    try:
        name = identifier.hash_algo
    except (ValueError, KeyError, TypeError):  # no hash named (rsaEncryption), or malformed parameters
        name = default
    return name if name in HASHES else None


__all__ = [
    "HASHES",
    "SCHEMES",
    "Ecdsa",
    "RsaPkcs1v15",
    "SignatureScheme",
    "Sm2WithSm3",
    "hash_named",
    "scheme_for_key",
    "scheme_named",
]
