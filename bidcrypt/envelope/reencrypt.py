"""Re-encryption: wrap the content key to new certificates without touching the content.

After a UKey is replaced (补办) or its certificate changes (变更), an
envelope made for the old key must be re-encrypted before upload. The
content key is unwrapped once with the old key, wrapped to the new
certificates, and only the RecipientInfos are rewritten: the encrypted
content, the authenticated attributes and the GCM tag are copied byte for
byte (RFC 5083 authenticates the attributes, not the recipients).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography import x509

from bidcrypt.envelope import _der as der
from bidcrypt.envelope._align import ContentFrame, block_size
from bidcrypt.envelope._files import open_envelope
from bidcrypt.envelope._stream import decrypt_into, enveloped_data_version
from bidcrypt.envelope.header import Attribute, EnvelopeHeader, read_header
from bidcrypt.envelope.opening import Keys, _Prefix, unwrap_content_key
from bidcrypt.envelope.recipients import Recipient, check_all
from bidcrypt.errors import InputError
from bidcrypt.files import Sink, atomic_output, check_output, copy_range

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


def reencrypt(
    source: Path,
    output: Path,
    keys: Keys,
    recipients: Sequence[Recipient | x509.Certificate],
    *,
    keep_others: bool = False,
    force: bool = False,
    verify: bool = True,
    at: dt.datetime | None = None,
    trust: TrustStore | None = None,
    unauthenticated_attributes: Sequence[Attribute] | None = None,
) -> ReencryptResult:
    """Write *output*: the envelope *source* re-wrapped to *recipients*, its content untouched.

    *keys* must open *source* (the old UKey). With *keep_others*, the
    RecipientInfos of *source* other than the one opened and those of the
    new certificates (for example the opening authority's) are kept as they are. With *verify* (the default)
    the content is first decrypted in memory and its tag or padding checked,
    so a damaged envelope is never re-issued. The new certificates are
    checked like :class:`~bidcrypt.envelope.EnvelopeBuilder` checks them.
    *unauthenticated_attributes* replaces the unauthAttrs / unprotectedAttrs
    (None keeps them as they are; an empty sequence removes them).
    """
    check_output(output, force)
    new = [r if isinstance(r, Recipient) else Recipient(r) for r in recipients]
    if not new and not keep_others:
        raise ValueError("re-encryption needs at least one recipient")
    check_all(new, at, trust)
    with open_envelope(source) as stream:
        header = read_header(stream)
        content_key = unwrap_content_key(header, keys)
        if verify:
            decrypt_into(stream, header, content_key.key, _Prefix(0))
        infos = [recipient.wrap(content_key.key) for recipient in new]
        unauth = None
        if unauthenticated_attributes is not None:
            encoded = sorted(attribute.encode() for attribute in unauthenticated_attributes)
            unauth = der.context(2 if header.is_authenticated else 1, b"".join(encoded)) if encoded else b""
        replaced = {content_key.recipient_index} | {
            r.index
            for r in header.recipients
            if r.rid is not None and any(r.rid.matches(n.certificate) for n in new)
        }
        kept = [
            raw for index, raw in enumerate(header.recipient_infos) if keep_others and index not in replaced
        ]
        with atomic_output(output, force=force) as sink:
            size = _rewrite(stream, header, der.set_of([*infos, *kept]), unauth, sink)
    return ReencryptResult(
        output=output,
        opened_recipient=content_key.recipient_index,
        recipients=tuple(r.describe() for r in new),
        kept=len(kept),
        envelope_size=size,
    )


def _rewrite(
    stream: BinaryIO, header: EnvelopeHeader, recipient_infos: bytes, unauth: bytes | None, sink: Sink
) -> int:
    """Write the envelope with new RecipientInfos (and unauthenticated attributes), copying the rest.

    The ciphertext, the authenticated attributes and the tag are copied byte
    for byte (by the kernel when both are files); the new parts get definite
    lengths, so a DER envelope stays DER. In a BER envelope the ciphertext is
    moved to the same offset modulo the file system block as in *source*
    (see :mod:`bidcrypt.envelope._align`), so a file system that shares
    blocks between files (XFS, Btrfs) clones it instead of copying it.
    """
    end = header.fields_end if unauth is None else header.unauthenticated_attributes_offset
    tail = b"" if unauth is None else unauth
    originator = header.originator_info or b""
    version = header.version
    if not header.is_authenticated:
        extras = bool(originator) or bool(header.unauthenticated_attributes if unauth is None else unauth)
        version = max(version, enveloped_data_version(recipient_infos, extras))
    body = der.integer(version) + originator + recipient_infos
    frame = ContentFrame.read(stream, header)
    block = block_size(sink)

    def prefix_with(padding: int) -> bytes:
        """Everything before the copied bytes, with *padding* bytes of empty segments."""
        moved = frame.encode(padding)
        length = len(body) + len(moved) + (end - frame.copy_from) + len(tail)
        body_header = der.header(der.TAG_SEQUENCE, length)
        explicit = der.header(0xA0, len(body_header) + length)
        content_type = der.oid(header.content_type)
        info = der.header(der.TAG_SEQUENCE, len(content_type) + len(explicit) + len(body_header) + length)
        return info + content_type + explicit + body_header + body + moved

    prefix = prefix_with(frame.padding_for(prefix_with, block))
    sink.write(prefix)
    copied = end - frame.copy_from
    if copy_range(stream, frame.copy_from, copied, sink) < copied:
        raise InputError(
            "the file changed while it was being re-encrypted", path=getattr(stream, "name", "-")
        )
    sink.write(tail)
    return len(prefix) + copied + len(tail)
