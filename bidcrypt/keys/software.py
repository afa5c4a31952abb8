"""A certificate with its private key held in memory: the entries of PKCS#12 and PEM key files.

RSA and EC keys are ``cryptography`` keys; SM2 keys are
:class:`~bidcrypt.gm.Sm2PrivateKey` objects, whose operations run in the
system libcrypto. :class:`MemorySource` is a key source of such entries that
no file holds (an opening key rebuilt by a committee, kept in memory only).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from bidcrypt import certs, gm
from bidcrypt.errors import MechanismUnsupportedError, WrongKeyError
from bidcrypt.keys.base import RSA_DECRYPTION_SCHEMES, RSA_SCHEMES, KeyEntry, KeySource, rsa_padding
from bidcrypt.keys.schemes import HASHES

#: The private keys a software entry holds.
SoftwareKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | gm.Sm2PrivateKey


class SoftwareEntry(KeyEntry):
    """A certificate with its private key held in memory."""

    def __init__(self, label: str, certificate: x509.Certificate, key: SoftwareKey, source: str) -> None:
        super().__init__(label, b"", certificate, source)
        self._key = key

    @property
    def has_private_key(self) -> bool:
        """Always true: a key file's entry comes with its key."""
        return True

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Unwrap with the RSA key in software."""
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="RSA decryption")
        if scheme not in RSA_DECRYPTION_SCHEMES:
            raise MechanismUnsupportedError(source=self.source, operation=f"RSA decryption ({scheme})")
        try:
            return self._key.decrypt(ciphertext, rsa_padding(scheme))
        except ValueError as exc:
            raise WrongKeyError() from exc

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The ECDH shared secret computed in software."""
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="ECDH")
        if peer.curve.name != self._key.curve.name:
            raise WrongKeyError()
        return self._key.exchange(ec.ECDH(), peer)

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Unwrap with the SM2 key in software (libcrypto)."""
        if not isinstance(self._key, gm.Sm2PrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="SM2 decryption")
        try:
            return self._key.decrypt(ciphertext)
        except gm.Sm2Error as exc:
            raise WrongKeyError() from exc

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """PKCS#1 v1.5 or ECDSA over the *hash_name* digest of *data*; SM2 with SM3 (Z ‖ *data*)."""
        if isinstance(self._key, gm.Sm2PrivateKey):
            if hash_name != "sm3":
                raise MechanismUnsupportedError(source=self.source, operation=f"SM2 with {hash_name}")
            return self._key.sign(data)
        if hash_name not in HASHES or hash_name == "sm3":
            raise MechanismUnsupportedError(source=self.source, operation=f"signature with {hash_name}")
        algorithm = HASHES[hash_name]()
        digest = hashes.Hash(algorithm)
        digest.update(data)
        prehashed = Prehashed(algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(digest.finalize(), padding.PKCS1v15(), prehashed)
        return self._key.sign(digest.finalize(), ec.ECDSA(prehashed))

    def sm2_sign_digest(self, digest: bytes) -> bytes:
        """A raw SM2 signature over the 32-byte e *digest* (see :meth:`KeyEntry.sm2_sign_digest`)."""
        if not isinstance(self._key, gm.Sm2PrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="SM2 signature")
        return self._key.sign_digest(digest)

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """Every scheme for an RSA key (software does them all); none for another key."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            return RSA_SCHEMES
        return ()


def key_from_pkcs8(der: bytes) -> SoftwareKey:
    """The RSA, EC or SM2 key of an unencrypted DER PKCS#8 PrivateKeyInfo; :class:`ValueError` otherwise."""
    try:
        key = serialization.load_der_private_key(der, None)
    except UnsupportedAlgorithm:
        try:
            return gm.Sm2PrivateKey.from_pkcs8_der(der)
        except gm.Sm2Error as exc:
            raise ValueError("not an RSA, EC or SM2 private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("not an RSA, EC or SM2 private key")
    return key


def public_key_matches(key: SoftwareKey, certificate: x509.Certificate) -> bool:
    """True when *certificate* certifies the public key of *key*."""
    if isinstance(key, gm.Sm2PrivateKey):
        return certs.public_key(certificate) == key.public_key()
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return certs.public_key_der(certificate) == spki


class MemorySource(KeySource):
    """A key source of one certificate and its private key held in this process's memory only.

    Nothing is read from or written to a file: it is for a key that exists
    only for the time of one operation (the opening key a committee rebuilt,
    see :func:`bidcrypt.opening.committee.rebuild_opening_key`). :meth:`close`
    drops the key.
    """

    def __init__(self, certificate: x509.Certificate, key: SoftwareKey, description: str) -> None:
        """*key* must be the private key of *certificate* (:class:`ValueError` otherwise)."""
        if not public_key_matches(key, certificate):
            raise ValueError("the key is not the certificate's")
        self.description = description
        self._entries: list[KeyEntry] = [SoftwareEntry(description, certificate, key, description)]

    def entries(self) -> list[KeyEntry]:
        """The one entry (none once closed)."""
        return list(self._entries)

    def close(self) -> None:
        """Forget the key."""
        self._entries = []


__all__ = ["MemorySource", "SoftwareEntry", "SoftwareKey", "key_from_pkcs8", "public_key_matches"]
