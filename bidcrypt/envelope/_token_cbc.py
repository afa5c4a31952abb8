"""CBC decryption on a token: a content key imported into the UKey, the content fed to it chunk by chunk.

A token without a private-key decryption (an SKF UKey on the standard path)
never hands out the content key: it is imported into the token
(:meth:`~bidcrypt.keys.KeyEntry.import_content_key`) and the content
decrypted there. :class:`TokenCbcDecryptor` puts a
:class:`~bidcrypt.keys.TokenDecryptor` behind the two calls the streaming
code makes of a ``cryptography`` CBC decryptor (``update_into`` /
``update`` and ``finalize``), so the same loop, with the same PKCS#7
check in software, serves both: whole blocks go to the token, at most
:attr:`~bidcrypt.keys.TokenContentKey.max_chunk` bytes a call; a trailing
part block is kept for the next call, and one still left at the end fails
like a software decryption of a ciphertext whose length is no multiple of
the block (``ValueError``, which the callers turn into
:class:`~bidcrypt.errors.PaddingError`). Memory: one chunk.
"""

from __future__ import annotations

from bidcrypt.errors import TokenError
from bidcrypt.i18n import Text
from bidcrypt.keys import TokenContentKey, TokenDecryptor

_BLOCK = 16


class TokenCbcDecryptor:
    """A CBC decryption running on the token, with the calls of a ``cryptography`` decryptor."""

    def __init__(self, key: TokenContentKey, iv: bytes, source: str = "UKey") -> None:
        self._decryptor: TokenDecryptor = key.decryptor(iv)
        self._chunk = max(_BLOCK, key.max_chunk - key.max_chunk % _BLOCK)
        self._source = source
        self._partial = b""
        self._fed = 0
        self._returned = 0

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Decrypt the whole blocks of what was kept plus *data* on the token; keep a trailing part block."""
        pending = memoryview(self._partial + bytes(data)) if self._partial else memoryview(data)
        whole = len(pending) - len(pending) % _BLOCK
        pieces = []
        for start in range(0, whole, self._chunk):
            piece = bytes(pending[start : min(start + self._chunk, whole)])
            self._fed += len(piece)
            pieces.append(self._checked(self._decryptor.update(piece)))
        self._partial = bytes(pending[whole:])
        return b"".join(pieces)

    def update_into(self, data: bytes | bytearray | memoryview, out: bytearray | memoryview) -> int:
        """:meth:`update`, written into *out* (which holds at least ``len(data) + 15`` bytes)."""
        plain = self.update(data)
        out[: len(plain)] = plain
        return len(plain)

    def finalize(self) -> bytes:
        """End the decryption on the token; ``ValueError`` when a part block is left (no valid CBC)."""
        rest = self._checked(self._decryptor.finalize())
        if self._returned != self._fed:
            raise self._mismatch()
        if self._partial:
            raise ValueError("the ciphertext is no whole number of blocks")
        return rest

    def _checked(self, plain: bytes) -> bytes:
        self._returned += len(plain)
        if self._returned > self._fed:
            raise self._mismatch()
        return plain

    def _mismatch(self) -> TokenError:
        return TokenError(
            Text(
                "the token returned {returned} bytes of plaintext for {fed} bytes of ciphertext",
                "U-KEY 对 {fed} 字节密文返回了 {returned} 字节明文",
                returned=self._returned,
                fed=self._fed,
            ),
            source=self._source,
        )
