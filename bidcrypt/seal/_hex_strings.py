"""Reading a PDF hex string (``<...>``) in one pass instead of one byte at a time.

pyHanko's reader reads a hex string one byte per call, skipping whitespace
and comments between the digits. A seal's ``/Contents`` is a hex string of
several kilobytes (the CMS signature), so that loop was a large part of
checking a seal. :func:`read_hex_string` gives the same result for the usual
form, digits and whitespace up to the closing ``>``, from one read; anything
else (a comment inside, a character that is not a digit, no closing
``>``) is handed to pyHanko's own reader from the same position, so that it
decides, and words any error, as before. :func:`install` makes pyHanko's
reader use it (its one caller, ``generic.read_object``, looks it up by name).
"""

from __future__ import annotations

import binascii
from typing import Any, BinaryIO

from pyhanko.pdf_utils import generic

#: PDF whitespace (ISO 32000-1, 7.2.2), as pyHanko's reader skips it.
_WHITESPACE = b" \n\r\t\f\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
#: How much is read at a time while looking for the closing ``>``.
_CHUNK = 1 << 16

#: pyHanko's own reader, for everything but the usual form.
_pyhanko_reader = generic.read_hex_string_from_stream


def read_hex_string(stream: BinaryIO) -> Any:
    """The hex string at *stream*'s position (at its ``<``), as pyHanko's reader returns it.

    Leaves *stream* just past the closing ``>``, as pyHanko's reader does.
    """
    start = stream.tell()
    stream.read(1)  # the "<"
    body = bytearray()
    while True:
        chunk = stream.read(_CHUNK)
        end = chunk.find(b">")
        if end >= 0:
            body += chunk[:end]
            break
        if not chunk:  # no closing ">": pyHanko says so
            return _by_pyhanko(stream, start)
        body += chunk
    digits = bytes(body).translate(None, _WHITESPACE)
    if b"%" in body or digits.translate(None, _HEX_DIGITS):  # a comment or a stray character
        return _by_pyhanko(stream, start)
    stream.seek(start + 1 + len(body) + 1)
    if len(digits) % 2:
        digits += b"0"  # an odd last digit is followed by 0 (ISO 32000-1, 7.3.4.3)
    return generic.pdf_string(binascii.unhexlify(digits))


def _by_pyhanko(stream: BinaryIO, start: int) -> Any:
    stream.seek(start)
    return _pyhanko_reader(stream)


def install() -> None:
    """Make pyHanko's object reader read hex strings with :func:`read_hex_string`."""
    generic.read_hex_string_from_stream = read_hex_string
