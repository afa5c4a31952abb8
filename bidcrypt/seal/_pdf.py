"""Reading PDFs to seal or verify: pyHanko's reader, refusing what is not a PDF or is encrypted."""

from __future__ import annotations

from typing import BinaryIO

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from bidcrypt.errors import EncryptedPdfError, NotAPdfError
from bidcrypt.i18n import Text

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
        raise NotAPdfError(
            Text("cannot be read ({exc})", "无法读取（{exc}）", exc=exc),
            path=name,
        ) from exc
    if encrypted:
        raise EncryptedPdfError(path=name)
    return reader
