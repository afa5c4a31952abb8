"""Files in and out: unreadable inputs are an :class:`InputError`, outputs appear complete or not at all.

:func:`atomic_output` writes to a temporary file beside the output. Only
when the caller's block succeeds is the file flushed to disk and published,
with a hard link, so an existing output (even one that appeared meanwhile)
is never replaced unless ``force`` is given. On any failure, Ctrl-C
included, the temporary file is removed and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from bidcrypt.errors import InputError, OutputError, OutputExistsError
from bidcrypt.i18n import pick

#: What :func:`os.link` fails with where the file system has no hard links: publish by renaming.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
_COPY_CHUNK = 1 << 20
#: The kernel's first copy stops at a multiple of this in the source, so the rest starts on a
#: block boundary: where the output is at the same offset modulo the block, it can share blocks.
_CLONE_BOUNDARY = 1 << 16


class Sink(Protocol):
    """Where written bytes go: an output file, a BytesIO, a counter."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        ...


def input_error(exc: OSError, path: Path | str) -> InputError:
    """The :class:`InputError` for *exc*, raised while reading *path*."""
    return InputError(exc.strerror or str(exc), path=path)


def output_error(exc: OSError, path: Path | str) -> OutputError:
    """The :class:`OutputError` for *exc*, raised while writing *path*."""
    return OutputError(exc.strerror or str(exc), path=path, errno=exc.errno)


def open_input(path: Path, *, buffered: bool = True) -> BinaryIO:
    """*path* opened for reading; a directory or a file that cannot be opened is an :class:`InputError`.

    ``buffered=False`` gives the raw file, for readers that jump about and read
    what they need in one call each (a buffered read after a seek reads 8 KiB).
    """
    if path.is_dir():
        raise InputError(pick("is a directory", "是一个目录"), path=path)
    try:
        return path.open("rb", buffering=-1 if buffered else 0)
    except OSError as exc:
        raise input_error(exc, path) from exc


def read_input(path: Path, *, max_size: int | None = None, too_large: str = "") -> bytes:
    """The contents of the small file *path*, as an :class:`InputError` when it cannot be read.

    A file larger than *max_size* is refused with the detail *too_large*
    before it is read into memory.
    """
    with open_input(path) as stream:
        try:
            if max_size is None:
                return stream.read()
            if os.fstat(stream.fileno()).st_size > max_size:
                raise InputError(too_large or None, path=path)
            data = stream.read(max_size + 1)
        except OSError as exc:
            raise input_error(exc, path) from exc
    if len(data) > max_size:  # it grew after the check
        raise InputError(too_large or None, path=path)
    return data


def check_output(path: Path, force: bool) -> None:
    """Raise :class:`OutputExistsError` when *path* exists and *force* is not given."""
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExistsError(path=path)


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
        """Close the file."""
        try:
            self._file.close()
        except OSError as exc:
            raise output_error(exc, self._path) from exc


@contextlib.contextmanager
def atomic_output(
    path: Path, *, force: bool = False, private: bool = False, durable: bool = True
) -> Iterator[OutputFile]:
    """Write *path* completely or not at all.

    The block writes to a temporary file in the same directory; on success
    it is synced to the disk and becomes *path* (without replacing an
    existing file unless *force*), on failure it is deleted. *private*
    creates it readable by its owner only (mode 0600, for plaintext);
    otherwise the usual umask applies. ``durable=False`` skips the sync, for
    a caller that writes many files and syncs once at the end (``os.sync()``).
    """
    check_output(path, force)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    except OSError as exc:
        raise output_error(exc, path) from exc
    try:
        sink = OutputFile(fd, path, temporary)
        try:
            yield sink
            if durable:
                sink.sync()
        finally:
            sink.close()
        _publish(temporary, path, force)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _publish(temporary: Path, path: Path, force: bool) -> None:
    """Give the finished file its name; without *force*, never in place of a file that appeared meanwhile."""
    try:
        if force:
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
