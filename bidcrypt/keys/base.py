"""The narrow interface every key source offers: certificates and three private-key operations.

The engine never sees key material. It asks a :class:`KeyEntry` to unwrap a
content key (RSA decrypt), to agree a secret (ECDH), or to sign bytes. A
UKey does the operation on the token; a PKCS#12 file does it in software.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bidcrypt import certs
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    MechanismUnsupportedError,
    TokenError,
    WrongKeyError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys.schemes import HASHES

#: The RSA decryption schemes a key entry can be asked for, strongest first: RSAES-OAEP with one
#: hash for the digest and MGF1 and an empty label, and RSAES-PKCS1-v1_5. Plain names: which
#: scheme an envelope uses is the envelope layer's choice (its ``KeyTransport``).
RSA_SCHEMES = ("oaep-sha256", "oaep-sha1", "pkcs1v15")
#: The RSA decryption schemes a key entry does when asked: those it may claim, and RSAES-OAEP with
#: SHA-512 (PKI.js's default, RFC 8017), which is opened but never offered or tried.
RSA_DECRYPTION_SCHEMES = (*RSA_SCHEMES, "oaep-sha512")
PKCS1V15 = "pkcs1v15"

_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "oaep-sha256": hashes.SHA256,
    "oaep-sha1": hashes.SHA1,
    "oaep-sha512": hashes.SHA512,
}


def rsa_padding(scheme: str) -> padding.AsymmetricPadding:
    """The ``cryptography`` padding object of the RSA decryption scheme *scheme* (see :data:`RSA_SCHEMES`)."""
    if scheme == PKCS1V15:
        return padding.PKCS1v15()
    if scheme not in _OAEP_HASHES:
        raise ValueError(f"unknown RSA decryption scheme {scheme}")
    algorithm = _OAEP_HASHES[scheme]()
    return padding.OAEP(mgf=padding.MGF1(algorithm), algorithm=algorithm, label=None)


#: Hash names accepted by :meth:`KeyEntry.sign`.
SIGNATURE_HASHES = tuple(HASHES)

#: The content ciphers a token can decrypt with an imported content key (:meth:`KeyEntry.import_content_key`):
#: CBC with no padding on the token (the caller removes the PKCS#7 padding). Names as the envelope's.
TOKEN_CIPHERS = ("sm4-cbc", "aes-128-cbc", "aes-192-cbc", "aes-256-cbc")
#: How a content key is wrapped for :meth:`KeyEntry.import_content_key`: a DER SM2Cipher, or RSAES-PKCS1-v1_5.
TOKEN_KEY_WRAPS = ("sm2", PKCS1V15)


class TokenDecryptor(ABC):
    """One CBC decryption running on a token: whole blocks in, whole blocks out, no padding removed."""

    @abstractmethod
    def update(self, data: bytes) -> bytes:
        """Decrypt *data* (a multiple of the block size, at most :attr:`TokenContentKey.max_chunk` bytes)."""

    @abstractmethod
    def finalize(self) -> bytes:
        """End the decryption; the bytes the token still held (usually none)."""


class TokenContentKey(ABC):
    """A content key imported into the token (SKF's ``SKF_ImportSessionKey``), which never leaves it.

    The content is decrypted on the token, one chunk at a time
    (:meth:`decryptor`); the key is destroyed on the token by :meth:`close`.
    Only the process (and key source) that imported it can use it.
    """

    #: The content cipher, one of :data:`TOKEN_CIPHERS`.
    cipher: str
    #: The most bytes one :meth:`TokenDecryptor.update` takes (the token's buffer), a multiple of 16.
    max_chunk: int

    @abstractmethod
    def decryptor(self, iv: bytes) -> TokenDecryptor:
        """Start a CBC decryption with *iv* on the token."""

    @abstractmethod
    def close(self) -> None:
        """Destroy the key on the token (idempotent)."""

    def __enter__(self) -> TokenContentKey:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class KeyEntry(ABC):
    """One certificate on a key source, with its private key when the source holds it."""

    def __init__(self, label: str, key_id: bytes, certificate: x509.Certificate, source: str) -> None:
        self.label = label
        self.key_id = key_id
        self.certificate = certificate
        self.source = source

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.source}:{self.label} {certs.display_name(self.certificate)}>"

    @property
    @abstractmethod
    def has_private_key(self) -> bool:
        """True when the private key of this certificate is on the source."""

    @abstractmethod
    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Unwrap an RSA-encrypted key with the private key by *scheme* (one of :data:`RSA_SCHEMES`)."""

    @abstractmethod
    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The raw ECDH shared secret (the x coordinate) with *peer*."""

    @abstractmethod
    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """Sign *data*: PKCS#1 v1.5 for RSA, a DER ECDSA-Sig-Value for EC.

        With an SM2 key the hash is ``"sm3"``: a DER SM2Signature over
        Z ‖ *data*, Z of the default distinguishing ID (GM/T 0009).
        """

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Unwrap an SM2-encrypted key (a DER SM2Cipher) with the private key.

        :class:`~bidcrypt.errors.WrongKeyError` when it is not for this key.
        Sources without SM2 say :class:`~bidcrypt.errors.MechanismUnsupportedError`.
        """
        raise MechanismUnsupportedError(source=self.source, operation="SM2 decryption")

    def sm2_sign_digest(self, digest: bytes) -> bytes:
        """A raw SM2 signature (DER SM2Signature) over the 32-byte e *digest*, as given: no Z is added.

        A token that signs only a precomputed e (an SKF UKey's
        ``SKF_ECCSignData``) implements this, and its ``sign(data, "sm3")``
        is this over :func:`~bidcrypt.keys.sm2_signing_digest` of its
        certificate and the data (see :mod:`bidcrypt.keys.sm2_digest`).
        Sources without SM2 say :class:`~bidcrypt.errors.MechanismUnsupportedError`.
        """
        raise MechanismUnsupportedError(source=self.source, operation="SM2 signature")

    #: False when the source never hands out an unwrapped content key: the key can only be imported
    #: into the token (:meth:`import_content_key`) and the content decrypted there (an SKF UKey
    #: without a private-key decryption export). Then ``rsa_decrypt`` and ``sm2_decrypt`` say
    #: :class:`~bidcrypt.errors.MechanismUnsupportedError`.
    returns_content_keys: bool = True

    def import_content_key(self, wrapped: bytes, wrap: str, cipher: str) -> TokenContentKey:
        """Import the content key *wrapped* for this key into the token, to decrypt the content there.

        *wrap* is one of :data:`TOKEN_KEY_WRAPS` (``"sm2"``: a DER SM2Cipher;
        ``"pkcs1v15"``: an RSAES-PKCS1-v1_5 ciphertext), *cipher* one of
        :data:`TOKEN_CIPHERS`. :class:`~bidcrypt.errors.WrongKeyError` when the
        token refuses the wrapped key; sources that cannot say
        :class:`~bidcrypt.errors.MechanismUnsupportedError`.
        """
        raise MechanismUnsupportedError(source=self.source, operation="content-key import")

    @abstractmethod
    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """The RSA decryption schemes the source says it can do (from its mechanism list), strongest first."""

    def probe_rsa_schemes(self) -> tuple[str, ...]:
        """The RSA decryption schemes this key really does, found by a trial decryption of each.

        Costs one private-key operation per scheme the source claims.
        """
        public_key = certs.public_key(self.certificate)
        if not isinstance(public_key, rsa.RSAPublicKey):
            return ()
        working = []
        for scheme in self.claimed_rsa_schemes():
            probe = os.urandom(32)
            try:
                wrapped = public_key.encrypt(probe, rsa_padding(scheme))
                if self.rsa_decrypt(wrapped, scheme) == probe:
                    working.append(scheme)
            except (MechanismUnsupportedError, WrongKeyError, TokenError, ValueError):
                continue
        return tuple(working)

    def _require_private_key(self) -> None:
        if not self.has_private_key:
            raise KeyNotFoundError(what=Text("private key", "私钥"), ref=f"{self.source}:{self.label}")


class KeySource(ABC):
    """A place holding certificates and private keys: a UKey or a PKCS#12 file.

    Use as a context manager; a token is logged in at most once per source,
    on the first private-key operation.
    """

    #: A short description for messages: the token label or the file name.
    description: str

    @abstractmethod
    def entries(self) -> list[KeyEntry]:
        """Every certificate on the source with its private-key handle."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the token session or key material."""

    def missing_certificate(self, purpose: certs.Purpose) -> BidcryptError | None:
        """The error saying, in the token's own terms, that the certificate for *purpose* is missing.

        None when the source does not know (the default). An SKF container
        without its signing certificate says so (``未获取到签名证书``).
        """
        return None

    def __enter__(self) -> KeySource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def entry(self, purpose: certs.Purpose | None = None) -> KeyEntry:
        """The one entry with a private key for *purpose* (any purpose when None)."""
        candidates = [
            e for e in self.entries() if purpose is None or purpose in certs.purposes(e.certificate)
        ]
        if not candidates:
            what = Text("certificate", "证书")
            if purpose is not None:
                what = Text("{value} certificate", "{label}证书", value=purpose.value, label=purpose.text())
            raise KeyNotFoundError(what=what, ref=self.description)
        if len(candidates) == 1:
            return candidates[0]
        with_key = [e for e in candidates if e.has_private_key]
        return (with_key or candidates)[0]
