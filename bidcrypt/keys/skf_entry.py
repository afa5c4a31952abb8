"""A certificate in an SKF container and the container's key pair: signing and content-key recovery.

An SKF container holds a signing key pair and an encryption key pair. The
signing entry signs (SM2: e = SM3(Z ‖ M) computed here and
``SKF_ECCSignData``; RSA: ``SKF_RSASignData`` over the DER DigestInfo); the
encryption entry recovers content keys:

* the **fast path**, when the library exports ``SKF_ECCDecrypt`` /
  ``SKF_RSAPriKeyDecrypt`` and the reference does not say ``fast-path=no``:
  :meth:`SkfEntry.sm2_decrypt` / :meth:`SkfEntry.rsa_decrypt` return the key;
* the **standard path** otherwise: ``returns_content_keys`` is False and
  :meth:`SkfEntry.import_content_key` imports the key into the token
  (``SKF_ImportSessionKey``), which then decrypts the content
  (:class:`SkfContentKey`, ``SKF_DecryptInit`` / ``Update`` / ``Final``).

Every call runs through the :class:`~bidcrypt.keys.skf_source.SkfSource`:
its lock, its one login, its error translation.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bidcrypt import certs
from bidcrypt.errors import BidcryptError, MechanismUnsupportedError, TokenError, WrongKeyError
from bidcrypt.gm import Sm2PublicKey
from bidcrypt.i18n import Text
from bidcrypt.keys.base import PKCS1V15, TOKEN_CIPHERS, KeyEntry, TokenContentKey, TokenDecryptor
from bidcrypt.keys.schemes import HASHES
from bidcrypt.keys.skf_blobs import SkfBlobError, digest_info, ecc_cipher_blob, sm2_signature_of_blob
from bidcrypt.keys.skf_errors import SkfCallError
from bidcrypt.keys.skf_types import HANDLE
from bidcrypt.keys.sm2_digest import sm2_signing_digest

if TYPE_CHECKING:
    from bidcrypt.keys.skf_source import SkfSource

#: ``ulAlgId`` of each content cipher (``docs/skf.md``): SM4-CBC is GM/T 0006's, the AES ids bidcrypt's.
ALGORITHM_IDS = {
    "sm4-cbc": 0x00000402,
    "aes-128-cbc": 0x80000102,
    "aes-192-cbc": 0x80000202,
    "aes-256-cbc": 0x80000402,
}
_BLOCK = 16


class SkfEntry(KeyEntry):
    """The signing or the encryption certificate of the source's container."""

    def __init__(self, source: SkfSource, purpose: certs.Purpose, certificate: x509.Certificate) -> None:
        kind = "sign" if purpose is certs.Purpose.SIGNING else "enc"
        container = source.container_name
        super().__init__(
            f"{container.text}/{kind}", container.raw + b"/" + kind.encode(), certificate, source.description
        )
        self._source = source
        self.purpose = purpose
        self._sm2 = isinstance(certs.public_key(certificate), Sm2PublicKey)
        self.returns_content_keys = purpose is certs.Purpose.ENCRYPTION and source.fast_path

    @property
    def has_private_key(self) -> bool:
        """True: an SKF container holds the key pair of each of its certificates."""
        return True

    def _refuse(self, operation: str, reason: Text) -> MechanismUnsupportedError:
        return MechanismUnsupportedError(reason, source=self.source, operation=operation)

    def _require(self, purpose: certs.Purpose, operation: str) -> None:
        if self.purpose is not purpose:
            raise self._refuse(
                operation,
                Text(
                    "an SKF container does this with its {purpose} key pair, not this one",
                    "SKF 容器只用其{purpose}密钥对执行此操作",
                    purpose=purpose.text(),
                ),
            )

    def _require_fast_path(self, operation: str) -> None:
        self._require(certs.Purpose.ENCRYPTION, operation)
        if not self.returns_content_keys:
            raise self._refuse(
                operation,
                Text(
                    "the SKF library exports no private-key decryption (or fast-path=no): "
                    "the content key is imported into the token instead",
                    "SKF 驱动库未提供私钥解密（或指定了 fast-path=no）：内容密钥改为导入 U-KEY 解密",
                ),
            )

    # -- content keys: the fast path ----------------------------------------------------

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Unwrap an SM2-encrypted key (DER SM2Cipher) with ``SKF_ECCDecrypt``."""
        if not self._sm2:
            raise self._refuse("SM2 decryption", Text("the key is not an SM2 key", "该密钥不是 SM2 密钥"))
        self._require_fast_path("SM2 decryption")
        try:
            blob = ecc_cipher_blob(ciphertext)
        except SkfBlobError as exc:
            raise WrongKeyError(str(exc)) from None
        size = len(blob) - 164
        return self._source.run(
            lambda container: self._source.library.ecc_decrypt(container, blob, size),
            "SM2 decryption",
            unwrapping=True,
        )

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Unwrap an RSA PKCS#1 v1.5 key with ``SKF_RSAPriKeyDecrypt`` (SKF has no OAEP)."""
        operation = f"RSA decryption ({scheme})"
        if self._sm2:
            raise self._refuse(operation, Text("the key is an SM2 key", "该密钥是 SM2 密钥"))
        if scheme != PKCS1V15:
            raise self._refuse(
                operation, Text("SKF decrypts PKCS#1 v1.5 only", "SKF 仅支持 PKCS#1 v1.5 解密")
            )
        self._require_fast_path(operation)
        return self._source.run(
            lambda container: self._source.library.rsa_decrypt(container, ciphertext),
            operation,
            unwrapping=True,
        )

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """Refused: an SKF container holds SM2 or RSA keys, and SKF gives out no shared secret."""
        raise self._refuse(
            "ECDH", Text("SKF containers hold SM2 or RSA keys", "SKF 容器只有 SM2 或 RSA 密钥")
        )

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """PKCS#1 v1.5 for the encryption certificate of an RSA container; nothing else."""
        if self._sm2 or self.purpose is not certs.Purpose.ENCRYPTION:
            return ()
        return (PKCS1V15,)

    # -- signing ------------------------------------------------------------------------

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """SM2 with SM3 (e computed here, the token signs it) or RSA PKCS#1 v1.5 over the DigestInfo."""
        if self._sm2:
            if hash_name != "sm3":
                raise self._refuse(f"SM2 with {hash_name}", Text("SM2 signs with SM3", "SM2 使用 SM3 签名"))
            return self.sm2_sign_digest(sm2_signing_digest(self.certificate, data))
        operation = f"RSA signature with {hash_name}"
        if (
            hash_name not in HASHES
            or hash_name == "sm3"
            or not isinstance(certs.public_key(self.certificate), rsa.RSAPublicKey)
        ):
            raise self._refuse(operation, Text("no such RSA signature", "不支持该 RSA 签名"))
        self._require(certs.Purpose.SIGNING, operation)
        digest = hashes.Hash(HASHES[hash_name]())
        digest.update(data)
        to_sign = digest_info(hash_name, digest.finalize())
        return self._source.run(
            lambda container: self._source.library.rsa_sign(container, to_sign), operation
        )

    def sm2_sign_digest(self, digest: bytes) -> bytes:
        """``SKF_ECCSignData`` over the 32-byte e *digest*: a DER SM2Signature."""
        operation = "SM2 signature"
        if not self._sm2:
            raise self._refuse(operation, Text("the key is not an SM2 key", "该密钥不是 SM2 密钥"))
        if len(digest) != 32:
            raise ValueError("SM2 signs a 32-byte e")
        self._require(certs.Purpose.SIGNING, operation)
        blob = self._source.run(lambda container: self._source.library.ecc_sign(container, digest), operation)
        try:
            return sm2_signature_of_blob(blob)
        except SkfBlobError as exc:
            raise TokenError(
                Text(
                    "the token answered an impossible signature ({reason})",
                    "U-KEY 返回了无效的签名（{reason}）",
                    reason=str(exc),
                ),
                source=self.source,
            ) from None

    # -- content keys: the standard path ------------------------------------------------

    def import_content_key(self, wrapped: bytes, wrap: str, cipher: str) -> TokenContentKey:
        """``SKF_ImportSessionKey`` of *wrapped* (DER SM2Cipher or PKCS#1 v1.5) for *cipher*."""
        operation = f"{cipher} decryption on the token"
        self._require(certs.Purpose.ENCRYPTION, operation)
        if cipher not in TOKEN_CIPHERS:
            raise self._refuse(operation, Text("no such content cipher", "不支持该内容加密算法"))
        if wrap == "sm2" and self._sm2:
            try:
                blob = ecc_cipher_blob(wrapped)
            except SkfBlobError as exc:
                raise WrongKeyError(str(exc)) from None
        elif wrap == PKCS1V15 and not self._sm2:
            blob = wrapped
        else:
            raise self._refuse(
                operation, Text("the key is not wrapped for this key", "内容密钥的封装方式与该密钥不符")
            )
        chunk = self._source.max_chunk
        handle = self._source.run(
            lambda container: self._source.library.import_session_key(container, ALGORITHM_IDS[cipher], blob),
            operation,
            unwrapping=True,
        )
        return SkfContentKey(self._source, handle, cipher, chunk)


class SkfContentKey(TokenContentKey):
    """A content key imported into the SKF token; destroyed by :meth:`close` (``SKF_CloseHandle``)."""

    def __init__(self, source: SkfSource, handle: HANDLE, cipher: str, max_chunk: int) -> None:
        self._source = source
        self._handle: HANDLE | None = handle
        self.cipher = cipher
        self.max_chunk = max_chunk
        source.track(self, open_=True)

    def _key(self) -> HANDLE:
        if self._handle is None:
            raise TokenError("the content key on the token is closed", source=self._source.description)
        return self._handle

    def decryptor(self, iv: bytes) -> TokenDecryptor:
        """Start a CBC decryption with *iv* on the token (no padding removed)."""
        if len(iv) != _BLOCK:
            raise ValueError("a CBC IV has 16 bytes")
        self._source.call(
            lambda: self._source.library.decrypt_init(self._key(), iv), self._source.where("decrypt")
        )
        return SkfDecryptor(self)

    def close(self) -> None:
        """Destroy the key on the token (idempotent; a removed token has lost it anyway)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._source.track(self, open_=False)
            with contextlib.suppress(SkfCallError, BidcryptError):
                self._source.call(lambda: self._source.library.close_handle(handle), self._source.where())


class SkfDecryptor(TokenDecryptor):
    """One CBC decryption on the token: ``SKF_DecryptUpdate`` per chunk, ``SKF_DecryptFinal`` at the end."""

    def __init__(self, key: SkfContentKey) -> None:
        self._key = key

    def update(self, data: bytes) -> bytes:
        """Decrypt whole blocks, at most :attr:`SkfContentKey.max_chunk` bytes."""
        if len(data) % _BLOCK or len(data) > self._key.max_chunk:
            raise ValueError(f"the token decrypts whole blocks of at most {self._key.max_chunk} bytes")
        source = self._key._source
        return source.call(
            lambda: source.library.decrypt_update(self._key._key(), data), source.where("decrypt")
        )

    def finalize(self) -> bytes:
        """End the decryption; the bytes the token still held."""
        source = self._key._source
        return source.call(lambda: source.library.decrypt_final(self._key._key()), source.where("decrypt"))


__all__ = ["ALGORITHM_IDS", "SkfContentKey", "SkfDecryptor", "SkfEntry"]
