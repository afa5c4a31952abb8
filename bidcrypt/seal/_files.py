"""Reading PDFs to seal or verify, and writing outputs that appear only when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from bidcrypt.errors import EncryptedPdfError, InputError, NotAPdfError, OutputError, OutputExistsError
from bidcrypt.i18n import pick

#: How far into the file the ``%PDF-`` header may start (as PDF readers allow).
_HEADER_WINDOW = 1024


def open_pdf(stream: BinaryIO, name: str) -> PdfFileReader:
    """A pyHanko reader over *stream*, refusing a non-PDF and an encrypted PDF."""
    stream.seek(0)
    head = stream.read(_HEADER_WINDOW)
    if b"%PDF-" not in head:
        raise NotAPdfError(path=name)
    stream.seek(0)
    try:
        reader = PdfFileReader(stream, strict=False)
        encrypted = reader.encrypt_dict is not None
        if not encrypted:
            int(reader.root["/Pages"]["/Count"])  # parse the page tree now
    except (PdfError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise NotAPdfError(pick(f"cannot be read ({exc})", f"无法读取（{exc}）"), path=name) from exc
    if encrypted:
        raise EncryptedPdfError(path=name)
    return reader


def read_input(path: Path) -> BinaryIO:
    """Open an input file for reading, as an :class:`InputError` when that fails."""
    try:
        if path.is_dir():
            raise InputError(pick("is a directory", "是一个目录"), path=path)
        return path.open("rb")
    except OSError as exc:
        raise InputError(exc.strerror, path=path) from exc


@contextlib.contextmanager
def complete_output(output: Path) -> Iterator[Path]:
    """A temporary file beside *output* that becomes *output* only if the block succeeds.

    *output* must not exist (bidcrypt never overwrites); on any failure the
    temporary file is removed and nothing is left behind.
    """
    if output.exists() or output.is_symlink():
        raise OutputExistsError(path=output)
    temporary = output.with_name(f".{output.name}.{secrets.token_hex(6)}.part")
    try:
        # Created like any new file (mode 0666 less the umask), and only by us.
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise OutputError(exc.strerror, path=output) from exc
    try:
        yield temporary
        with temporary.open("rb+") as f:
            os.fsync(f.fileno())
        _publish(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _publish(temporary: Path, output: Path) -> None:
    """Move the finished file into place without replacing a file that appeared meanwhile."""
    try:
        os.link(temporary, output)
    except FileExistsError as exc:
        raise OutputExistsError(path=output) from exc
    except OSError:
        # A file system without hard links: check, then rename (a small race, documented).
        if output.exists():
            raise OutputExistsError(path=output) from None
        try:
            temporary.replace(output)
        except OSError as exc:
            raise OutputError(exc.strerror, path=output) from exc
        return
    temporary.unlink()
