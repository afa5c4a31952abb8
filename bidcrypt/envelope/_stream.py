"""The streaming core: content encryption into an envelope, content decryption out of one.

Memory is two buffers of the chunk size whatever the file size. The bulk
work is cryptography's AES or SM4 (OpenSSL underneath) over whole chunks with
``update_into``, so Python runs a few calls per MiB.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from asn1crypto import cms
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._align import padding as empty_segments
from bidcrypt.envelope._segments import iter_segments
from bidcrypt.envelope._token_cbc import TokenCbcDecryptor
from bidcrypt.envelope.header import EnvelopeHeader
from bidcrypt.errors import InputError, IntegrityError, PaddingError
from bidcrypt.files import ByteProgress, Sink
from bidcrypt.i18n import Text
from bidcrypt.keys import TokenContentKey

#: Default chunk: 1 MiB of plaintext per OCTET STRING segment and per cipher call.
DEFAULT_CHUNK_SIZE = 1 << 20
#: Largest chunk accepted.
MAX_CHUNK_SIZE = 64 << 20
_BLOCK = 16
#: Buffer pairs kept per thread (one per envelope being read or written at the same time).
_MAX_SPARES = 2
#: Larger buffers (a chunk size chosen by the caller) are not kept.
_MAX_SPARE_SIZE = DEFAULT_CHUNK_SIZE + 2 * _BLOCK


@dataclass(frozen=True)
class EnvelopePlan:
    """Everything needed to write one envelope except the content."""

    cipher: alg.CipherParameters
    content_key: bytes = field(repr=False)
    #: The DER RecipientInfos SET.
    recipient_infos: bytes
    inner_content_type: str
    #: The ``[1] IMPLICIT`` authAttrs element, or empty.
    auth_attrs: bytes
    #: The AAD (authAttrs with the SET OF tag), or empty.
    aad: bytes
    #: Definite lengths (DER, needs the size up front) or indefinite (BER, chunked).
    definite: bool
    chunk_size: int = DEFAULT_CHUNK_SIZE
    originator_info: bytes = b""
    #: The unauthAttrs ``[2]`` (AuthEnvelopedData) or unprotectedAttrs ``[1]`` (EnvelopedData), or empty.
    unauth_attrs: bytes = b""
    #: Bytes of empty segments before the ciphertext (BER only): room for re-encryption in place.
    reserve: int = 0

    @property
    def version(self) -> int:
        """The (Auth)EnvelopedData version of RFC 5652 section 6.1 / RFC 5083."""
        if self.cipher.cipher.is_aead:
            return 0
        if self.cipher.cipher.is_gm:
            return alg.GM_ENVELOPED_DATA_VERSION
        return enveloped_data_version(self.recipient_infos, bool(self.originator_info or self.unauth_attrs))


def enveloped_data_version(recipient_infos: bytes, extras: bool) -> int:
    """EnvelopedData version: 0 when every recipient is a version-0 KeyTransRecipientInfo and
    there is no originatorInfo nor unprotectedAttrs (*extras*), else 2.

    (Versions 3 and 4, for password/other recipients and other certificate
    formats in originatorInfo, are never written by bidcrypt.)
    """
    with _asn1.parsing("recipient infos"):  # lazily: a kept recipient of another kind is not looked into
        infos = cms.RecipientInfos.load(recipient_infos, strict=True)
        simple = all(info.name == "ktri" and int(info.chosen["version"]) == 0 for info in infos)
    return 0 if simple and not extras else 2


def ciphertext_length(cipher: alg.ContentCipher, plaintext_length: int) -> int:
    """How long the encrypted content of *plaintext_length* bytes is."""
    if cipher.is_aead:
        return plaintext_length
    return (plaintext_length // _BLOCK + 1) * _BLOCK


def _gcm(parameters: alg.CipherParameters, key: bytes) -> Cipher[modes.GCM]:
    return Cipher(algorithms.AES(key), modes.GCM(parameters.iv, min_tag_length=parameters.tag_length))


def _cbc(parameters: alg.CipherParameters, key: bytes) -> Cipher[modes.CBC]:
    block = algorithms.SM4(key) if parameters.cipher.is_gm else algorithms.AES(key)
    return Cipher(block, modes.CBC(parameters.iv))


#: A content key: its bytes, or a key imported into a token that never leaves it.
KeyMaterial = bytes | TokenContentKey


def cbc_decryptor(parameters: alg.CipherParameters, key: KeyMaterial) -> CipherContext | TokenCbcDecryptor:
    """A CBC decryptor of *parameters*: in software, or on the token that holds *key*."""
    if isinstance(key, TokenContentKey):
        if key.cipher != parameters.cipher.value:
            raise ValueError("the token's content key is for another cipher")
        return TokenCbcDecryptor(key, parameters.iv)
    return _cbc(parameters, key).decryptor()


def _gcm_key(key: KeyMaterial) -> bytes:
    if isinstance(key, TokenContentKey):  # unwrapping never imports a key for GCM content
        raise ValueError("GCM content cannot be decrypted on a token")
    return key


def _read_full(source: BinaryIO, view: memoryview) -> int:
    filled = 0
    while filled < len(view):
        got = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return int(filled)


def write_envelope(
    plan: EnvelopePlan,
    source: BinaryIO,
    sink: Sink,
    size: int | None,
    progress: ByteProgress | None = None,
) -> int:
    """Encrypt *source* into a ContentInfo written to *sink*; return the bytes of plaintext.

    With ``plan.definite`` the whole envelope is DER and *size* (the exact
    plaintext length) is required; otherwise it is indefinite-length BER
    with one OCTET STRING segment per chunk. *progress* is told the
    plaintext bytes read after each chunk, against *size*.
    """
    cipher = plan.cipher.cipher
    content_type = der.oid(cipher.content_type)
    version = der.integer(plan.version)
    eci_prefix = der.oid(plan.inner_content_type) + plan.cipher.encode()
    trailer_length = (
        len(plan.auth_attrs) + (2 + plan.cipher.tag_length if cipher.is_aead else 0) + len(plan.unauth_attrs)
    )
    if plan.definite:
        if size is None:
            raise ValueError("a DER envelope needs the plaintext size up front")
        encrypted_length = ciphertext_length(cipher, size)
        content_header = der.header(0x80, encrypted_length)
        eci_length = len(eci_prefix) + len(content_header) + encrypted_length
        eci_header = der.header(der.TAG_SEQUENCE, eci_length)
        body_length = (
            len(version)
            + len(plan.originator_info)
            + len(plan.recipient_infos)
            + len(eci_header)
            + eci_length
            + trailer_length
        )
        body_header = der.header(der.TAG_SEQUENCE, body_length)
        explicit_header = der.header(0xA0, len(body_header) + body_length)
        info_length = len(content_type) + len(explicit_header) + len(body_header) + body_length
        sink.write(
            der.header(der.TAG_SEQUENCE, info_length)
            + content_type
            + explicit_header
            + body_header
            + version
            + plan.originator_info
            + plan.recipient_infos
            + eci_header
            + eci_prefix
            + content_header
        )
    else:
        sink.write(
            der.indefinite(der.TAG_SEQUENCE)
            + content_type
            + der.indefinite(0xA0)
            + der.indefinite(der.TAG_SEQUENCE)
            + version
            + plan.originator_info
            + plan.recipient_infos
            + der.indefinite(der.TAG_SEQUENCE)
            + eci_prefix
            + der.indefinite(0xA0)
            + empty_segments(plan.reserve)
        )

    emitted = [0]

    def emit_raw(data: memoryview) -> None:
        sink.write(data)

    def emit_segment(data: memoryview) -> None:
        if len(data):
            sink.write(der.header(der.TAG_OCTET_STRING, len(data)))
            sink.write(data)
            emitted[0] += 1

    total, tag = _encrypt_content(plan, source, emit_raw if plan.definite else emit_segment, size, progress)
    if size is not None and total != size:
        raise InputError(
            Text("the input changed size while it was being encrypted", "加密过程中输入文件的大小发生了变化"),
            path=getattr(source, "name", "-"),
        )
    if not plan.definite:
        if not emitted[0]:
            sink.write(der.octet_string(b""))
        sink.write(der.EOC + der.EOC)
    trailer = plan.auth_attrs + (der.octet_string(tag) if cipher.is_aead else b"") + plan.unauth_attrs
    sink.write(trailer if plan.definite else trailer + der.EOC * 3)
    return total


def _encrypt_content(
    plan: EnvelopePlan,
    source: BinaryIO,
    emit: Callable[[memoryview], None],
    size: int | None,
    progress: ByteProgress | None = None,
) -> tuple[int, bytes]:
    chunk = plan.chunk_size
    if size is not None:
        # Small inputs get small buffers: allocating a whole chunk costs more than the work.
        chunk = min(chunk, (size // _BLOCK + 1) * _BLOCK)
    cbc = not plan.cipher.cipher.is_aead
    gcm_encryptor = None if cbc else _gcm(plan.cipher, plan.content_key).encryptor()
    encryptor: CipherContext = gcm_encryptor or _cbc(plan.cipher, plan.content_key).encryptor()
    if gcm_encryptor is not None and plan.aad:
        gcm_encryptor.authenticate_additional_data(plan.aad)
    total = 0
    with _scratch(chunk + _BLOCK, chunk + 2 * _BLOCK) as (in_view, out_view):
        while True:
            n = _read_full(source, in_view[:chunk])
            total += n
            last = n < chunk
            if last and cbc:
                pad = _BLOCK - n % _BLOCK
                in_view[n : n + pad] = bytes([pad]) * pad
                n += pad
            written = encryptor.update_into(in_view[:n], out_view)
            emit(out_view[:written])
            if progress is not None:
                progress(total, size)
            if last:
                break
    rest = encryptor.finalize()
    if rest:
        emit(memoryview(rest))
    tag = gcm_encryptor.tag if gcm_encryptor is not None else b""
    return total, tag


#: Spare buffer pairs of this thread, reused: allocating (and faulting in) two fresh megabytes per
#: file costs more than decrypting a file of a few megabytes.
_spare = threading.local()


@contextlib.contextmanager
def _scratch(in_size: int, out_size: int) -> Iterator[tuple[memoryview, memoryview]]:
    """An input and an output buffer of at least these sizes, returned to this thread's spares after."""
    spares: list[tuple[bytearray, bytearray]] = getattr(_spare, "pairs", None) or []
    _spare.pairs = spares
    pair = spares.pop() if spares else (bytearray(), bytearray())
    if len(pair[0]) < in_size or len(pair[1]) < out_size:
        pair = (bytearray(max(in_size, len(pair[0]))), bytearray(max(out_size, len(pair[1]))))
    try:
        yield memoryview(pair[0]), memoryview(pair[1])
    finally:
        if len(spares) < _MAX_SPARES and len(pair[1]) <= _MAX_SPARE_SIZE:
            spares.append(pair)


class ContentReader:
    """The decoded bytes of an encryptedContent, primitive or constructed, read in chunks."""

    def __init__(self, stream: BinaryIO, header: EnvelopeHeader) -> None:
        self._reader = ber.StreamReader(stream, header.size, header.content.offset)
        head = self._reader.head(header.content.end)
        if not head.is_(ber.CONTEXT, 0):
            raise ber.malformed(
                Text("the file changed since its header was read", "读取文件头后文件已被改变")
            )
        self._segments = iter_segments(self._reader, head, header.content.end)
        self._remaining = 0
        self._done = False

    def readinto(self, view: memoryview) -> int:
        """Fill *view* as far as the content goes; 0 at its end."""
        filled = 0
        while filled < len(view) and not self._done:
            if self._remaining == 0:
                following = next(self._segments, None)
                if following is None:
                    self._done = True
                    break
                self._remaining = following
                continue
            take = min(self._remaining, len(view) - filled)
            self._reader.readinto_exact(view[filled : filled + take])
            filled += take
            self._remaining -= take
        return filled


def decrypt_into(
    stream: BinaryIO,
    header: EnvelopeHeader,
    content_key: KeyMaterial,
    sink: Sink,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    limit: int | None = None,
    progress: ByteProgress | None = None,
) -> int:
    """Decrypt the content of the envelope in *stream* into *sink*; return the plaintext length.

    The GCM tag or the CBC padding is checked at the end: a failed tag
    raises :class:`IntegrityError`, a wrong padding :class:`PaddingError` (a
    wrong key or a damaged file: CBC checks nothing else, and a changed
    byte before the last two blocks goes unnoticed). *content_key* is the
    key's bytes, or a CBC key imported into a token: the token then decrypts
    (whole blocks, at most its ``max_chunk`` a call) and the padding is
    checked here, the same way. *sink* must be a
    temporary place whose content is only released after this returns. With *limit*, stop after
    about that many bytes of ciphertext without checking anything (test-open).
    *progress* is told the ciphertext bytes read after each chunk, against the content's length.
    """
    reader = ContentReader(stream, header)
    aead = header.cipher.cipher.is_aead
    gcm_decryptor = _gcm(header.cipher, _gcm_key(content_key)).decryptor() if aead else None
    decryptor = gcm_decryptor or cbc_decryptor(header.cipher, content_key)
    if gcm_decryptor is not None and header.aad:
        gcm_decryptor.authenticate_additional_data(header.aad)
    unpadder = None if aead else padding.PKCS7(128).unpadder()
    chunk_size = min(chunk_size, max(header.content.length, _BLOCK))
    total = 0
    consumed = 0
    with _scratch(chunk_size, chunk_size + _BLOCK) as (in_view, out_view):
        in_view = in_view[:chunk_size]
        while True:
            n = reader.readinto(in_view)
            if not n:
                break
            consumed += n
            written = decryptor.update_into(in_view[:n], out_view)
            if unpadder is None:
                sink.write(out_view[:written])
                total += written
            else:
                plain = unpadder.update(bytes(out_view[:written]))
                sink.write(plain)
                total += len(plain)
            if progress is not None:
                progress(consumed, header.content.length)
            if limit is not None and consumed >= limit:
                return total
    if gcm_decryptor is not None:
        assert header.mac is not None
        try:
            gcm_decryptor.finalize_with_tag(header.mac)
        except InvalidTag as exc:
            raise IntegrityError() from exc
        return total
    assert unpadder is not None
    try:
        decryptor.finalize()
        tail = unpadder.finalize()
    except ValueError as exc:
        raise PaddingError() from exc
    sink.write(tail)
    return total + len(tail)
