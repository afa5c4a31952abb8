"""A certificate with its private key held in memory: the entries of PKCS#12 and PEM key files.

RSA and EC keys are ``cryptography`` keys; SM2 keys are
:class:`~bidcrypt.gm.Sm2PrivateKey` objects, whose operations run in the
system libcrypto.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from bidcrypt import gm
from bidcrypt.errors import MechanismUnsupportedError, WrongKeyError
from bidcrypt.keys.base import RSA_DECRYPTION_SCHEMES, RSA_SCHEMES, KeyEntry, rsa_padding
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


__all__ = ["SoftwareEntry", "SoftwareKey"]
