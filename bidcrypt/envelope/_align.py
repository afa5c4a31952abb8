"""Where the ciphertext goes in a re-encrypted envelope: block for block where it was.

Re-encryption writes a new file: new RecipientInfos in front, then the
ciphertext of the old file, copied. A file system that shares blocks
between files (XFS with reflink, Btrfs, bcachefs, ZFS block cloning; the
kernel tries it inside ``copy_file_range``) gives the new file the old
file's blocks instead of copying them, so re-encrypting a 1 GiB package
costs what a 1 KiB one does. It can do that only whole blocks at a time:
the ciphertext must begin at the same offset modulo the block size in both
files. The new front is rarely as long as the old one, so empty segments
are put before the ciphertext of a BER (constructed) encryptedContent to
make up the difference. X.690 allows both things used: empty segments in
a constructed OCTET STRING, and the long form of a short length (``04 81
00``, three bytes, for the odd sizes). Padding left by an earlier
re-encryption is dropped first, so it never accumulates.

A primitive (DER) encryptedContent has no room for padding: it is copied
as it is, from the EncryptedContentInfo on, and the copy is a plain copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope.header import EnvelopeHeader
from bidcrypt.errors import MalformedEnvelopeError

#: Block size assumed when the output does not say; outputs that are not files get no padding.
DEFAULT_BLOCK = 4096
#: Largest block size aligned to (the padding is at most about twice this).
MAX_BLOCK = 1 << 16
#: An empty segment (two bytes) and one with a long-form length (three bytes, for odd sizes).
EMPTY_SEGMENT = b"\x04\x00"
EMPTY_SEGMENT_LONG_FORM = b"\x04\x81\x00"


def padding(size: int) -> bytes:
    """*size* bytes of empty OCTET STRING segments (*size* is 0 or at least 2)."""
    if size == 1 or size < 0:
        raise ValueError(f"no padding of {size} bytes")
    if size % 2:
        return EMPTY_SEGMENT_LONG_FORM + EMPTY_SEGMENT * ((size - 3) // 2)
    return EMPTY_SEGMENT * (size // 2)


def block_size(sink: object) -> int:
    """The block size to align to in the file *sink* writes to; 1 (no alignment) when it is not a file."""
    try:
        size = os.fstat(sink.fileno()).st_blksize  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return 1
    if size < DEFAULT_BLOCK or size > MAX_BLOCK or size & (size - 1):
        return DEFAULT_BLOCK
    return int(size)


def padding_for(front_length: Callable[[int], int], target: int, block: int, minimum: int = 0) -> int:
    """The least padding of at least *minimum* with ``front_length(padding) ≡ target (mod block)``.

    *front_length* may grow with the padding (length octets get longer),
    so the answer is found by a few corrections; *minimum* when none settles.
    """
    size = minimum
    for _ in range(8):
        gap = (target - front_length(size)) % block
        if gap == 0 and size != 1:
            return size
        size += gap
        if size == 1:
            size += block
    return minimum


def exact_padding(front_length: Callable[[int], int], target: int) -> int | None:
    """The padding with ``front_length(padding) == target``, or None when the front does not fit."""
    size = target - front_length(0)
    for _ in range(8):
        if size < 0 or size == 1:
            return None
        missing = target - front_length(size)
        if missing == 0:
            return size
        size += missing
    return None


@dataclass(frozen=True)
class ContentFrame:
    """The EncryptedContentInfo of an envelope around its ciphertext, and what to copy of it."""

    #: Offset in the source from which everything up to the end is copied as it is.
    copy_from: int
    #: False for a primitive encryptedContent: nothing is rewritten, nothing padded.
    paddable: bool = False
    #: Content length of the EncryptedContentInfo SEQUENCE, None for the indefinite form.
    info_length: int | None = None
    #: The content type and algorithm identifier, as found.
    middle: bytes = b""
    #: Content length of the ``[0]`` encryptedContent, None for the indefinite form.
    content_length: int | None = None
    #: Identifier and length octets of the ``[0]`` encryptedContent as found.
    content_header_length: int = 0
    #: Bytes of empty segments in the source before the ciphertext (an earlier padding), left out.
    dropped: int = 0

    @classmethod
    def read(cls, stream: BinaryIO, header: EnvelopeHeader) -> ContentFrame:
        """The frame of the envelope in *stream*, already checked by :func:`read_header`."""
        start = header.encrypted_content_info
        if header.content.primitive:
            return cls(copy_from=start)
        stream.seek(start)
        front = stream.read(header.content.offset - start + ber.MAX_HEAD)
        info = ber.parse_head(front, 0, len(front))
        content_at = header.content.offset - start
        content = ber.parse_head(front, content_at, len(front))
        position = header.content.offset + content.header_length
        stream.seek(position)
        window = stream.read(min(2 * MAX_BLOCK + ber.MAX_HEAD, header.content.end - position))
        dropped = 0
        while dropped < len(window):
            try:
                segment = ber.parse_head(window, dropped, len(window))
            except MalformedEnvelopeError:  # cut by the window: not an empty segment
                break
            if segment.constructed or segment.length or not segment.is_(ber.UNIVERSAL, ber.OCTET_STRING):
                break
            dropped += segment.header_length
        return cls(
            copy_from=position + dropped,
            paddable=True,
            info_length=info.length,
            middle=bytes(front[info.header_length : content_at]),
            content_length=content.length,
            content_header_length=content.header_length,
            dropped=dropped,
        )

    def encode(self, padding_size: int) -> bytes:
        """The rewritten frame up to the copied bytes, with *padding_size* bytes of padding."""
        if not self.paddable:
            if padding_size:
                raise ValueError("a primitive encryptedContent cannot be padded")
            return b""
        change = padding_size - self.dropped
        content_head = _head(0xA0, self.content_length, change)
        # The EncryptedContentInfo holds the [0] header too, whose length octets may have changed.
        info_change = change + len(content_head) - self.content_header_length
        info_head = _head(der.TAG_SEQUENCE, self.info_length, info_change)
        return info_head + self.middle + content_head + padding(padding_size)

    def padding_for(self, front: Callable[[int], bytes], block: int, minimum: int = 0) -> int:
        """The padding (at least *minimum*) putting the copied bytes at their source offset modulo *block*."""
        if not self.paddable:
            return 0
        return padding_for(lambda size: len(front(size)), self.copy_from, block, minimum)

    def exact_padding(self, front: Callable[[int], bytes]) -> int | None:
        """The padding that puts the copied bytes exactly where they are (for a rewrite in place)."""
        if not self.paddable:
            return 0 if len(front(0)) == self.copy_from else None
        return exact_padding(lambda size: len(front(size)), self.copy_from)


def widened_header(tag: int, length: int, extra: int) -> bytes:
    """Identifier and length octets with *extra* more length octets than needed (BER allows it).

    A rewrite in place must fill its room exactly; empty segments cannot
    make up a single byte, a longer length field can.
    """
    if extra == 0:
        return der.header(tag, length)
    minimal = length.to_bytes(max(1, (length.bit_length() + 7) // 8), "big")
    octets = bytes(extra - 1 if length < 0x80 else extra) + minimal
    return bytes([tag, 0x80 | len(octets)]) + octets


def _head(tag: int, length: int | None, change: int) -> bytes:
    """Identifier and length octets of a constructed element whose content grew by *change*."""
    return bytes([tag, 0x80]) if length is None else der.header(tag, length + change)
