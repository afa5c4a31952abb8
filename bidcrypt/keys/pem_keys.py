"""Private keys in PEM files: RSA, EC and SM2 keys in the forms openssl, GmSSL and CAs write.

Read here:

- ``PRIVATE KEY``: PKCS#8 PrivateKeyInfo, unencrypted;
- ``ENCRYPTED PRIVATE KEY``: PKCS#8 EncryptedPrivateKeyInfo, including
  GmSSL's own form (PBES2 with PBKDF2-HMAC-SM3 and SM4-CBC), which openssl
  3.0 cannot read: it is decrypted here with ``cryptography``'s PBKDF2 and
  SM4 and the PKCS#8 inside goes to the SM2 engine;
- ``EC PRIVATE KEY`` (SEC 1; ``SM2 PRIVATE KEY`` is openssl's label for an
  SM2 one) and ``RSA PRIVATE KEY`` (PKCS#1), plain or with openssl's legacy
  ``Proc-Type: 4,ENCRYPTED`` header.

RSA and EC keys become ``cryptography`` keys; SM2 keys (which
``cryptography`` refuses) become :class:`~bidcrypt.gm.Sm2PrivateKey`. A
failure is :class:`KeyPasswordError` (the password does not decrypt the key)
or :class:`KeyFormatError` (not a key bidcrypt reads); neither quotes the
password.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import core, pem
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from bidcrypt import gm
from bidcrypt.gm import oids
from bidcrypt.keys.software import SoftwareKey

#: The PEM labels of private keys.
PRIVATE_KEY_LABELS = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY", "RSA PRIVATE KEY"}
)
#: The most PBKDF2 iterations accepted (GmSSL uses 65536, openssl 2048): more is a file made to stall.
MAX_ITERATIONS = 1 << 22

#: PBKDF2 pseudo-random functions, by OID (RFC 8018; HMAC-SM3 as GmSSL names it).
_PRFS: dict[str, type[hashes.HashAlgorithm]] = {
    oids.HMAC_SM3: hashes.SM3,
    "1.2.840.113549.2.7": hashes.SHA1,
    "1.2.840.113549.2.8": hashes.SHA224,
    "1.2.840.113549.2.9": hashes.SHA256,
    "1.2.840.113549.2.10": hashes.SHA384,
    "1.2.840.113549.2.11": hashes.SHA512,
}
_HMAC_SHA1 = "1.2.840.113549.2.7"
#: CBC ciphers of PBES2 and their key lengths, by OID.
_CIPHERS: dict[str, tuple[type[algorithms.SM4] | type[algorithms.AES], int]] = {
    oids.SM4_CBC: (algorithms.SM4, 16),
    "2.16.840.1.101.3.4.1.2": (algorithms.AES, 16),
    "2.16.840.1.101.3.4.1.22": (algorithms.AES, 24),
    "2.16.840.1.101.3.4.1.42": (algorithms.AES, 32),
}
_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"


class KeyFormatError(ValueError):
    """Not a private key bidcrypt reads (the reason says why; it never holds the password)."""


class KeyPasswordError(ValueError):
    """The password does not decrypt the private key (or none was given for an encrypted one)."""


@dataclass(frozen=True)
class PemBlock:
    """One ``-----BEGIN label-----`` block: its label, its headers and its decoded body."""

    label: str
    der: bytes = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_private_key(self) -> bool:
        """True for a private key block, encrypted or not."""
        return self.label in PRIVATE_KEY_LABELS

    @property
    def encrypted(self) -> bool:
        """True when the key needs a password: encrypted PKCS#8, or openssl's legacy encryption."""
        return self.label == "ENCRYPTED PRIVATE KEY" or self.headers.get("Proc-Type", "").startswith(
            "4,ENCRYPTED"
        )


def is_pem(data: bytes) -> bool:
    """True when *data* holds a PEM block (and so is no PKCS#12 file)."""
    return b"-----BEGIN " in data


def pem_blocks(data: bytes) -> list[PemBlock]:
    """Every PEM block of *data*, in order; :class:`KeyFormatError` when the armour is broken."""
    try:
        return [PemBlock(label, bytes(der), dict(headers)) for label, headers, der in pem.unarmor(data, True)]
    except ValueError as exc:  # bad base64, a block without its END line, non-ASCII headers
        raise KeyFormatError(f"broken PEM armour ({type(exc).__name__})") from exc


def load_private_key(block: PemBlock, password: bytes | None) -> SoftwareKey:
    """The RSA, EC or SM2 private key of *block*, decrypted with *password* when it is encrypted."""
    if block.encrypted and password is None:
        raise KeyPasswordError("the key is encrypted and no password was given")
    if block.label == "ENCRYPTED PRIVATE KEY":
        try:
            info = asn1_keys.EncryptedPrivateKeyInfo.load(block.der, strict=True)
            info.native  # noqa: B018 - parses every field now, so that junk fails here
        except (ValueError, TypeError, KeyError) as exc:
            raise KeyFormatError("not an EncryptedPrivateKeyInfo") from exc
        if _is_national(info):
            assert password is not None
            return _from_decrypted_pkcs8(_decrypt_pbes2(info, password))
    text = _standard_pem(block)
    secret = password if block.encrypted else None
    try:
        key = serialization.load_pem_private_key(text, secret)
    except UnsupportedAlgorithm:  # the SM2 curve (after decryption), or a cipher cryptography lacks
        return _sm2_from_pem(text, secret)
    except (ValueError, TypeError) as exc:
        if block.encrypted:
            raise KeyPasswordError("the password does not decrypt the key") from exc
        raise KeyFormatError("the key cannot be read") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFormatError(f"a {type(key).__name__.removeprefix('_')} is not an RSA, EC or SM2 key")
    return key


def _standard_pem(block: PemBlock) -> bytes:
    """The block as PEM that ``cryptography`` and libcrypto read (an SM2 SEC 1 key labelled as EC)."""
    label = "EC PRIVATE KEY" if block.label == "SM2 PRIVATE KEY" else block.label
    return bytes(pem.armor(label, block.der, headers=block.headers or None))


def _sm2_from_pem(text: bytes, password: bytes | None) -> gm.Sm2PrivateKey:
    try:
        return gm.Sm2PrivateKey.from_pem(text, password)
    except gm.Sm2Error as exc:
        if password is not None and "bad decrypt" in str(exc):
            raise KeyPasswordError("the password does not decrypt the key") from exc
        raise KeyFormatError(
            "neither an RSA or EC key nor an SM2 key, or encrypted in a way not read"
        ) from exc


def _is_national(info: asn1_keys.EncryptedPrivateKeyInfo) -> bool:
    """True for PBES2 with PBKDF2 whose PRF is HMAC-SM3 or whose cipher is SM4-CBC (GmSSL's form)."""
    algorithm = info["encryption_algorithm"]
    if algorithm["algorithm"].dotted != _PBES2:
        return False
    parameters = algorithm["parameters"]
    kdf = parameters["key_derivation_func"]
    if kdf["algorithm"].dotted != _PBKDF2:
        return False
    prf = kdf["parameters"]["prf"]
    prf_oid = prf["algorithm"].dotted if prf.native is not None else _HMAC_SHA1
    return prf_oid == oids.HMAC_SM3 or parameters["encryption_scheme"]["algorithm"].dotted == oids.SM4_CBC


def _decrypt_pbes2(info: asn1_keys.EncryptedPrivateKeyInfo, password: bytes) -> bytes:
    """The PKCS#8 DER inside a PBES2 / PBKDF2 EncryptedPrivateKeyInfo with a CBC cipher."""
    parameters = info["encryption_algorithm"]["parameters"]
    kdf = parameters["key_derivation_func"]["parameters"]
    prf = kdf["prf"]
    prf_oid = prf["algorithm"].dotted if prf.native is not None else _HMAC_SHA1
    scheme = parameters["encryption_scheme"]
    if prf_oid not in _PRFS or scheme["algorithm"].dotted not in _CIPHERS:
        raise KeyFormatError(f"unsupported key encryption ({prf_oid}, {scheme['algorithm'].dotted})")
    cipher, key_length = _CIPHERS[scheme["algorithm"].dotted]
    salt = kdf["salt"]
    if salt.name != "specified":
        raise KeyFormatError("a PBKDF2 salt that is not an OCTET STRING")
    iterations = int(kdf["iteration_count"].native)
    if not 0 < iterations <= MAX_ITERATIONS:
        raise KeyFormatError(f"{iterations} PBKDF2 iterations (at most {MAX_ITERATIONS} are accepted)")
    stated_length = kdf["key_length"].native
    if stated_length is not None and stated_length != key_length:
        raise KeyFormatError(f"a {stated_length}-byte key for a cipher that takes {key_length}")
    try:
        iv = core.OctetString.load(scheme["parameters"].dump(), strict=True).native
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("the cipher's IV is not an OCTET STRING") from exc
    ciphertext = bytes(info["encrypted_data"].native)
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise KeyFormatError("a CBC IV of 16 bytes and whole blocks of ciphertext are expected")
    derive = PBKDF2HMAC(_PRFS[prf_oid](), key_length, bytes(salt.chosen.native), iterations)
    decryptor = Cipher(cipher(derive.derive(password)), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:  # the padding is wrong: the password is
        raise KeyPasswordError("the password does not decrypt the key") from exc


def _from_decrypted_pkcs8(der: bytes) -> SoftwareKey:
    """The key of a PKCS#8 DER just decrypted: what does not read means the password was wrong."""
    try:
        key = serialization.load_der_private_key(der, None)
    except UnsupportedAlgorithm:
        try:
            return gm.Sm2PrivateKey.from_pkcs8_der(der)
        except gm.Sm2Error as exc:
            raise KeyPasswordError("the password does not decrypt the key") from exc
    except ValueError as exc:
        raise KeyPasswordError("the password does not decrypt the key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFormatError(f"a {type(key).__name__.removeprefix('_')} is not an RSA, EC or SM2 key")
    return key


__all__ = [
    "MAX_ITERATIONS",
    "PRIVATE_KEY_LABELS",
    "KeyFormatError",
    "KeyPasswordError",
    "PemBlock",
    "is_pem",
    "load_private_key",
    "pem_blocks",
]
