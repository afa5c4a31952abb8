"""The pieces of an encryptedContent: walking its OCTET STRING segments with a bounded budget."""

from __future__ import annotations

from collections.abc import Iterator

from bidcrypt.envelope import _ber as ber
from bidcrypt.i18n import Text

#: Past this many elements of encrypted content (segments and the constructed strings around
#: them), their average size must be at least MIN_AVERAGE_SEGMENT bytes: a file of millions of
#: empty pieces would take hours to walk.
#: (OpenSSL writes 4 KiB segments, bidcrypt 1 MiB ones.)
MANY_SEGMENTS = 1 << 16
MIN_AVERAGE_SEGMENT = 256


def iter_segments(r: ber.StreamReader, head: ber.Head, end: int | None) -> Iterator[int]:
    """Yield the length of each data segment of an encryptedContent whose head was just read.

    After each yield the reader is at the segment's data; the caller must
    read or skip exactly that many bytes before asking for the next one.
    Constructed OCTET STRINGs are followed to :data:`~bidcrypt.envelope._ber.MAX_DEPTH`.
    Every element visited counts: past :data:`MANY_SEGMENTS` of them, the
    content must average :data:`MIN_AVERAGE_SEGMENT` bytes per element, so a
    file of millions of empty pieces (primitive or constructed) is refused
    after a bounded walk.
    """
    if not head.constructed:
        assert head.length is not None
        yield head.length
        return
    frames: list[int | None] = [r.pos + head.length if head.length is not None else None]
    nodes = total = 0

    def count(visited: int, data: int) -> None:
        nonlocal nodes, total
        nodes += visited
        total += data
        if nodes > MANY_SEGMENTS and total < nodes * MIN_AVERAGE_SEGMENT:
            raise ber.malformed(
                Text("the encrypted content is cut into too many tiny pieces", "加密内容被切分成过多的碎片")
            )

    while frames:
        frame_end = frames[-1]
        if frame_end is not None and r.pos >= frame_end:
            frames.pop()
            continue
        limit = next((f for f in reversed(frames) if f is not None), end)
        child = r.head(limit)
        count(1, 0)
        if child.is_eoc:
            if frame_end is not None:
                raise ber.malformed(
                    Text("end-of-contents inside a definite length", "定长元素中出现不定长结束标记")
                )
            frames.pop()
            continue
        if not child.is_(ber.UNIVERSAL, ber.OCTET_STRING):
            raise ber.malformed(
                Text(
                    "encrypted content: unexpected {describe}",
                    "加密内容：意外的元素 {describe}",
                    describe=child.describe(),
                ),
            )
        if child.constructed:
            if len(frames) >= ber.MAX_DEPTH:
                raise ber.malformed(Text("nested too deeply", "嵌套过深"))
            frames.append(r.pos + child.length if child.length is not None else None)
            continue
        assert child.length is not None
        count(0, child.length)
        yield child.length
        if child.length == 0 and child.header_length == 2:
            # Padding: the rest of the run is skipped at once, counted, and yielded one by one.
            run = r.skip_empty_segments(limit)
            count(run, 0)
            for _ in range(run):
                yield 0
