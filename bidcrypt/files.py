"""Files in and out: inputs are regular files of a sane size, outputs appear complete or not at all.

Inputs. :func:`open_input` opens only a regular file: a directory, a
device, a FIFO or a socket is refused by name, and a FIFO is refused
without waiting for a writer (it is opened non-blocking, checked, then set
back to blocking). :func:`read_input` reads a small file whole, refusing
one larger than the limit of its :class:`InputKind` before reading it.

Outputs. :func:`atomic_output` writes to a temporary file beside the
output. Only when the caller's block succeeds is the file flushed to disk
and published, with a hard link, so an existing output (even one that
appeared meanwhile) is never replaced unless ``force`` is given, and even
then only a regular file is replaced (never a device, a FIFO, a directory
or a link to one). The directory is synced after publishing. On any
failure, Ctrl-C and SIGTERM included, the temporary file is removed and
nothing is left behind.

Each temporary file is named ``.NAME.bidcrypt-<16 hex>.part`` and is
locked (``flock``) by its writer for as long as the writer lives. When the
writer is killed (SIGKILL, a crash) the file stays, unlocked; the next
:func:`atomic_output` into the same directory removes it (see
:func:`remove_stale_outputs`). Nothing else is ever removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from bidcrypt import _platform, _temporary
from bidcrypt.errors import InputError, OutputError, OutputExistsError
from bidcrypt.i18n import Text

#: What every public function taking a path accepts.
PathArg = str | os.PathLike[str]

#: What :func:`os.link` fails with where the file system has no hard links: publish by renaming.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
_COPY_CHUNK = 1 << 20
#: The kernel's first copy stops at a multiple of this in the source, so the rest can start on a
#: block boundary: where the output is at the same offset modulo the block, it can share blocks.
_CLONE_BOUNDARY = 1 << 16


def as_path(path: PathArg) -> Path:
    """*path* (a ``str`` or any ``os.PathLike``) as a :class:`~pathlib.Path`."""
    return path if isinstance(path, Path) else Path(os.fspath(path))


@dataclass(frozen=True)
class InputKind:
    """A kind of input file read whole into memory, and the largest size accepted for it."""

    en: str
    zh: str
    max_size: int

    def too_large(self, max_size: int | None = None) -> Text:
        """The refusal of a file larger than *max_size* (default: this kind's limit)."""
        size = _size_text(self.max_size if max_size is None else max_size)
        return Text(
            "larger than {size}: too large for {en}",
            "大于 {size}，作为{zh}过大",
            size=size,
            en=self.en,
            zh=self.zh,
        )


#: Certificate files, trust bundles included (a bundle of every Chinese CA is a few hundred KiB).
CERTIFICATES = InputKind("a certificate file", "证书文件", 16 << 20)
#: Certificate revocation lists (a large CA's full CRL is some tens of MiB).
CRL = InputKind("a CRL", "证书吊销列表", 64 << 20)
#: The summary TOML given to ``pack``.
SUMMARY = InputKind("a summary file", "摘要文件", 1 << 20)
#: PKCS#12 key stores.
PKCS12 = InputKind("a PKCS#12 file", "PKCS#12 文件", 1 << 20)
#: Any other file read whole.
SMALL_FILE = InputKind("a file read into memory", "读入内存的文件", 64 << 20)


def _size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


class Sink(Protocol):
    """Where written bytes go: an output file, a BytesIO, a counter."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Write all of *data*."""
        ...


def input_error(exc: OSError, path: PathArg) -> InputError:
    """The :class:`InputError` for *exc*, raised while reading *path*."""
    return InputError(exc.strerror or str(exc), path=path)


def output_error(exc: OSError, path: PathArg) -> OutputError:
    """The :class:`OutputError` for *exc*, raised while writing *path*."""
    return OutputError(exc.strerror or str(exc), path=path, errno=exc.errno)


def file_type(mode: int) -> Text | None:
    """What a non-regular file of *mode* is, in words (both languages); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, en, zh in (
        (stat.S_ISDIR, "a directory", "目录"),
        (stat.S_ISFIFO, "a FIFO (named pipe)", "命名管道（FIFO）"),
        (stat.S_ISCHR, "a character device", "字符设备"),
        (stat.S_ISBLK, "a block device", "块设备"),
        (stat.S_ISSOCK, "a socket", "套接字"),
        (stat.S_ISLNK, "a symbolic link", "符号链接"),
    ):
        if test(mode):
            return Text(en, zh)
    return Text("not a regular file", "非普通文件")


def _not_a_file(mode: int) -> Text:
    what = file_type(mode) or ""
    return Text("it is {what}, not a regular file", "这是{what}，不是普通文件", what=what)


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except OSError:
        return None


def open_input(path: PathArg, *, buffered: bool = True, streams: bool = False) -> BinaryIO:
    """The regular file *path*, opened for reading; anything else is an :class:`InputError`.

    A directory, a device, a FIFO or a socket is refused by name, and a
    FIFO without blocking: the file is opened non-blocking, checked with
    ``fstat``, and only then set back to blocking reads. *streams* also
    accepts a pipe, a FIFO or a character device (``/dev/stdin``), for
    the one reader that streams its input from start to end (envelope
    encryption); opening a FIFO then waits for its writer, as a stream
    should. ``buffered=False`` gives the raw file, for readers that jump
    about and read what they need in one call each (a buffered read after a
    seek reads 8 KiB).
    """
    path = as_path(path)
    flags = os.O_RDONLY | _platform.O_BINARY | _platform.O_CLOEXEC | _platform.O_NOCTTY
    if not streams:
        flags |= _platform.O_NONBLOCK
    try:
        descriptor = os.open(path, flags)
    except ValueError as exc:  # a NUL in the name
        raise InputError(Text("the name holds a NUL character", "文件名含有 NUL 字符"), path=path) from exc
    except OSError as exc:
        # What cannot be opened at all (a socket; a directory on Windows) is named for what it is.
        mode = _mode(path)
        if mode is not None and not stat.S_ISREG(mode):
            raise InputError(_not_a_file(mode), path=path) from exc
        raise input_error(exc, path) from exc
    try:
        mode = os.fstat(descriptor).st_mode
        streamable = streams and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode))
        if not stat.S_ISREG(mode) and not streamable:
            raise InputError(_not_a_file(mode), path=path)
        if flags & _platform.O_NONBLOCK:
            os.set_blocking(descriptor, True)
        stream: BinaryIO = os.fdopen(descriptor, "rb", buffering=-1 if buffered else 0)
    except OSError as exc:
        os.close(descriptor)
        raise input_error(exc, path) from exc
    except BaseException:
        os.close(descriptor)
        raise
    return stream


def read_input(
    path: PathArg, kind: InputKind = SMALL_FILE, *, max_size: int | None = None, too_large: str | Text = ""
) -> bytes:
    """The contents of the small regular file *path*, as an :class:`InputError` when it cannot be read.

    A file larger than the limit of *kind* (or *max_size*, when given) is
    refused before it is read into memory, with the detail *too_large*
    (default: the kind's own words).
    """
    path = as_path(path)
    limit = kind.max_size if max_size is None else max_size
    refusal = too_large or kind.too_large(limit)
    with open_input(path) as stream:
        try:
            if os.fstat(stream.fileno()).st_size > limit:
                raise InputError(refusal, path=path)
            data = stream.read(limit + 1)
        except OSError as exc:
            raise input_error(exc, path) from exc
    if len(data) > limit:  # it grew after the check
        raise InputError(refusal, path=path)
    return data


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
