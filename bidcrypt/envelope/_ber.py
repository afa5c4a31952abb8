"""BER decoding for hostile input: the streaming frame of an envelope, and bounded elements in memory.

What asn1crypto cannot do is here: walking an envelope of any size in a
file (indefinite lengths, the content's segments, the trailer after them)
without loading it, and reading each small element (recipient infos,
algorithm identifiers, attributes) into memory within fixed budgets; the
small elements are then decoded with asn1crypto (:mod:`~bidcrypt.envelope._asn1`).

Everything here assumes the input is an attack. Lengths are checked
against the enclosing element and the end of the file before anything is
read, nesting is limited to :data:`MAX_DEPTH`, and an element is only held
in memory up to :data:`MAX_ELEMENT` bytes and :data:`MAX_NODES` nodes. Every
failure is a :class:`~bidcrypt.errors.MalformedEnvelopeError`.

The walk to the end of an indefinite-length element spends the same
budgets as it goes (size, nodes, depth), so a hostile run of millions of
tiny elements is refused after a bounded amount of work.

BER, not only DER: definite and indefinite lengths, constructed strings and
non-minimal length octets are all read. What BER itself forbids is refused:
the high-tag-number form for tag numbers below 31 (X.690 8.1.2.2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from bidcrypt import _platform
from bidcrypt.errors import MalformedEnvelopeError
from bidcrypt.i18n import Text

#: Deepest nesting of constructed encodings accepted.
MAX_DEPTH = 32
#: Largest element read into memory (recipient infos, algorithm parameters, attributes).
MAX_ELEMENT = 1 << 20
#: Most nodes in one element read into memory.
MAX_NODES = 50_000
#: Empty OCTET STRINGs, as re-encryption pads with, and how much of a run is looked at at once.
_EMPTY_SEGMENTS = re.compile(rb"(?:\x04\x00)*")
_RUN_WINDOW = 1 << 16
#: Longest identifier + length octets accepted: 1 + 4 tag-number octets + 1 + 8 length octets.
MAX_HEAD = 14

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
OCTET_STRING, SEQUENCE, SET = 4, 16, 17


def malformed(detail: Text) -> MalformedEnvelopeError:
    """A :class:`MalformedEnvelopeError` with *detail* (rendered when shown)."""
    return MalformedEnvelopeError(detail)


def _truncated() -> MalformedEnvelopeError:
    return malformed(Text("the file is truncated", "文件不完整（被截断）"))


class Head(NamedTuple):
    """The identifier and length octets of one encoding (a tuple: made by the hundred thousand)."""

    cls: int
    constructed: bool
    number: int
    header_length: int
    #: Content length, or None for the indefinite form.
    length: int | None

    def is_(self, cls: int, number: int, constructed: bool | None = None) -> bool:
        """True for the tag ``cls``/``number`` (and the form, when given)."""
        return (
            self.cls == cls
            and self.number == number
            and (constructed is None or self.constructed == constructed)
        )

    @property
    def is_eoc(self) -> bool:
        """True for the end-of-contents octets of an indefinite-length encoding."""
        return self.cls == UNIVERSAL and self.number == 0 and not self.constructed

    def describe(self) -> str:
        """``[UNIVERSAL 16]``-style name of the tag, for messages."""
        names = ("UNIVERSAL", "APPLICATION", "CONTEXT", "PRIVATE")
        return f"[{names[self.cls]} {self.number}]"


def parse_head(data: bytes | memoryview, pos: int, end: int) -> Head:
    """Decode the identifier and length octets at *pos* of *data*, not reading past *end*."""
    if pos >= end:
        raise _truncated()
    first = data[pos]
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    i = pos + 1
    if number == 0x1F:
        number = 0
        for count in range(4):
            if i >= end:
                raise _truncated()
            octet = data[i]
            i += 1
            if count == 0 and octet == 0x80:
                raise malformed(Text("badly encoded tag number", "标签编码错误"))
            number = (number << 7) | (octet & 0x7F)
            if not octet & 0x80:
                break
        else:
            raise malformed(Text("tag number too large", "标签号过大"))
        if number < 0x1F:  # X.690 8.1.2.2: tag numbers 0 to 30 take the one-octet form
            raise malformed(Text("badly encoded tag number", "标签编码错误"))
    if i >= end:
        raise _truncated()
    first_length = data[i]
    i += 1
    length: int | None
    if first_length < 0x80:
        length = first_length
    elif first_length == 0x80:
        if not constructed:
            raise malformed(Text("indefinite length on a primitive encoding", "基本类型使用了不定长编码"))
        length = None
    else:
        count = first_length & 0x7F
        if count > 8:
            raise malformed(Text("length field too long", "长度字段过长"))
        if i + count > end:
            raise _truncated()
        length = int.from_bytes(bytes(data[i : i + count]), "big")
        i += count
    head = Head(cls, constructed, number, i - pos, length)
    if head.is_eoc and length != 0:
        raise malformed(Text("bad end-of-contents octets", "不定长结束标记错误"))
    return head


# --- in-memory trees -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Node:
    """One decoded element of a small, fully read encoding.

    Offsets point into ``data``, shared by all nodes of a tree, so no
    content is copied until it is asked for.
    """

    data: bytes
    head: Head
    start: int
    content_start: int
    content_end: int
    end: int
    children: tuple[Node, ...]

    @property
    def raw(self) -> bytes:
        """The whole encoding: identifier, length and content octets."""
        return self.data[self.start : self.end]

    def is_(self, cls: int, number: int, constructed: bool | None = None) -> bool:
        """True for the tag ``cls``/``number`` (and the form, when given)."""
        return self.head.is_(cls, number, constructed)


def parse(data: bytes, what: str = "element", expand: int | None = None) -> Node:
    """Decode exactly one element filling *data*, with the limits of this module.

    With *expand*, definite-length elements deeper than *expand* levels are
    kept whole (their ``raw`` bytes) instead of being decoded: for values
    that are passed on as opaque DER, such as the certificates in an
    attribute. Indefinite lengths are always walked to find their end.
    """
    if len(data) > MAX_ELEMENT:
        raise malformed(Text("{what} too large", "{what} 过大", what=what))
    counter = [0]
    node = _parse_at(data, 0, len(data), 0, counter, MAX_DEPTH + 1 if expand is None else expand)
    if node.end != len(data):
        raise malformed(Text("unexpected data after the {what}", "{what} 之后有多余数据", what=what))
    return node


def _parse_at(data: bytes, pos: int, end: int, depth: int, counter: list[int], expand: int) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise malformed(Text("too many elements", "元素过多"))
    if depth > MAX_DEPTH:
        raise malformed(Text("nested too deeply", "嵌套过深"))
    head = parse_head(data, pos, end)
    content_start = pos + head.header_length
    if head.length is not None:
        content_end = content_start + head.length
        if content_end > end:
            raise malformed(Text("length exceeds the enclosing element", "长度超出外层元素"))
        if not head.constructed or depth >= expand:
            return Node(data, head, pos, content_start, content_end, content_end, ())
        children = []
        at = content_start
        while at < content_end:
            child = _parse_at(data, at, content_end, depth + 1, counter, expand)
            if child.head.is_eoc:
                raise malformed(
                    Text("end-of-contents inside a definite length", "定长元素中出现不定长结束标记")
                )
            children.append(child)
            at = child.end
        return Node(data, head, pos, content_start, content_end, content_end, tuple(children))
    children = []
    at = content_start
    while True:
        child = _parse_at(data, at, end, depth + 1, counter, expand)
        if child.head.is_eoc:
            return Node(data, head, pos, content_start, at, child.end, tuple(children))
        children.append(child)
        at = child.end


# --- streams ---------------------------------------------------------------------------


class StreamReader:
    """Reads encodings from a seekable binary stream, keeping the absolute position itself.

    Heads are read with :func:`os.pread` where the stream is a file, and the
    stream is only moved when its own methods read: walking the segments of
    a large content then costs one system call per segment.
    """

    def __init__(self, stream: BinaryIO, size: int, start: int = 0) -> None:
        self.stream = stream
        self.size = size
        self.pos = start
        stream.seek(start)
        self._synced = True
        try:
            self._descriptor: int | None = stream.fileno() if _platform.HAS_PREAD else None
        except (AttributeError, OSError, ValueError):  # BytesIO and the like
            self._descriptor = None

    def seek(self, pos: int) -> None:
        """Move to the absolute offset *pos*."""
        self.pos = pos
        self._synced = False

    def _sync(self) -> None:
        """Move the stream to the reader's position before reading through it."""
        if not self._synced:
            self.stream.seek(self.pos)
            self._synced = True

    def head(self, end: int | None = None) -> Head:
        """Read the identifier and length octets at the current position."""
        limit = self.size if end is None else min(end, self.size)
        wanted = min(MAX_HEAD, max(limit - self.pos, 0))
        if self._descriptor is not None:
            available = os.pread(self._descriptor, wanted, self.pos)
        else:
            self._sync()
            available = self.stream.read(wanted)
        head = parse_head(available, 0, len(available))
        self.seek(self.pos + head.header_length)
        if head.length is not None:
            if self.pos + head.length > self.size:
                raise _truncated()
            if end is not None and self.pos + head.length > end:
                raise malformed(Text("length exceeds the enclosing element", "长度超出外层元素"))
        return head

    def skip_empty_segments(self, end: int | None = None) -> int:
        """Skip a run of empty OCTET STRINGs (``04 00``) at the current position; return how many.

        Re-encryption pads with them (up to a few kilobytes); skipped a
        window at a time rather than one head at a time.
        """
        limit = self.size if end is None else min(end, self.size)
        skipped = 0
        while self.pos < limit:
            window = self._peek(min(_RUN_WINDOW, limit - self.pos))
            if not window:  # the file shrank since its size was taken
                raise _truncated()
            run = _EMPTY_SEGMENTS.match(window).end()  # type: ignore[union-attr]  # always matches
            self.seek(self.pos + run)
            skipped += run // 2
            if run < len(window):
                break
        return skipped

    def _peek(self, n: int) -> bytes:
        """Up to *n* bytes at the current position, without moving."""
        if self._descriptor is not None:
            return os.pread(self._descriptor, n, self.pos)
        self._sync()
        data = self.stream.read(n)
        self.stream.seek(self.pos)
        return data

    def read_exact(self, n: int) -> bytes:
        """Read exactly *n* bytes or raise: the file is truncated."""
        if self.pos + n > self.size:
            raise _truncated()
        self._sync()
        data = self.stream.read(n)
        if len(data) != n:
            raise _truncated()
        self.pos += n
        return data

    def readinto_exact(self, view: memoryview) -> None:
        """Fill *view* completely from the stream."""
        n = len(view)
        if self.pos + n > self.size:
            raise _truncated()
        self._sync()
        filled = 0
        while filled < n:
            got = self.stream.readinto(view[filled:])  # type: ignore[attr-defined]
            if not got:
                raise _truncated()
            filled += got
        self.pos += n

    def skip(self, n: int) -> None:
        """Move forward by *n* bytes without reading them."""
        if self.pos + n > self.size:
            raise _truncated()
        self.seek(self.pos + n)

    def element_end(self, start: int, head: Head, end: int | None, what: str = "element") -> int:
        """The end offset of the element whose head (at *start*) was just read; leaves the reader there.

        An indefinite-length element is walked to its end-of-contents with the
        budgets of an element read into memory: at most :data:`MAX_ELEMENT`
        bytes, :data:`MAX_NODES` elements and :data:`MAX_DEPTH` levels, each
        checked as the walk goes, so a hostile run of millions of tiny
        elements is refused after the budget, not at its end.
        """
        if head.length is not None:
            self.skip(head.length)
            return self.pos
        open_frames = 1
        nodes = 1
        while open_frames:
            nodes += 1
            if nodes > MAX_NODES:
                raise malformed(Text("{what}: too many elements", "{what}：元素过多", what=what))
            child = self.head(end)
            if self.pos - start > MAX_ELEMENT:
                raise malformed(Text("{what} too large", "{what} 过大", what=what))
            if child.is_eoc:
                open_frames -= 1
            elif child.length is None:
                open_frames += 1
                if open_frames > MAX_DEPTH:
                    raise malformed(Text("nested too deeply", "嵌套过深"))
            else:
                self.skip(child.length)
                if self.pos - start > MAX_ELEMENT:
                    raise malformed(Text("{what} too large", "{what} 过大", what=what))
        return self.pos

    def read_element(self, what: str, end: int | None = None, expand: int | None = None) -> Node:
        """Read one whole element at the current position into memory and decode it (see :func:`parse`)."""
        start = self.pos
        head = self.head(end)
        if head.length is not None:
            if head.header_length + head.length > MAX_ELEMENT:
                raise malformed(Text("{what} too large", "{what} 过大", what=what))
            self.seek(start)
            data = self.read_exact(head.header_length + head.length)
        else:
            stop = self.element_end(start, head, end, what)
            if stop - start > MAX_ELEMENT:
                raise malformed(Text("{what} too large", "{what} 过大", what=what))
            self.seek(start)
            data = self.read_exact(stop - start)
        return parse(data, what, expand)

    def end_of(self, head: Head, content_start: int, end: int | None) -> None:
        """At the end of a constructed element's children: read its end-of-contents or check the length."""
        if head.length is None:
            eoc = self.head(end)
            if not eoc.is_eoc:
                raise malformed(
                    Text(
                        "unexpected {describe} where the structure should end",
                        "结构应结束处出现意外的元素 {describe}",
                        describe=eoc.describe(),
                    ),
                )
        elif self.pos != content_start + head.length:
            raise malformed(Text("unexpected data inside a structure", "结构中有多余数据"))

    def at_end(self, head: Head, content_start: int) -> bool:
        """True when the constructed element (head read at *content_start*) has no more children."""
        if head.length is not None:
            return self.pos >= content_start + head.length
        if self.pos + 2 > self.size:
            raise _truncated()
        self._sync()
        peek = self.stream.read(2)
        self.stream.seek(self.pos)
        return peek == b"\x00\x00"
