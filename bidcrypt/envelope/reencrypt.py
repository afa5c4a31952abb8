"""Re-encryption: wrap the content key to new certificates without touching the content.

After a UKey is replaced (补办) or its certificate changes (变更), an
envelope made for the old key must be re-encrypted before upload. The
content key is unwrapped once with the old key, wrapped to the new
certificates, and only the RecipientInfos are rewritten: the encrypted
content, the authenticated attributes and the GCM tag are kept byte for
byte (RFC 5083 authenticates the attributes, not the recipients).

Two ways: :func:`reencrypt` writes a new file, copying the ciphertext (a
clone of its blocks where the file system shares blocks, see
:mod:`bidcrypt.envelope._align`), or rewrites only the front and the tail
of the file itself, journalled, which costs the
same for any size on any file system, as long as the new front fits where
the old one was (an envelope made with a reserve,
:meth:`~bidcrypt.envelope.EnvelopeBuilder.set_reserve`, has the room).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography import x509

from bidcrypt.envelope import _der as der
from bidcrypt.envelope import _inplace
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._align import ContentFrame, block_size, widened_header
from bidcrypt.envelope._files import open_envelope
from bidcrypt.envelope._stream import decrypt_into, enveloped_data_version
from bidcrypt.envelope.header import Attribute, EnvelopeHeader, read_header
from bidcrypt.envelope.opening import (
    PREFIX_LENGTH,
    ContentKey,
    Keys,
    Prefix,
    no_padding_oracle,
    unwrap_content_key,
)
from bidcrypt.envelope.recipients import Recipient, check_all, check_suite
from bidcrypt.errors import InputError, IntegrityError, OutputError
from bidcrypt.files import PathArg, Sink, as_path, atomic_output, check_output, copy_range
from bidcrypt.i18n import Text

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore


@dataclass(frozen=True)
class ReencryptResult:
    """What a re-encryption produced."""

    output: Path
    #: Index of the recipient opened with the old key.
    opened_recipient: int
    recipients: tuple[str, ...]
    #: How many of the old RecipientInfos were kept.
    kept: int
    envelope_size: int
    #: True for a full re-encryption under a fresh content key
    #: (:func:`~bidcrypt.envelope.refresh.reencrypt_fresh`), False for a rewrap of the old one.
    fresh_key: bool = False


@dataclass(frozen=True)
class _Rewrite:
    """The new parts of a re-encrypted envelope, and what is kept of the old one."""

    header: EnvelopeHeader
    content_key: ContentKey
    new: list[Recipient]
    recipient_infos: bytes
    kept: int
    #: The new unauthenticated attributes element (b"" for none), or None to keep the old ones.
    unauth: bytes | None
    frame: ContentFrame

    @property
    def end(self) -> int:
        """Where the bytes kept from the old envelope end (the tail is written after them)."""
        if self.unauth is None:
            return self.header.fields_end
        return self.header.unauthenticated_attributes_offset

    @property
    def tail(self) -> bytes:
        """What follows the kept bytes: the new unauthenticated attributes, if they change."""
        return b"" if self.unauth is None else self.unauth

    def front(self, padding_size: int, widen: int = 0) -> bytes:
        """Everything before the kept bytes, with *padding_size* bytes of empty segments.

        The new parts get definite lengths, so a DER envelope stays DER;
        *widen* writes the outermost length with that many more octets than
        needed (BER), for a rewrite in place that must fill its room exactly.
        """
        header = self.header
        originator = header.originator_info or b""
        version = header.version
        if not header.is_authenticated and header.content_type != alg.GM_ENVELOPED_DATA:
            extras = bool(originator) or bool(
                header.unauthenticated_attributes if self.unauth is None else self.unauth
            )
            version = max(version, enveloped_data_version(self.recipient_infos, extras))
        moved = self.frame.encode(padding_size)
        body = der.integer(version) + originator + self.recipient_infos + moved
        length = len(body) + (self.end - self.frame.copy_from) + len(self.tail)
        body_header = der.header(der.TAG_SEQUENCE, length)
        explicit = der.header(0xA0, len(body_header) + length)
        content_type = der.oid(header.content_type)
        info_length = len(content_type) + len(explicit) + len(body_header) + length
        return (
            widened_header(der.TAG_SEQUENCE, info_length, widen)
            + content_type
            + explicit
            + body_header
            + body
        )

    def result(self, output: Path, size: int) -> ReencryptResult:
        return ReencryptResult(
            output=output,
            opened_recipient=self.content_key.recipient_index,
            recipients=tuple(r.describe() for r in self.new),
            kept=self.kept,
            envelope_size=size,
        )


def _prepare(
    stream: BinaryIO,
    keys: Keys,
    recipients: Sequence[Recipient | x509.Certificate],
    *,
    keep_others: bool,
    verify: bool,
    at: dt.datetime | None,
    trust: TrustStore | None,
    unauthenticated_attributes: Sequence[Attribute] | None,
    plausible: Callable[[bytes], bool] | None = None,
    certificates: Sequence[x509.Certificate] = (),
) -> _Rewrite:
    """Read the envelope in *stream*, unwrap its content key with *keys* and wrap it to *recipients*."""
    new = [r if isinstance(r, Recipient) else Recipient(r) for r in recipients]
    if not new and not keep_others:
        raise ValueError("re-encryption needs at least one recipient")
    check_all(new, at, trust)
    header = read_header(stream)
    check_suite(header.cipher.cipher, new)
    with (
        unwrap_content_key(header, keys, certificates=certificates) as content_key,
        no_padding_oracle(header, content_key),
    ):
        key = content_key.exportable()  # a rewrap needs the key: a token that keeps it cannot
        if verify:
            decrypt_into(stream, header, key, Prefix(0))
        elif plausible is not None:
            prefix = Prefix(PREFIX_LENGTH)
            decrypt_into(stream, header, key, prefix, limit=1)
            if not plausible(bytes(prefix.data)):
                raise IntegrityError(
                    Text("the content does not begin as it should", "加密内容的开头与预期不符")
                )
    infos = [recipient.wrap(key) for recipient in new]
    unauth = None
    if unauthenticated_attributes is not None:
        encoded = sorted(attribute.encode() for attribute in unauthenticated_attributes)
        unauth = der.context(2 if header.is_authenticated else 1, b"".join(encoded)) if encoded else b""
    replaced = {content_key.recipient_index} | {
        r.index
        for r in header.recipients
        if r.rid is not None and any(r.rid.matches(n.certificate) for n in new)
    }
    kept = [raw for index, raw in enumerate(header.recipient_infos) if keep_others and index not in replaced]
    return _Rewrite(
        header=header,
        content_key=content_key,
        new=new,
        recipient_infos=der.set_of([*infos, *kept]),
        kept=len(kept),
        unauth=unauth,
        frame=ContentFrame.read(stream, header),
    )


def reencrypt(
    source: PathArg,
    output: PathArg | None,
    keys: Keys,
    recipients: Sequence[Recipient | x509.Certificate],
    *,
    keep_others: bool = False,
    force: bool = False,
    verify: bool = True,
    at: dt.datetime | None = None,
    trust: TrustStore | None = None,
    unauthenticated_attributes: Sequence[Attribute] | None = None,
    reserve: int = 0,
    check: Callable[[EnvelopeHeader], None] | None = None,
    plausible: Callable[[bytes], bool] | None = None,
    certificates: Sequence[x509.Certificate] = (),
) -> ReencryptResult:
    """Write *output*: the envelope *source* re-wrapped to *recipients*, its content untouched.

    *keys* must open *source* (the old UKey). With *keep_others*, the
    RecipientInfos of *source* other than the one opened and those of the
    new certificates (for example the opening authority's) are kept as they
    are. With *verify* (the default) the content is first decrypted in
    memory and its tag or padding checked, so a damaged envelope is never
    re-issued. The new certificates are checked like
    :class:`~bidcrypt.envelope.EnvelopeBuilder` checks them.
    *unauthenticated_attributes* replaces the unauthAttrs / unprotectedAttrs
    (None keeps them as they are; an empty sequence removes them). A BER
    output keeps at least *reserve* bytes of room before the ciphertext,
    for a later re-encryption in place. *check* is called with the header
    of *source* before anything is written.

    Without *verify*, nothing proves that the key unwrapped is the right
    one; with RSA PKCS#1 v1.5 a wrong key gives a random one rather than an
    error (RFC 3218), which would be wrapped to the new certificates. Give
    *plausible*, a test of the first bytes of plaintext (a known file
    signature), so that costs one chunk of decryption. *certificates*: see
    :func:`~bidcrypt.envelope.unwrap_content_key`.

    With *output* None, *source* itself is changed, in place: the new front
    takes exactly the room of the old one (the empty segments before the
    ciphertext make up the difference) and the ciphertext is not written at
    all, so the cost does not depend on the size. When the new front does
    not fit, :class:`~bidcrypt.errors.OutputError` says so and the file is
    unchanged. The change is journalled: an interrupted run is undone by
    the next one (or by :func:`recover_in_place`). A PEM file cannot be
    changed in place.
    """
    source = as_path(source)
    output = None if output is None else as_path(output)
    if output is not None:
        check_output(output, force)
    with opened(source, in_place=output is None) as (stream, descriptor):
        plan = _prepare(
            stream,
            keys,
            recipients,
            keep_others=keep_others,
            verify=verify,
            at=at,
            trust=trust,
            unauthenticated_attributes=unauthenticated_attributes,
            plausible=plausible,
            certificates=certificates,
        )
        if check is not None:
            check(plan.header)
        if output is None:
            assert descriptor is not None
            return _write_in_place(source, descriptor, plan)
        with atomic_output(output, force=force) as sink:
            size = _write_copy(stream, plan, sink, reserve)
    return plan.result(output, size)


@contextlib.contextmanager
def opened(path: Path, *, in_place: bool) -> Iterator[tuple[BinaryIO, int | None]]:
    """The envelope to read, and for a change in place its locked descriptor."""
    if not in_place:
        with open_envelope(path) as stream:
            yield stream, None
        return
    with _inplace.locked(path) as descriptor, open(descriptor, "rb", buffering=0, closefd=False) as stream:
        if stream.read(1) != b"\x30":
            raise InputError(
                Text(
                    "only a DER/BER envelope file can be re-encrypted in place",
                    "只有 DER/BER 格式的信封文件可以原地重新加密",
                ),
                path=path,
            )
        stream.seek(0)
        yield stream, descriptor


def _write_copy(stream: BinaryIO, plan: _Rewrite, sink: Sink, reserve: int) -> int:
    """Write the new envelope to *sink*: the new front, the kept bytes (by the kernel), the new tail.

    In a BER envelope the ciphertext lands at the same offset modulo the
    file system block as in the source, so a file system that shares
    blocks between files clones it instead of copying it.
    """
    front = plan.front(plan.frame.padding_for(plan.front, block_size(sink), reserve))
    sink.write(front)
    copied = plan.end - plan.frame.copy_from
    if copy_range(stream, plan.frame.copy_from, copied, sink) < copied:
        raise InputError(
            "the file changed while it was being re-encrypted", path=getattr(stream, "name", "-")
        )
    sink.write(plan.tail)
    return len(front) + copied + len(plan.tail)


def _write_in_place(path: Path, descriptor: int, plan: _Rewrite) -> ReencryptResult:
    """Rewrite the front and the tail of the envelope file *path*, the ciphertext where it is.

    The rewritten file is parsed again before the journal goes; should it
    not parse, the old bytes are put back.
    """
    for widen in range(3):
        padding_size = plan.frame.exact_padding(functools.partial(plan.front, widen=widen))
        if padding_size is not None:
            break
    else:
        raise OutputError(
            Text(
                "the new recipients do not fit in the room before the content: write a new file instead",
                "新收件人信息超出内容之前的预留空间：请改为写入新文件",
            ),
            path=path,
        )

    def parses() -> None:
        with open(descriptor, "rb", buffering=0, closefd=False) as stream:
            read_header(stream)

    patch = _inplace.Patch(plan.front(padding_size, widen), plan.end, plan.tail)
    _inplace.apply(path, descriptor, patch, parses)
    return plan.result(path, plan.end + len(plan.tail))


def recover_in_place(path: PathArg) -> bool:
    """Undo an interrupted in-place re-encryption of *path*; True when there was one to undo."""
    return _inplace.recover(as_path(path))


def interrupted_in_place(path: PathArg) -> bool:
    """True when an in-place re-encryption of *path* was interrupted (and not yet undone)."""
    return _inplace.journal_path(as_path(path)).exists()
