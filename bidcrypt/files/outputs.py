"""Outputs: written to a locked temporary file, published complete or not at all.

:func:`atomic_output` writes to a temporary file beside the output. Only
when the caller's block succeeds is the file flushed to disk and published,
with a hard link, so an existing output (even one that appeared meanwhile)
is never replaced unless ``force`` is given, and even then only a regular
file is replaced (never a device, a FIFO, a directory or a link to one). The
directory is synced after publishing. On any failure, Ctrl-C and SIGTERM
included, the temporary file is removed and nothing is left behind.
:func:`copy_range` copies part of a file into an output, by the kernel where
it can.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from bidcrypt import _platform, _temporary
from bidcrypt.errors import OutputError, OutputExistsError
from bidcrypt.files.inputs import PathArg, as_path, file_type
from bidcrypt.i18n import Text

#: What :func:`os.link` fails with where the file system has no hard links: publish by renaming.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
_COPY_CHUNK = 1 << 20
#: The kernel's first copy stops at a multiple of this in the source, so the rest can start on a
#: block boundary: where the output is at the same offset modulo the block, it can share blocks.
_CLONE_BOUNDARY = 1 << 16


class Sink(Protocol):
    """Where written bytes go: an output file, a BytesIO, a counter."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        ...


def output_error(exc: OSError, path: PathArg) -> OutputError:
    """The :class:`OutputError` for *exc*, raised while writing *path*."""
    return OutputError(exc.strerror or str(exc), path=path, errno=exc.errno)


def check_output(path: PathArg, force: bool) -> None:
    """Refuse to write *path* over what is there.

    Without *force*, anything at *path* is an :class:`OutputExistsError`.
    With it, only a regular file may be replaced (or a symbolic link to one,
    or a dangling one: the link is replaced, its target is left alone); a
    directory, a device, a FIFO, a socket or a link to one of them is an
    :class:`OutputError` (``-o /dev/null --force`` must never replace
    ``/dev/null`` with a file).
    """
    path = as_path(path)
    try:
        status = os.lstat(path)
    except ValueError as exc:  # a NUL in the name
        raise OutputError(Text("the name holds a NUL character", "文件名含有 NUL 字符"), path=path) from exc
    except OSError:  # nothing there (or nothing we can see): creating the output will tell
        return
    if not force:
        raise OutputExistsError(path=path)
    _require_replaceable(path, status)


def _require_replaceable(path: Path, status: os.stat_result) -> None:
    mode = status.st_mode
    if stat.S_ISLNK(mode):
        try:
            mode = path.stat().st_mode
        except OSError:  # a dangling link
            return
        if stat.S_ISREG(mode):
            return
        what = file_type(mode) or ""
        raise OutputError(
            Text(
                "it is a symbolic link to {what}; only a regular file is replaced, even with --force",
                "这是指向{what}的符号链接；即使使用 --force，也只替换普通文件",
                what=what,
            ),
            path=path,
        )
    if not stat.S_ISREG(mode):
        what = file_type(mode) or ""
        raise OutputError(
            Text(
                "it is {what}; only a regular file is replaced, even with --force",
                "这是{what}；即使使用 --force，也只替换普通文件",
                what=what,
            ),
            path=path,
        )


class OutputFile:
    """The file :func:`atomic_output` writes: unbuffered, whole writes, failures as :class:`OutputError`."""

    def __init__(self, fd: int, path: Path, temporary: Path) -> None:
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._path = path
        #: Where the bytes are until they are published, for writers that reopen the file by name.
        self.temporary = temporary

    def fileno(self) -> int:
        """The file descriptor."""
        return self._file.fileno()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                written = self._file.write(view[done:])
                if written is None:  # pragma: no cover - only for non-blocking files
                    continue
                done += written
        except OSError as exc:
            raise output_error(exc, self._path) from exc
        return done

    def sync(self) -> None:
        """Flush the file to the disk."""
        try:
            os.fsync(self.fileno())
        except OSError as exc:
            raise output_error(exc, self._path) from exc

    def close(self) -> None:
        """Close the file (again: nothing)."""
        try:
            self._file.close()
        except OSError as exc:
            raise output_error(exc, self._path) from exc


@contextlib.contextmanager
def atomic_output(
    path: PathArg, *, force: bool = False, private: bool = False, durable: bool = True
) -> Iterator[OutputFile]:
    """Write *path* completely or not at all.

    The block writes to a temporary file in the same directory, locked for
    as long as its writer lives; on success it is synced to the disk and
    becomes *path* (without replacing an existing file unless *force*, and
    then only a regular file: see :func:`check_output`), and the directory
    is synced; on failure it is deleted. *private* creates it readable by
    its owner only (mode 0600, for plaintext); otherwise the usual umask
    applies. ``durable=False`` skips both syncs, for a caller that writes
    many files and syncs once at the end (``os.sync()``).
    """
    path = as_path(path)
    check_output(path, force)
    _temporary.clean_once(path.parent)
    try:
        descriptor, temporary = _temporary.create(path, private)
    except OSError as exc:
        raise output_error(exc, path) from exc
    try:
        # A second descriptor of the same open file keeps the lock until the output is published.
        lock = os.dup(descriptor) if _platform.HAS_FLOCK else None
    except OSError as exc:
        os.close(descriptor)
        _temporary.unlink_quietly(temporary)
        raise output_error(exc, path) from exc
    try:
        sink = OutputFile(descriptor, path, temporary)
        try:
            yield sink
            if durable:
                sink.sync()
        finally:
            sink.close()
        _publish(temporary, path, force)
        if durable:
            try:
                _platform.sync_directory(path.parent)
            except OSError as exc:
                raise output_error(exc, path) from exc
    except BaseException:
        _temporary.unlink_quietly(temporary)
        raise
    finally:
        if lock is not None:
            os.close(lock)


def _publish(temporary: Path, path: Path, force: bool) -> None:
    """Give the finished file its name; without *force*, never in place of a file that appeared meanwhile."""
    try:
        if force:
            check_output(path, force)  # again, just before: nothing but a regular file is replaced
            temporary.replace(path)
            return
        try:
            os.link(temporary, path)
        except FileExistsError as exc:
            raise OutputExistsError(path=path) from exc
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            check_output(path, force)  # no hard links here: check, then rename (a small race)
            temporary.replace(path)
            return
        temporary.unlink()
    except OSError as exc:
        raise output_error(exc, path) from exc


def remove_stale_outputs(directory: PathArg) -> int:
    """Remove the temporary files that killed :func:`atomic_output` writers left in *directory*.

    A file is removed only when all of these hold: its name is one
    :func:`atomic_output` gives (``.NAME.bidcrypt-<16 hex>.part``), it is a
    regular file (not a link) owned by this user, and its writer's lock is
    free (the writer is dead). Where the platform or file system has no
    locks, nothing is removed. Returns how many were removed.
    :func:`atomic_output` does it once per directory and process.
    """
    return _temporary.remove_stale(as_path(directory))


def copy_range(source: BinaryIO, offset: int, length: int, sink: Sink) -> int:
    """Copy *length* bytes of *source* from *offset* to *sink*; return how many were copied.

    Fewer than *length* only when *source* ends first. When *source* is a
    regular file and *sink* an :class:`OutputFile`, the kernel copies
    (:func:`os.copy_file_range`: no bytes pass through Python, and a file
    system that shares blocks between files clones whole blocks instead of
    copying them); otherwise, or from wherever the kernel declines, a
    read/write loop does.
    """
    done = 0
    if isinstance(sink, OutputFile) and hasattr(os, "copy_file_range"):
        descriptor = _regular_file(source)
        while descriptor is not None and done < length:
            up_to_boundary = -(offset + done) % _CLONE_BOUNDARY or length - done
            try:
                copied = os.copy_file_range(
                    descriptor, sink.fileno(), min(length - done, up_to_boundary), offset + done
                )
            except OSError:  # not possible here (file system, kernel): the loop reports real errors
                break
            if not copied:
                return done
            done += copied
    source.seek(offset + done)
    view = memoryview(bytearray(min(_COPY_CHUNK, length - done)))
    while done < length:
        n = source.readinto(view[: min(len(view), length - done)])  # type: ignore[attr-defined]
        if not n:
            break
        sink.write(view[:n])
        done += n
    return done


def _regular_file(stream: BinaryIO) -> int | None:
    """The descriptor of *stream* when it is a regular file, else None."""
    try:
        descriptor = stream.fileno()
        return descriptor if stat.S_ISREG(os.fstat(descriptor).st_mode) else None
    except (AttributeError, OSError, ValueError):  # BytesIO and the like (io.UnsupportedOperation)
        return None
