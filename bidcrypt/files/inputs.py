"""Inputs: only a regular file is read, and a file read whole is refused when larger than its kind allows.

:func:`open_input` opens only a regular file: a directory, a device, a FIFO
or a socket is refused by name, and a FIFO is refused without waiting for a
writer (it is opened non-blocking, checked, then set back to blocking).
:func:`read_input` reads a small file whole, refusing one larger than the
limit of its :class:`InputKind` before reading it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bidcrypt import _platform
from bidcrypt.errors import InputError
from bidcrypt.i18n import Text

#: What every public function taking a path accepts.
PathArg = str | os.PathLike[str]
#: The progress of a streaming operation, called after each chunk as ``progress(done, total)`` in
#: bytes; *total* is None when the size is not known in advance (a pipe).
ByteProgress = Callable[[int, int | None], None]


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


def input_error(exc: OSError, path: PathArg) -> InputError:
    """The :class:`InputError` for *exc*, raised while reading *path*."""
    return InputError(exc.strerror or str(exc), path=path)


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


def regular_file_problem(path: PathArg) -> Text | None:
    """Why *path* (symbolic links followed) is no regular file to load, or None when it is one.

    For a library handed to the dynamic loader: a FIFO would block it
    forever, a directory or device gives an obscure message.
    """
    try:
        mode = as_path(path).stat().st_mode
    except FileNotFoundError:
        return Text("no such file", "文件不存在")
    except (OSError, ValueError) as exc:  # a NUL in the name, a name too long, no permission
        return Text("{reason}", "{reason}", reason=getattr(exc, "strerror", None) or str(exc))
    return None if stat.S_ISREG(mode) else _not_a_file(mode)


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
