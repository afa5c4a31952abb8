"""Test pictures: a quadrant picture in every PNG and JPEG form a seal image may come in.

Pillow writes most of them. It writes no 16-bit colour PNG and no interlaced
PNG, so :func:`encode_png` writes those from the pixels (Adam7 passes, filter
type 0), checked against Pillow's reader in the tests.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image

#: The quadrants of the test picture (top left, top right, bottom left, bottom right).
RED = (222, 28, 36)
BLUE = (30, 60, 200)
GREEN = (20, 160, 60)
BLACK = (0, 0, 0)
SIZE = 32

#: Adam7: (x start, y start, x step, y step) of each pass.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def quadrants(mode: str = "RGBA", clear_corner: bool = True) -> Image.Image:
    """RED, BLUE / GREEN and a bottom-right quadrant that is transparent (or black when opaque)."""
    picture = Image.new("RGBA", (SIZE, SIZE), (*BLACK, 0 if clear_corner else 255))
    half = SIZE // 2
    for colour, (x, y) in ((RED, (0, 0)), (BLUE, (half, 0)), (GREEN, (0, half))):
        picture.paste((*colour, 255), (x, y, x + half, y + half))
    return picture if mode == "RGBA" else picture.convert(mode)


def chunk(tag: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def encode_png(
    width: int,
    height: int,
    pixel: Callable[[int, int], tuple[int, ...]],
    color_type: int,
    depth: int,
    interlace: bool = False,
    palette: bytes | None = None,
    transparency: bytes | None = None,
) -> bytes:
    """A PNG whose sample values at (x, y) are ``pixel(x, y)`` (one per channel, at *depth* bits)."""
    raw = bytearray()
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        columns = range(x0, width, dx)
        if not columns:
            continue
        for y in range(y0, height, dy):
            raw += b"\0" + _pack([v for x in columns for v in pixel(x, y)], depth)
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlace))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    if palette is not None:
        png += chunk(b"PLTE", palette)
    if transparency is not None:
        png += chunk(b"tRNS", transparency)
    return png + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


def _pack(values: list[int], depth: int) -> bytes:
    if depth == 16:
        return struct.pack(f">{len(values)}H", *values)
    if depth == 8:
        return bytes(values)
    out = bytearray()
    per_byte = 8 // depth
    for start in range(0, len(values), per_byte):
        group = values[start : start + per_byte]
        byte = 0
        for i, value in enumerate(group):
            byte |= value << (8 - depth * (i + 1))
        out.append(byte)
    return bytes(out)


def quadrant_png(color_type: int, depth: int, interlace: bool = False) -> bytes:
    """The quadrant picture as a PNG of *color_type* (2 or 6 colour, 0 or 4 grey) at *depth* bits.

    Greyscale stores the red channel; 16-bit samples repeat the 8-bit value (v * 257).
    """
    source = quadrants("RGBA", clear_corner=color_type in (4, 6))
    scale = 257 if depth == 16 else 1

    def pixel(x: int, y: int) -> tuple[int, ...]:
        r, g, b, a = source.getpixel((x, y))  # type: ignore[misc]
        values = {0: (r,), 2: (r, g, b), 4: (r, a), 6: (r, g, b, a)}[color_type]
        return tuple(v * scale for v in values)

    return encode_png(SIZE, SIZE, pixel, color_type, depth, interlace)


def saved(picture: Image.Image, format: str, **options: object) -> bytes:
    """*picture* written by Pillow in *format* with *options*."""
    out = io.BytesIO()
    picture.save(out, format, **options)
    return out.getvalue()


#: Where to look: the middle of each quadrant.
_QUARTER = SIZE // 4
CENTRES = {
    "top-left": (_QUARTER, _QUARTER),
    "top-right": (3 * _QUARTER, _QUARTER),
    "bottom-left": (_QUARTER, 3 * _QUARTER),
    "bottom-right": (3 * _QUARTER, 3 * _QUARTER),
}


def forms() -> dict[str, tuple[bytes, bool, bool, int]]:
    """name: (file bytes, has transparency, greyscale, tolerance) of the quadrant picture."""
    rgba = quadrants("RGBA")
    opaque = quadrants("RGB", clear_corner=False)
    palette = opaque.quantize(colors=4)
    entries = palette.getpalette() or []
    black = next(i for i in range(len(entries) // 3) if entries[3 * i : 3 * i + 3] == list(BLACK))
    return {
        "png-rgba-8": (saved(rgba, "PNG"), True, False, 0),
        "png-rgb-8": (saved(opaque, "PNG"), False, False, 0),
        "png-grey-8": (saved(opaque.getchannel("R"), "PNG"), False, True, 0),
        "png-palette": (saved(palette, "PNG"), False, False, 0),
        # The black corner's palette entry made clear.
        "png-palette-2bit-transparent": (saved(palette, "PNG", bits=2, transparency=black), True, False, 0),
        "png-rgba-interlaced": (quadrant_png(6, 8, interlace=True), True, False, 0),
        "png-rgb-interlaced": (quadrant_png(2, 8, interlace=True), False, False, 0),
        "png-rgba-16": (quadrant_png(6, 16), True, False, 0),
        "png-rgb-16": (quadrant_png(2, 16), False, False, 0),
        "png-grey-alpha-16-interlaced": (quadrant_png(4, 16, interlace=True), True, True, 0),
        "png-grey-16": (quadrant_png(0, 16), False, True, 0),
        "jpeg-rgb": (saved(opaque, "JPEG", quality=95), False, False, 12),
        "jpeg-grey": (saved(opaque.getchannel("R"), "JPEG", quality=95), False, True, 12),
        "jpeg-cmyk": (saved(opaque.convert("CMYK"), "JPEG", quality=95), False, False, 12),
        "jpeg-progressive": (saved(opaque, "JPEG", quality=95, progressive=True), False, False, 12),
    }


FORMS = forms()


def expected(quadrant: str, transparent: bool, grey: bool) -> tuple[int, int, int, int]:
    """The RGBA the picture has in *quadrant*."""
    colour = {"top-left": RED, "top-right": BLUE, "bottom-left": GREEN, "bottom-right": BLACK}[quadrant]
    if grey:
        colour = (colour[0],) * 3
    return (*colour, 0 if transparent and quadrant == "bottom-right" else 255)


__all__ = [
    "BLACK",
    "BLUE",
    "CENTRES",
    "FORMS",
    "GREEN",
    "RED",
    "SIZE",
    "chunk",
    "encode_png",
    "expected",
    "quadrant_png",
    "quadrants",
    "saved",
]
