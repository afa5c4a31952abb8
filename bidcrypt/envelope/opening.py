"""Opening envelopes: unwrap the content key on the key source, decrypt the content in software.

(A key source that never hands out content keys, an SKF UKey's standard
path, imports the key into the token instead, and the token decrypts: see
:class:`~bidcrypt.envelope.unwrapping.ContentKey`. The functions here that
unwrap a key also destroy it on the token when they are done.)

The two steps are separate on purpose. :func:`unwrap_content_key` is the
one private-key operation (on a UKey: slow, serialised on its session);
:func:`decrypt_content` needs only the header and the content key, so bulk
decryption can run in worker processes beside the token. :func:`decrypt_file`
does both for one file.

No unverified plaintext: the content is decrypted into a temporary file
beside the output, which is renamed into place only after the GCM tag (or
the CBC padding) verifies. On any failure nothing is left behind.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

from cryptography import x509

from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._files import open_envelope
from bidcrypt.envelope._stream import DEFAULT_CHUNK_SIZE, decrypt_into
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.header import EnvelopeHeader, read_header
from bidcrypt.envelope.identifiers import EnvelopeRecipient
from bidcrypt.envelope.unwrapping import ContentKey, Keys, candidates, unwrap_content_key
from bidcrypt.errors import IntegrityError, MalformedEnvelopeError, WrongKeyError
from bidcrypt.files import (
    ByteProgress,
    OutputFile,
    PathArg,
    as_path,
    atomic_output,
    check_output,
    input_error,
)
from bidcrypt.i18n import Text

__all__ = [
    "PREFIX_LENGTH",
    "ContentKey",
    "DecryptResult",
    "Keys",
    "TestOpenResult",
    "authenticate_content",
    "candidates",
    "content_prefix",
    "decrypt_bytes",
    "decrypt_content",
    "decrypt_file",
    "matching_recipients",
    "pkcs1v15_failure",
    "test_open",
    "unwrap_content_key",
]


@dataclass(frozen=True)
class DecryptResult:
    """What a decryption produced."""

    output: Path | None
    plaintext_size: int
    cipher: alg.ContentCipher
    recipient_index: int
    subject: str
    #: True when the content was authenticated (AES-GCM: its tag verified, so it is exactly what was
    #: encrypted). False for AES-CBC, which has no integrity check: a changed ciphertext byte changes
    #: the plaintext and nothing notices; only the padding at the end is checked.
    authenticated: bool = False


@dataclass(frozen=True)
class TestOpenResult:
    """The outcome of a test-open: the key unwrapped, the content began to decrypt."""

    __test__: ClassVar[bool] = False  # a result, not a pytest test class

    recipient_index: int
    subject: str
    cipher: alg.ContentCipher
    #: The first bytes of plaintext (at most :data:`PREFIX_LENGTH`), e.g. to check a file signature.
    prefix: bytes = field(repr=False)
    #: True when the whole content was decrypted and its tag (or padding) verified.
    verified: bool
    #: True when the whole content was authenticated: verified, and AES-GCM (see :class:`DecryptResult`).
    authenticated: bool = False


#: How many plaintext bytes :func:`test_open` returns.
PREFIX_LENGTH = 4096

#: The one message of every failure after an RSA PKCS#1 v1.5 unwrap.
_V15_EN = "RSA PKCS#1 v1.5 cannot tell a wrong key from a damaged or altered file"
_V15_ZH = "RSA PKCS#1 v1.5 密钥封装无法区分密钥错误与文件损坏或被篡改"


def pkcs1v15_failure() -> WrongKeyError:
    """The one error of every failure after an RSA PKCS#1 v1.5 unwrap (see :func:`no_padding_oracle`)."""
    return WrongKeyError(Text(_V15_EN, _V15_ZH))


def matching_recipients(header: EnvelopeHeader, certificate: x509.Certificate) -> list[EnvelopeRecipient]:
    """The recipients of *header* named by *certificate* or its public key (no private key needed)."""
    return [r for r in header.recipients if r.rid is not None and r.rid.matches(certificate)]


@contextmanager
def _source_stream(source: PathArg | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(source, (str, os.PathLike)):
        with open_envelope(source) as stream:
            yield stream
    else:
        yield source


def _check_same(stream: BinaryIO, header: EnvelopeHeader) -> None:
    size = stream.seek(0, io.SEEK_END)
    if size != header.size:
        raise MalformedEnvelopeError(
            Text("the file changed since its header was read", "读取文件头后文件已被改变")
        )


@contextmanager
def no_padding_oracle(header: EnvelopeHeader, content_key: ContentKey) -> Iterator[None]:
    """After an RSA PKCS#1 v1.5 unwrap, every failure of the content is one and the same wrong key.

    RFC 3218 section 2.3: a failed v1.5 unwrap, or one of the wrong length,
    gave a random content key (see :mod:`bidcrypt.envelope.unwrapping`),
    which fails here like a wrong key that happened to unwrap, or an
    altered file. Telling them apart would tell an attacker whether the
    padding was valid (Bleichenbacher), so all of them raise the same
    :class:`WrongKeyError` with the same text.
    """
    try:
        yield
    except IntegrityError:
        recipient = next((r for r in header.recipients if r.index == content_key.recipient_index), None)
        if recipient is not None and recipient.key_transport is KeyTransport.PKCS1V15:
            raise pkcs1v15_failure() from None  # one error, no chained detail
        raise


def decrypt_content(
    source: PathArg | BinaryIO,
    header: EnvelopeHeader,
    content_key: ContentKey,
    output: PathArg | BinaryIO,
    *,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    durable: bool = True,
    progress: ByteProgress | None = None,
) -> DecryptResult:
    """Decrypt the content of the envelope *source* (a path, or the stream the header came from) to *output*.

    A file *output* appears only once the content has verified; it is
    readable by its owner only. *output* may also be a writable binary
    stream (a buffer in memory, for a small content): it receives the
    plaintext as it is decrypted, so the caller must drop what it holds
    when this raises. Raises :class:`~bidcrypt.errors.IntegrityError` when the
    GCM tag fails (the file was altered), :class:`~bidcrypt.errors.PaddingError`
    when the CBC padding is wrong (a wrong key or a damaged file),
    :class:`WrongKeyError` for either after an RSA PKCS#1 v1.5 unwrap, and
    :class:`~bidcrypt.errors.OutputExistsError` when *output* exists (unless
    *force*). The result says whether the content was authenticated: AES-CBC
    never is. *progress* is called after each chunk with the bytes of ciphertext
    read and their total.
    """
    path = as_path(output) if isinstance(output, (str, os.PathLike)) else None
    if path is not None:
        check_output(path, force)
    if content_key.cipher is not header.cipher.cipher:
        raise ValueError("the content key is for another cipher")
    with (
        _source_stream(source) as stream,
        _sink(output, force, durable) as sink,
    ):
        _check_same(stream, header)
        try:
            with no_padding_oracle(header, content_key):
                size = decrypt_into(
                    stream, header, content_key.key, sink, chunk_size=chunk_size, progress=progress
                )
        except OSError as exc:
            raise input_error(exc, getattr(stream, "name", "-")) from exc
    return DecryptResult(
        path,
        size,
        header.cipher.cipher,
        content_key.recipient_index,
        content_key.subject,
        authenticated=header.cipher.cipher.is_aead,
    )


@contextmanager
def _sink(output: PathArg | BinaryIO, force: bool, durable: bool) -> Iterator[BinaryIO | OutputFile]:
    """A stream as it is; a path written completely or not at all, readable by its owner only."""
    if isinstance(output, (str, os.PathLike)):
        with atomic_output(output, force=force, private=True, durable=durable) as sink:
            yield sink
    else:
        yield output


def decrypt_file(
    source: PathArg,
    output: PathArg,
    keys: Keys,
    *,
    force: bool = False,
    durable: bool = True,
    certificates: Sequence[x509.Certificate] = (),
    progress: ByteProgress | None = None,
) -> DecryptResult:
    """Open the envelope *source* (DER, BER or PEM) with *keys* and write the plaintext to *output*.

    *certificates*: other certificates of the keys, for recipients named by
    the issuer and serial of a certificate the key source no longer holds
    (see :func:`~bidcrypt.envelope.unwrapping.candidates`). *progress*: see
    :func:`decrypt_content`.
    """
    source, output = as_path(source), as_path(output)
    check_output(output, force)
    with open_envelope(source) as stream:
        header = read_header(stream)
        with unwrap_content_key(header, keys, certificates=certificates) as content_key:
            return decrypt_content(
                stream, header, content_key, output, force=force, durable=durable, progress=progress
            )


def decrypt_bytes(data: bytes, keys: Keys, *, certificates: Sequence[x509.Certificate] = ()) -> bytes:
    """Open an envelope held in memory; the plaintext is returned only once it has verified."""
    stream = io.BytesIO(data)
    header = read_header(stream)
    sink = io.BytesIO()
    with (
        unwrap_content_key(header, keys, certificates=certificates) as content_key,
        no_padding_oracle(header, content_key),
    ):
        decrypt_into(stream, header, content_key.key, sink)
    return sink.getvalue()


class Prefix:
    """A sink that keeps the first *limit* bytes written to it and drops the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Keep what still fits."""
        room = self.limit - len(self.data)
        if room > 0:
            self.data += bytes(data[:room])
        return len(data)


def authenticate_content(source: PathArg | BinaryIO, header: EnvelopeHeader, content_key: ContentKey) -> int:
    """Decrypt the whole content and check its tag (or padding) without keeping any plaintext.

    The cipher work of an opening with nothing written: for checking a
    package, and for measuring decryption alone. Returns the plaintext length.
    """
    with _source_stream(source) as stream:
        _check_same(stream, header)
        with no_padding_oracle(header, content_key):
            return decrypt_into(stream, header, content_key.key, Prefix(0))


def content_prefix(
    source: PathArg | BinaryIO, header: EnvelopeHeader, content_key: ContentKey, length: int = PREFIX_LENGTH
) -> bytes:
    """The first *length* bytes of plaintext, decrypted with a key already at hand; nothing is verified.

    For checking a key someone else unwrapped (a bidder's release) before
    trusting it: the caller checks what the content must start with. Like
    :func:`test_open`, a wrong key gives random bytes rather than an error.
    """
    with _source_stream(source) as stream:
        _check_same(stream, header)
        prefix = Prefix(length)
        decrypt_into(stream, header, content_key.key, prefix, limit=1)
    return bytes(prefix.data)


def test_open(
    source: PathArg, keys: Keys, *, full: bool = False, certificates: Sequence[x509.Certificate] = ()
) -> TestOpenResult:
    """Check that *keys* can open the envelope *source*, writing no plaintext anywhere.

    Unwraps the content key (one private-key operation) and decrypts the
    first chunk, returning its first bytes so the caller can check what the
    content should start with: nothing else is checked then, and after an
    RSA PKCS#1 v1.5 unwrap a wrong key gives random bytes here rather than
    an error. GCM authenticates the whole content at its end only, so with
    *full* the whole content is decrypted (in memory, chunk by chunk, then
    discarded) and the tag or padding verified.
    """
    with open_envelope(source) as stream:
        header = read_header(stream)
        prefix = Prefix(PREFIX_LENGTH)
        with (
            unwrap_content_key(header, keys, certificates=certificates) as content_key,
            no_padding_oracle(header, content_key),
        ):
            decrypt_into(stream, header, content_key.key, prefix, limit=None if full else 1)
    return TestOpenResult(
        recipient_index=content_key.recipient_index,
        subject=content_key.subject,
        cipher=header.cipher.cipher,
        prefix=bytes(prefix.data),
        verified=full,
        authenticated=full and header.cipher.cipher.is_aead,
    )


test_open.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
