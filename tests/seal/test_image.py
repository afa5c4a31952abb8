"""Seal images: the PNG reader against PNGs written here with every colour type, depth and filter."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import InputError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.seal import Placement, SealImage, SealKind, apply_seal, choose_entry

from ..conftest import Pki
from .conftest import SEALS, document, render_page

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def encode_png(
    width: int,
    height: int,
    rows: list[bytes],
    color_type: int,
    depth: int,
    filters: list[int],
    palette: bytes | None = None,
    transparency: bytes | None = None,
    interlace: int = 0,
) -> bytes:
    """A PNG of raw *rows* (already packed), each filtered with the given filter type."""
    bpp = max(1, CHANNELS[color_type] * depth // 8)
    raw = bytearray()
    previous = bytes(len(rows[0]))
    for row, kind in zip(rows, filters, strict=True):
        out = bytearray()
        for i, value in enumerate(row):
            left = row[i - bpp] if i >= bpp else 0
            up = previous[i]
            upper_left = previous[i - bpp] if i >= bpp else 0
            predictor = [0, left, up, (left + up) // 2, _paeth(left, up, upper_left)][kind]
            out.append((value - predictor) & 0xFF)
        raw += bytes([kind]) + out
        previous = row

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    )
    if palette is not None:
        png += chunk(b"PLTE", palette)
    if transparency is not None:
        png += chunk(b"tRNS", transparency)
    return png + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 9),
    height=st.integers(1, 6),
    color_type=st.sampled_from([0, 2, 4, 6]),
    depth=st.sampled_from([8, 16]),
    data=st.data(),
)
def test_any_filtered_image_decodes_to_its_samples(
    width: int, height: int, color_type: int, depth: int, data: st.DataObject
) -> None:
    stride = width * CHANNELS[color_type] * depth // 8
    rows = [data.draw(st.binary(min_size=stride, max_size=stride)) for _ in range(height)]
    filters = data.draw(st.lists(st.integers(0, 4), min_size=height, max_size=height))
    image = SealImage.from_png(encode_png(width, height, rows, color_type, depth, filters))
    sample = depth // 8
    channels = CHANNELS[color_type]
    pixels = b"".join(rows)
    if color_type in (4, 6):
        colour = bytes(
            b
            for p in range(width * height)
            for b in pixels[p * channels * sample : (p * channels + channels - 1) * sample]
        )
        alpha = bytes(
            b
            for p in range(width * height)
            for b in pixels[(p * channels + channels - 1) * sample : (p + 1) * channels * sample]
        )
        assert (image.samples, image.alpha, image.alpha_bits) == (colour, alpha, depth)
    else:
        assert image.samples == pixels and image.alpha is None
    assert (image.width, image.height, image.bits) == (width, height, depth)
    assert image.color_space == ("DeviceGray" if color_type in (0, 4) else "DeviceRGB")


def test_a_four_bit_palette_with_transparency_gets_a_soft_mask() -> None:
    palette = bytes([255, 255, 255, 222, 28, 36, 0, 0, 0])
    rows = [bytes([0x01, 0x20]), bytes([0x12, 0x00])]  # indices 0 1 2 0 / 1 2 0 0 (4 bits each)
    png = encode_png(3, 2, rows, 3, 4, [0, 1], palette=palette, transparency=bytes([0, 255]))
    image = SealImage.from_png(png)
    assert (image.color_space, image.bits, image.palette) == ("Indexed", 4, palette)
    assert image.alpha == bytes([0, 255, 255, 255, 255, 0])  # index 0 transparent, others opaque


def test_grey_with_a_colour_key_becomes_a_pdf_mask() -> None:
    png = encode_png(2, 1, [bytes([0, 255])], 0, 8, [0], transparency=struct.pack(">H", 255))
    image = SealImage.from_png(png)
    assert image.color_key == (255, 255) and image.alpha is None


@pytest.mark.parametrize(
    ("png", "message"),
    [
        (b"GIF89a....", "not a PNG image"),
        (encode_png(1, 1, [b"\0"], 0, 8, [0], interlace=1), "interlaced PNG"),
        (encode_png(1, 1, [b"\0"], 0, 8, [0])[:-20], "truncated PNG image"),
        # The IDAT checksum's last byte and the whole IEND chunk zeroed.
        (encode_png(1, 1, [b"\0"], 0, 8, [0])[:-13] + b"\0" * 13, "damaged PNG image"),
    ],
)
def test_bad_images_are_refused_with_a_reason(png: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        SealImage.from_png(png, "seal.png")


def test_a_huge_image_is_refused() -> None:
    header = struct.pack(">IIBBBBB", 50000, 10, 8, 6, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + header
        + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    )
    with pytest.raises(InputError, match="at most 4096 pixels"):
        SealImage.from_png(png)


def test_the_fixture_seals_are_rgba_with_transparent_corners() -> None:
    for path in sorted(SEALS.glob("*.png")):
        image = SealImage.load(path)
        assert image.color_space == "DeviceRGB" and image.alpha is not None, path
        assert image.alpha[0] == image.alpha[-1] == 0, path  # transparent corners
        assert max(image.alpha) > 200, path  # and strong ink


def test_a_palette_png_chosen_by_the_user_is_drawn_in_the_box(pki: Pki, tmp_path: Path) -> None:
    """A user's own image, here a 4-bit palette PNG: a red square with a transparent middle."""
    size = 16
    rows = []
    for y in range(size):
        indices = [0 if 3 < x < 12 and 3 < y < 12 else 1 for x in range(size)]
        rows.append(bytes((indices[i] << 4) | indices[i + 1] for i in range(0, size, 2)))
    png = tmp_path / "own.png"
    png.write_bytes(
        encode_png(
            size, size, rows, 3, 4, [4] * size, palette=bytes([0, 0, 0, 220, 20, 30]), transparency=b"\0"
        )
    )
    box = (100.0, 300.0, 200.0, 400.0)
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
        apply_seal(
            document(),
            tmp_path / "own.pdf",
            choose_entry(source, SealKind.COMPANY),
            kind=SealKind.COMPANY,
            image=png,
            placement=Placement(pages=(2,), box=box),
        )
    raster = render_page(tmp_path / "own.pdf", 2, tmp_path, dpi=72)
    red, area = raster.red_in(box, 842.0)
    assert red > 0.5 * area
    middle, middle_area = raster.red_in((140.0, 340.0, 160.0, 360.0), 842.0)
    assert middle == 0 and middle_area > 0  # transparent: the page shows through
    assert raster.red_total() == red
