"""Opening envelopes: unwrap the content key on the key source, decrypt the content in software.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

from cryptography import x509

from bidcrypt import certs
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._files import open_envelope
from bidcrypt.envelope._stream import DEFAULT_CHUNK_SIZE, decrypt_into
from bidcrypt.envelope.header import EnvelopeHeader, RecipientsPart, read_header
from bidcrypt.envelope.recipients import EnvelopeRecipient, compatible, unwrap
from bidcrypt.errors import (
    BidcryptError,
    IntegrityError,
    KeyNotFoundError,
    MalformedEnvelopeError,
    MechanismUnsupportedError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.files import atomic_output, check_output, input_error
from bidcrypt.i18n import pick
from bidcrypt.keys import KeyEntry, KeySource, KeyTransport

Keys = KeySource | KeyEntry | Sequence[KeyEntry]
"""What can open an envelope: a key source, one of its entries, or a list of entries."""


@dataclass(frozen=True)
class ContentKey:
    """An unwrapped content-encryption key and which recipient and key it came from.

    Plain data (picklable), to hand to a worker process with the header.
    """

    key: bytes = field(repr=False)
    cipher: alg.ContentCipher
    #: Index of the RecipientInfo that was opened.
    recipient_index: int
    #: The key source entry used: ``source:label``.
    entry: str
    #: The subject of the certificate of that entry.
    subject: str


@dataclass(frozen=True)
class DecryptResult:
    """What a decryption produced."""

    output: Path | None
    plaintext_size: int
    cipher: alg.ContentCipher
    recipient_index: int
    subject: str


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


#: How many plaintext bytes :func:`test_open` returns.
PREFIX_LENGTH = 4096


def _entries(keys: Keys) -> list[KeyEntry]:
    if isinstance(keys, KeySource):
        return keys.entries()
    if isinstance(keys, KeyEntry):
        return [keys]
    return list(keys)


def _describe_entry(entry: KeyEntry) -> str:
    return f"{entry.source}:{entry.label}"


def _wrong_key(header: EnvelopeHeader | RecipientsPart, entries: Sequence[KeyEntry]) -> WrongKeyError:
    wanted = "; ".join(r.rid.describe() for r in header.recipients if r.rid) or "-"
    held = "; ".join(
        f"{certs.display_name(e.certificate)} (SKI {certs.subject_key_identifier(e.certificate).hex()})"
        for e in entries
    )
    return WrongKeyError(
        pick(
            f"encrypted to {wanted}; the key source holds {held or 'no certificate'}",
            f"加密给：{wanted}；密钥源中的证书：{held or '无'}",
        )
    )


def candidates(
    header: EnvelopeHeader | RecipientsPart, entries: Sequence[KeyEntry]
) -> list[tuple[EnvelopeRecipient, KeyEntry]]:
    """The (recipient, key) pairs worth trying, best first.

    First every recipient whose identifier names an entry's certificate or
    its public key (SKI, issuer and serial, or a key identifier computed
    from the key); then, when none does, each encryption-certificate entry
    against each recipient of the same key type and size, so a recipient
    named by the issuer and serial of an older certificate of the same key
    still opens.
    """
    named = [
        (recipient, entry)
        for recipient in header.recipients
        for entry in entries
        if recipient.rid is not None and recipient.rid.matches(entry.certificate)
    ]
    if named:
        return named
    return [
        (recipient, entry)
        for recipient in header.recipients
        for entry in entries
        if certs.Purpose.ENCRYPTION in certs.purposes(entry.certificate)
        and compatible(recipient, entry.certificate)
    ]


def unwrap_content_key(header: EnvelopeHeader | RecipientsPart, keys: Keys) -> ContentKey:
    """Unwrap the content key with the first key of *keys* that opens a recipient.

    One private-key operation per pair tried (usually exactly one). Raises
    :class:`WrongKeyError` when no key opens any recipient (saying whom the
    file was encrypted to), :class:`MechanismUnsupportedError` when the only
    matching key cannot do the key transport used, and the key source's
    errors (PIN, token) as they come.
    """
    entries = _entries(keys)
    pairs = candidates(header, entries)
    remembered: BidcryptError | None = None
    for recipient, entry in pairs:
        try:
            if not entry.has_private_key:
                remembered = remembered or KeyNotFoundError(
                    what=pick("private key", "私钥"), ref=_describe_entry(entry)
                )
                continue
            key = unwrap(recipient, entry, header.cipher.cipher)
        except WrongKeyError:
            continue
        except (MechanismUnsupportedError, UnsupportedAlgorithmError) as exc:
            remembered = exc
            continue
        return ContentKey(
            key=key,
            cipher=header.cipher.cipher,
            recipient_index=recipient.index,
            entry=_describe_entry(entry),
            subject=certs.display_name(entry.certificate),
        )
    if remembered is not None:
        raise remembered
    raise _wrong_key(header, entries)


def matching_recipients(header: EnvelopeHeader, certificate: x509.Certificate) -> list[EnvelopeRecipient]:
    """The recipients of *header* named by *certificate* or its public key (no private key needed)."""
    return [r for r in header.recipients if r.rid is not None and r.rid.matches(certificate)]


@contextmanager
def _source_stream(source: Path | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(source, Path):
        with open_envelope(source) as stream:
            yield stream
    else:
        yield source


def _check_same(stream: BinaryIO, header: EnvelopeHeader) -> None:
    size = stream.seek(0, io.SEEK_END)
    if size != header.size:
        raise MalformedEnvelopeError(
            pick("the file changed since its header was read", "读取文件头后文件已被改变")
        )


@contextmanager
def _no_padding_oracle(header: EnvelopeHeader, content_key: ContentKey) -> Iterator[None]:
    """After a PKCS#1 v1.5 unwrap, a failed integrity check reads as a wrong key.

    With PKCS#1 v1.5 a wrong key or a bad padding may still yield a key (the
    implicit rejection of OpenSSL 3.2+), which then fails the tag or the CBC
    padding. Reporting "altered" in that case and "wrong key" otherwise would
    tell an attacker whether the padding was valid (Bleichenbacher), so every
    failure after such an unwrap is the same :class:`WrongKeyError`, saying
    that the file may also have been altered.
    """
    try:
        yield
    except IntegrityError as exc:
        recipient = next((r for r in header.recipients if r.index == content_key.recipient_index), None)
        if recipient is not None and recipient.key_transport is KeyTransport.PKCS1V15:
            raise WrongKeyError(
                pick("or the file was altered", "或文件已被篡改")
            ) from exc  # one error for both
        raise


def decrypt_content(
    source: Path | BinaryIO,
    header: EnvelopeHeader,
    content_key: ContentKey,
    output: Path,
    *,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    durable: bool = True,
) -> DecryptResult:
    """Decrypt the content of the envelope *source* (a path, or the stream the header came from) to *output*.

    *output* appears only once the content has verified; it is readable by
    its owner only. Raises :class:`~bidcrypt.errors.IntegrityError` when the
    file was altered, :class:`~bidcrypt.errors.OutputExistsError` when
    *output* exists (unless *force*).
    """
    check_output(output, force)
    if content_key.cipher is not header.cipher.cipher:
        raise ValueError("the content key is for another cipher")
    with (
        _source_stream(source) as stream,
        atomic_output(output, force=force, private=True, durable=durable) as sink,
    ):
        _check_same(stream, header)
        try:
            with _no_padding_oracle(header, content_key):
                size = decrypt_into(stream, header, content_key.key, sink, chunk_size=chunk_size)
        except OSError as exc:
            raise input_error(exc, getattr(stream, "name", "-")) from exc
    return DecryptResult(output, size, header.cipher.cipher, content_key.recipient_index, content_key.subject)


def decrypt_file(
    source: Path, output: Path, keys: Keys, *, force: bool = False, durable: bool = True
) -> DecryptResult:
    """Open the envelope *source* (DER, BER or PEM) with *keys* and write the plaintext to *output*."""
    check_output(output, force)
    with open_envelope(source) as stream:
        header = read_header(stream)
        content_key = unwrap_content_key(header, keys)
        return decrypt_content(stream, header, content_key, output, force=force, durable=durable)


def decrypt_bytes(data: bytes, keys: Keys) -> bytes:
    """Open an envelope held in memory; the plaintext is returned only once it has verified."""
    stream = io.BytesIO(data)
    header = read_header(stream)
    content_key = unwrap_content_key(header, keys)
    sink = io.BytesIO()
    with _no_padding_oracle(header, content_key):
        decrypt_into(stream, header, content_key.key, sink)
    return sink.getvalue()


class _Prefix:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += bytes(data[:room])
        return len(data)


def authenticate_content(source: Path | BinaryIO, header: EnvelopeHeader, content_key: ContentKey) -> int:
    """Decrypt the whole content and check its tag (or padding) without keeping any plaintext.

    The cipher work of an opening with nothing written: for checking a
    package, and for measuring decryption alone. Returns the plaintext length.
    """
    with _source_stream(source) as stream:
        _check_same(stream, header)
        with _no_padding_oracle(header, content_key):
            return decrypt_into(stream, header, content_key.key, _Prefix(0))


def test_open(source: Path, keys: Keys, *, full: bool = False) -> TestOpenResult:
    """Check that *keys* can open the envelope *source*, writing no plaintext anywhere.

    Unwraps the content key (one private-key operation) and decrypts the
    first chunk, returning its first bytes so the caller can check what the
    content should start with. GCM authenticates the whole content at its
    end only, so with *full* the whole content is decrypted (in memory,
    chunk by chunk, then discarded) and the tag or padding verified.
    """
    with open_envelope(source) as stream:
        header = read_header(stream)
        content_key = unwrap_content_key(header, keys)
        prefix = _Prefix(PREFIX_LENGTH)
        with _no_padding_oracle(header, content_key):
            decrypt_into(stream, header, content_key.key, prefix, limit=None if full else 1)
    return TestOpenResult(
        recipient_index=content_key.recipient_index,
        subject=content_key.subject,
        cipher=header.cipher.cipher,
        prefix=bytes(prefix.data),
        verified=full,
    )


test_open.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
