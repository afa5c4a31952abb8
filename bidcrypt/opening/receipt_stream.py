"""Reading a stored bid once: the receipt's SHA-256 is taken from the same reads that decrypt it.

The opening used to read each bid twice: once whole to hash it against its
receipt, then again to decrypt it. :class:`ReceiptStream` is the stored
file as a seekable stream that hashes every byte of the file exactly once,
in order, whatever order the reader asks for them in: a read that starts
past what was hashed first hashes the gap (a few bytes of segment headers),
a read of bytes already hashed adds nothing, and
:meth:`ReceiptStream.finish` hashes what the reader never asked for (the
trailer). The reader sees the file as it is; the digest is of the whole
file, as the receipt's.

Nothing the reader does with the bytes is trusted before the digest is
known: the opening compares it with the receipt before anything it
produced is kept (a mismatch fails the bid, whatever the decryption said).
"""

from __future__ import annotations

import hashlib
import io
import os

_CHUNK = 1 << 20


class ReceiptStream(io.RawIOBase):
    """A read-only, seekable view of the open file *descriptor* that hashes the whole file once.

    The descriptor stays the caller's (it is not closed here). :attr:`name`
    is the file's name for messages. It has no :meth:`fileno`, so that
    nobody reads the file behind its back.
    """

    def __init__(self, descriptor: int, name: str) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._file = io.FileIO(descriptor, "rb", closefd=False)
        self.name = name
        self._position = 0
        self._hashed = 0
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move like a file does; nothing is read (or hashed) by moving."""
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = os.fstat(self._descriptor).st_size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._position = target
        return target

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read at the current position, hashing what had not been hashed yet."""
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        start = self._position
        if start > self._hashed:
            self._hash_up_to(start)
            if self._hashed < start:  # the file ends before the position
                return 0
        self._file.seek(start)
        count = self._file.readinto(view) or 0
        if count and start + count > self._hashed:
            self._digest.update(view[self._hashed - start : count])
            self._hashed = start + count
        self._position = start + count
        return count

    def _hash_up_to(self, end: int | None) -> None:
        """Hash the file from where the hash stands to *end* (to the file's end when None)."""
        while end is None or self._hashed < end:
            wanted = _CHUNK if end is None else min(_CHUNK, end - self._hashed)
            self._file.seek(self._hashed)
            data = self._file.read(wanted)
            if not data:
                return
            self._digest.update(data)
            self._hashed += len(data)

    def finish(self) -> str:
        """Hash the rest of the file and return the SHA-256 of all of it, in hex."""
        self._hash_up_to(None)
        return self._digest.hexdigest()

    @property
    def size(self) -> int:
        """How many bytes were hashed (after :meth:`finish`: the file's size)."""
        return self._hashed
