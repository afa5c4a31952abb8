"""Full re-encryption: decrypt with the old key and encrypt again under a fresh content key.

:func:`~bidcrypt.envelope.reencrypt` is a key rewrap: the content key and
the ciphertext stay as they were, and only the RecipientInfos change. That
is enough after a renewal or a change of UKey, but not after a key was lost
or compromised (补办 after a theft): whoever holds the old key and an old
copy of the file can still unwrap the content key, and that key still
opens the re-issued file. :func:`reencrypt_fresh` closes that gap: the
content is decrypted with the old key and encrypted again, streaming,
under a new random content key (and a new IV or nonce), wrapped to every
recipient anew. The cipher, the content type and the authenticated
attributes are kept (the attributes are authenticated again by the new
GCM tag); the old tag is checked at the end of the decryption, and the
output appears only when both have completed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, BinaryIO

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding

from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._stream import (
    DEFAULT_CHUNK_SIZE,
    ContentReader,
    KeyMaterial,
    _gcm,
    _gcm_key,
    cbc_decryptor,
)
from bidcrypt.envelope.builder import EnvelopeBuilder
from bidcrypt.envelope.header import Attribute, EnvelopeHeader, read_header
from bidcrypt.envelope.opening import Keys, no_padding_oracle, unwrap_content_key
from bidcrypt.envelope.recipients import Recipient
from bidcrypt.envelope.reencrypt import ReencryptResult, opened
from bidcrypt.errors import IntegrityError, PaddingError
from bidcrypt.files import PathArg, as_path, atomic_output, check_output, input_error

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore

_BLOCK = 16


class PlaintextReader:
    """The plaintext of an envelope's content, decrypted chunk by chunk as it is read.

    A binary stream with ``readinto``: what the envelope builder reads from.
    The GCM tag (or the CBC padding) is checked when the end is reached:
    the read that would return the last bytes raises
    :class:`~bidcrypt.errors.IntegrityError` (or
    :class:`~bidcrypt.errors.PaddingError`) instead, so whatever consumed
    the plaintext must be discarded unless the reading ended normally.
    Memory: one chunk of ciphertext and one of plaintext. With a key held
    by a token, the token decrypts (see :mod:`bidcrypt.envelope._token_cbc`).
    """

    def __init__(
        self, stream: BinaryIO, header: EnvelopeHeader, key: KeyMaterial, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self._content = ContentReader(stream, header)
        self._mac = header.mac
        aead = header.cipher.cipher.is_aead
        self._gcm = _gcm(header.cipher, _gcm_key(key)).decryptor() if aead else None
        if self._gcm is not None and header.aad:
            self._gcm.authenticate_additional_data(header.aad)
        self._cbc = None if self._gcm is not None else cbc_decryptor(header.cipher, key)
        self._unpadder = None if self._gcm is not None else padding.PKCS7(_BLOCK * 8).unpadder()
        self._buffer = bytearray(min(chunk_size, max(header.content.length, _BLOCK)))
        self._pending = b""
        self._offset = 0
        self._done = False

    def readinto(self, view: memoryview | bytearray) -> int:
        """Fill *view* with the next plaintext bytes (fewer at a chunk's end); 0 at the verified end."""
        while self._offset >= len(self._pending):
            if self._done:
                return 0
            self._pending, self._offset = self._next(), 0
        count = min(len(view), len(self._pending) - self._offset)
        view[:count] = self._pending[self._offset : self._offset + count]
        self._offset += count
        return count

    def _next(self) -> bytes:
        count = self._content.readinto(memoryview(self._buffer))
        if not count:
            self._done = True
            return self._finish()
        chunk = memoryview(self._buffer)[:count]
        if self._gcm is not None:
            return self._gcm.update(chunk)
        assert self._cbc is not None and self._unpadder is not None
        return self._unpadder.update(self._cbc.update(chunk))

    def _finish(self) -> bytes:
        if self._gcm is not None:
            assert self._mac is not None
            try:
                self._gcm.finalize_with_tag(self._mac)
            except InvalidTag as exc:
                raise IntegrityError() from exc
            return b""
        assert self._cbc is not None and self._unpadder is not None
        try:
            self._cbc.finalize()
            return self._unpadder.finalize()
        except ValueError as exc:
            raise PaddingError() from exc


def reencrypt_fresh(
    source: PathArg,
    output: PathArg | None,
    keys: Keys,
    recipients: Sequence[Recipient | x509.Certificate],
    *,
    force: bool = False,
    at: dt.datetime | None = None,
    trust: TrustStore | None = None,
    unauthenticated_attributes: Sequence[Attribute] | None = None,
    reserve: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    check: Callable[[EnvelopeHeader], None] | None = None,
    certificates: Sequence[x509.Certificate] = (),
) -> ReencryptResult:
    """Write *output*: the content of *source* encrypted again under a fresh content key to *recipients*.

    *recipients* are all of them: nothing of the old RecipientInfos can be
    kept, since they wrap the old key. *keys* must open *source*. The
    cipher, the inner content type and the authenticated attributes are
    kept; *unauthenticated_attributes* replaces the unauthenticated ones
    (None keeps them). The output is indefinite-length BER in segments of
    *chunk_size*, with *reserve* bytes of room before the ciphertext (for a
    later re-encryption in place). Memory stays flat for any size, and the
    output appears only after the old content has verified and the new one
    is complete: a damaged *source* leaves nothing behind.

    With *output* None, *source* itself is replaced (a new file renamed over
    it, under the lock of :func:`~bidcrypt.envelope.reencrypt`; the
    ciphertext changes, so this costs a full decryption and encryption).
    *check* is called with the header of *source* before anything is
    written; *certificates* helps the unwrap (see
    :func:`~bidcrypt.envelope.unwrap_content_key`).
    """
    source = as_path(source)
    output = None if output is None else as_path(output)
    new = [r if isinstance(r, Recipient) else Recipient(r) for r in recipients]
    if not new:
        raise ValueError("re-encryption needs at least one recipient")
    if output is not None:
        check_output(output, force)
    target = source if output is None else output
    with opened(source, in_place=output is None) as (stream, _):
        header = read_header(stream)
        content_key = unwrap_content_key(header, keys, certificates=certificates)
        with content_key:  # a key imported into a token is destroyed there at the end
            if check is not None:
                check(header)
            builder = _builder(header, new, at, trust, unauthenticated_attributes, reserve, chunk_size)
            with atomic_output(target, force=force or output is None) as sink:
                plaintext = PlaintextReader(stream, header, content_key.key, chunk_size)
                with no_padding_oracle(header, content_key):
                    try:
                        builder.encrypt(plaintext, sink)  # type: ignore[arg-type]
                    except OSError as exc:
                        raise input_error(exc, source) from exc
    return ReencryptResult(
        output=target,
        opened_recipient=content_key.recipient_index,
        recipients=tuple(r.describe() for r in new),
        kept=0,
        envelope_size=target.stat().st_size,
        fresh_key=True,
    )


def _builder(
    header: EnvelopeHeader,
    recipients: list[Recipient],
    at: dt.datetime | None,
    trust: TrustStore | None,
    unauthenticated: Sequence[Attribute] | None,
    reserve: int,
    chunk_size: int,
) -> EnvelopeBuilder:
    """A builder for the same kind of envelope as *header* (cipher, content type, attributes)."""
    builder = (
        EnvelopeBuilder()
        .set_cipher(header.cipher.cipher)
        .set_content_type(header.inner_content_type)
        .set_chunk_size(chunk_size)
        .set_reserve(reserve)
    )
    if at is not None:
        builder = builder.set_validation_time(at)
    builder = builder.set_trust_store(trust)
    for recipient in recipients:
        builder = builder.add_recipient(recipient)
    for attribute in header.authenticated_attributes:
        if attribute.oid != alg.CONTENT_TYPE_ATTRIBUTE:  # the builder writes it, for the same content type
            builder = builder.add_authenticated_attribute(attribute.oid, *attribute.values)
    kept = header.unauthenticated_attributes if unauthenticated is None else unauthenticated
    for attribute in kept:
        builder = builder.add_unauthenticated_attribute(attribute.oid, *attribute.values)
    return builder
