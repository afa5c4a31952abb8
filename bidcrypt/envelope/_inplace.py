"""Rewriting the front and the tail of an envelope file in place, undone if interrupted.

Re-encryption in place changes two small regions of the file: the front
(up to the first ciphertext segment, rewritten at exactly its old length)
and the tail (the unauthenticated attributes onwards). Before either is
touched, the old bytes of both are written to a journal beside the file
(``.NAME.reencrypt-journal``, published complete and synced). If the
process dies between, the journal is still there: :func:`recover` puts the
old bytes back, and the envelope is as it was. The ciphertext is never
written, so the envelope's content cannot be damaged either way.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bidcrypt.errors import InputError, OutputError
from bidcrypt.files import atomic_output, input_error, output_error, read_input
from bidcrypt.i18n import pick

_MAGIC = b"bidcrypt re-encryption journal 1\n"
#: Largest journal read back (it holds two small regions of an envelope).
_MAX_JOURNAL = 16 << 20


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
    """*path* opened for reading and writing, locked against a second writer; yields the descriptor."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise input_error(exc, path) from exc
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InputError(
                pick("the file is being re-encrypted by another process", "文件正被另一进程重新加密"),
                path=path,
            ) from exc
        yield descriptor
    finally:
        os.close(descriptor)


def apply(path: Path, descriptor: int, patch: Patch) -> None:
    """Write *patch* into the file open at *descriptor*, journalled; undone on any failure."""
    size = os.fstat(descriptor).st_size
    old_front = os.pread(descriptor, len(patch.front), 0)
    old_tail = os.pread(descriptor, size - patch.tail_at, patch.tail_at)
    journal = journal_path(path)
    record = json.dumps({"size": size, "front": len(old_front), "tail_at": patch.tail_at}).encode()
    body = record + b"\n" + old_front + old_tail
    with atomic_output(journal) as sink:
        sink.write(_MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    _sync_directory(path.parent)
    try:
        _write_all(descriptor, patch.front, 0)
        _write_all(descriptor, patch.tail, patch.tail_at)
        os.ftruncate(descriptor, patch.tail_at + len(patch.tail))
        os.fsync(descriptor)
    except BaseException as failure:
        with contextlib.suppress(InputError, OutputError):  # else the journal stays for the next run
            recover(path)
        if isinstance(failure, OSError):
            raise output_error(failure, path) from failure
        raise
    journal.unlink()
    _sync_directory(path.parent)


def recover(path: Path) -> bool:
    """Undo an interrupted in-place rewrite of *path* from its journal; False when there is none."""
    journal = journal_path(path)
    if not journal.exists():
        return False
    data = read_input(journal, max_size=_MAX_JOURNAL)
    damaged = InputError(pick("the re-encryption journal is damaged", "重新加密日志已损坏"), path=journal)
    if not data.startswith(_MAGIC):
        raise damaged
    digest, _, body = data[len(_MAGIC) :].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise damaged
    line, _, regions = body.partition(b"\n")
    try:
        record = json.loads(line)
        size, front, tail_at = int(record["size"]), int(record["front"]), int(record["tail_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise damaged from exc
    if len(regions) != front + size - tail_at:
        raise damaged
    try:
        descriptor = os.open(path, os.O_RDWR)
        try:
            _write_all(descriptor, regions[:front], 0)
            _write_all(descriptor, regions[front:], tail_at)
            os.ftruncate(descriptor, size)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise output_error(exc, path) from exc
    journal.unlink()
    _sync_directory(path.parent)
    return True


def _write_all(descriptor: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(descriptor, view, offset)
        view, offset = view[written:], offset + written


def _sync_directory(directory: Path) -> None:
    """Make a file's appearance or removal in *directory* durable (where the platform allows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
