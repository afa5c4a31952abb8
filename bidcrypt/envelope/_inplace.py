"""Rewriting the front and the tail of an envelope file in place, undone if interrupted.

Re-encryption in place changes two small regions of the file: the front
(up to the first ciphertext segment, rewritten at exactly its old length)
and the tail (the unauthenticated attributes onwards). Before either is
touched, the old bytes of both are written to a journal beside the file
(``.NAME.reencrypt-journal``, published complete and synced). If the
process dies between, the journal is still there, and the next in-place
run (or :func:`recover`) puts the old bytes back, and the envelope is as it
was. The ciphertext is never written, so the content cannot be damaged.

Everything happens under an exclusive lock on the file, and a journal is
only applied to the file it was written for: the same device and inode,
one of the two sizes it knew, and the same bytes just after the front
(ciphertext that no rewrite touches). Anything else is refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bidcrypt import _platform
from bidcrypt.errors import InputError, OutputError
from bidcrypt.files import atomic_output, input_error, output_error, read_input
from bidcrypt.i18n import Text, pick

_MAGIC = b"bidcrypt re-encryption journal 2\n"
#: Largest journal read back (it holds two small regions of an envelope).
_MAX_JOURNAL = 16 << 20
#: Bytes after the front that identify the file (ciphertext: never rewritten).
_WITNESS = 1 << 16


def _not_here() -> str:
    return pick(
        "in-place re-encryption is not available on this platform (it needs flock and pread); "
        "write the result to a new file instead",
        "此平台不支持原地重新加密（需要 flock 和 pread）；请将结果写入新文件",
    )


def journal_path(path: Path) -> Path:
    """Where the journal of an in-place rewrite of *path* is kept."""
    return path.parent / f".{path.name}.reencrypt-journal"


@dataclass(frozen=True)
class Patch:
    """The new front (from offset 0) and the new tail (from *tail_at* to the new end of the file)."""

    front: bytes
    tail_at: int
    tail: bytes


@contextlib.contextmanager
def locked(path: Path) -> Iterator[int]:
    """*path* opened for reading and writing, locked against a second writer; yields the descriptor.

    An interrupted earlier rewrite is undone first, under the lock. Where
    the platform has no ``flock`` or ``pread`` (Windows), or the file system
    no locks, it is an :class:`OutputError`: write to a new file instead.
    """
    if not (_platform.HAS_FLOCK and _platform.HAS_PREAD):
        raise OutputError(_not_here(), path=path)
    try:
        descriptor = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise input_error(exc, path) from exc
    try:
        taken = _platform.lock_exclusive(descriptor)
        if taken is None:
            raise OutputError(_not_here(), path=path)
        if not taken:
            raise InputError(
                Text("the file is being re-encrypted by another process", "文件正被另一进程重新加密"),
                path=path,
            )
        _recover_locked(path, descriptor)
        yield descriptor
    finally:
        os.close(descriptor)


def recover(path: Path) -> bool:
    """Undo an interrupted in-place rewrite of *path* from its journal; False when there is none."""
    if not journal_path(path).exists():
        return False
    with locked(path):
        pass  # locking undoes it
    return True


def apply(path: Path, descriptor: int, patch: Patch, check: Callable[[], None]) -> None:
    """Write *patch* into the locked file at *descriptor*, journalled.

    *check* is called once the patch is written and synced, before the
    journal goes: if it raises, or anything else fails, the old bytes are
    put back and the exception propagates.
    """
    status = os.fstat(descriptor)
    size = status.st_size
    old_front = os.pread(descriptor, len(patch.front), 0)
    old_tail = os.pread(descriptor, size - patch.tail_at, patch.tail_at)
    record = {
        "device": status.st_dev,
        "inode": status.st_ino,
        "size": size,
        "new_size": patch.tail_at + len(patch.tail),
        "front": len(old_front),
        "tail_at": patch.tail_at,
        "witness": _witness(descriptor, len(old_front), patch.tail_at),
    }
    body = json.dumps(record).encode() + b"\n" + old_front + old_tail
    journal = journal_path(path)
    with atomic_output(journal) as sink:
        sink.write(_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    _sync_directory(path.parent)
    try:
        _write_all(descriptor, patch.front, 0)
        _write_all(descriptor, patch.tail, patch.tail_at)
        os.ftruncate(descriptor, patch.tail_at + len(patch.tail))
        os.fsync(descriptor)
        check()
    except BaseException as failure:
        with contextlib.suppress(InputError, OutputError):  # else the journal stays for the next run
            _recover_locked(path, descriptor)
        if isinstance(failure, OSError):
            raise output_error(failure, path) from failure
        raise
    journal.unlink()
    _sync_directory(path.parent)


def _recover_locked(path: Path, descriptor: int) -> None:
    """Put back the old bytes from the journal of *path* into the locked file at *descriptor*."""
    journal = journal_path(path)
    if not journal.exists():
        return
    data = read_input(journal, max_size=_MAX_JOURNAL)
    damaged = InputError(Text("the re-encryption journal is damaged", "重新加密日志已损坏"), path=journal)
    if not data.startswith(_MAGIC):
        raise damaged
    digest, _, body = data[len(_MAGIC) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise damaged
    line, _, regions = body.partition(b"\n")
    try:
        record = json.loads(line)
        size, new_size = int(record["size"]), int(record["new_size"])
        front, tail_at = int(record["front"]), int(record["tail_at"])
        identity = (int(record["device"]), int(record["inode"]), str(record["witness"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise damaged from exc
    if len(regions) != front + size - tail_at:
        raise damaged
    status = os.fstat(descriptor)
    found = (status.st_dev, status.st_ino, _witness(descriptor, front, tail_at))
    # A rewrite stopped by a full disk may have left the file anywhere between its two sizes.
    if found != identity or not min(size, new_size) <= status.st_size <= max(size, new_size):
        raise InputError(
            Text(
                "{name} is the journal of an interrupted re-encryption of another file; "
                "move it away (with that file, if it still exists) and try again",
                "{name} 是另一个文件被中断的重新加密日志；请将其移走（如该文件仍在，一并移走）后重试",
                name=journal.name,
            ),
            path=path,
        )
    try:
        _write_all(descriptor, regions[:front], 0)
        _write_all(descriptor, regions[front:], tail_at)
        os.ftruncate(descriptor, size)
        os.fsync(descriptor)
    except OSError as exc:
        raise output_error(exc, path) from exc
    journal.unlink()
    _sync_directory(path.parent)


def _witness(descriptor: int, front: int, tail_at: int) -> str:
    """The SHA-256 of the bytes just after the front (never rewritten), identifying the file."""
    return hashlib.sha256(os.pread(descriptor, min(_WITNESS, max(tail_at - front, 0)), front)).hexdigest()


def _write_all(descriptor: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view, offset = view[written:], offset + written


def _sync_directory(directory: Path) -> None:
    """Make a file's appearance or removal in *directory* durable (where the platform allows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
