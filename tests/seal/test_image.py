"""Seal images: every PNG and JPEG form decodes to its pixels; bad and hostile files are refused clearly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import InputError
from bidcrypt.seal import SealImage

from ..conftest import Pki, run_cli
from .conftest import SEALS, document, leftovers
from .pictures import CENTRES, FORMS, SIZE, chunk, encode_png, expected, quadrant_png, quadrants, saved


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_form_decodes_to_the_quadrant_pixels(name: str) -> None:
    data, transparent, grey, tolerance = FORMS[name]
    image = SealImage.from_bytes(data, name)
    assert (image.width, image.height, image.bits) == (SIZE, SIZE, 8)
    assert (image.alpha is not None) == transparent
    # Pillow reads 16-bit grey with alpha as RGBA: grey is then checked in the pixels only.
    assert image.color_space in (("DeviceGray", "DeviceRGB") if grey else ("DeviceRGB", "Indexed"))
    picture = image.pillow().convert("RGBA")
    for quadrant, where in CENTRES.items():
        want = expected(quadrant, transparent, grey)
        got = picture.getpixel(where)
        assert isinstance(got, tuple)
        if want[3] == 0:
            assert got[3] == 0, (name, quadrant)
            continue
        assert all(abs(a - b) <= tolerance for a, b in zip(got, want, strict=True)), (name, quadrant, got)


def test_the_test_encoder_agrees_with_pillow() -> None:
    """encode_png (for the forms Pillow cannot write) reads back in Pillow as the source picture."""
    source = quadrants("RGBA")
    with Image.open(io.BytesIO(quadrant_png(6, 8, interlace=True))) as read:
        assert read.info.get("interlace") == 1
        assert read.convert("RGBA").tobytes() == source.tobytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 11),
    height=st.integers(1, 9),
    color_type=st.sampled_from([0, 2, 4, 6]),
    interlace=st.booleans(),
    data=st.data(),
)
def test_sixteen_bit_samples_keep_their_high_byte(
    width: int, height: int, color_type: int, interlace: bool, data: st.DataObject
) -> None:
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    values = data.draw(
        st.lists(
            st.integers(0, 0xFFFF), min_size=width * height * channels, max_size=width * height * channels
        )
    )

    def pixel(x: int, y: int) -> tuple[int, ...]:
        start = (y * width + x) * channels
        return tuple(values[start : start + channels])

    image = SealImage.from_bytes(encode_png(width, height, pixel, color_type, 16, interlace))
    high = [v >> 8 for v in values]
    colour = [v for i, v in enumerate(high) if color_type in (0, 2) or i % channels != channels - 1]
    if color_type == 4 and image.color_space == "DeviceRGB":  # Pillow reads 16-bit grey+alpha as RGBA
        colour = [v for v in colour for _ in range(3)]
    alpha = [v for i, v in enumerate(high) if color_type in (4, 6) and i % channels == channels - 1]
    assert image.samples == bytes(colour)
    assert image.alpha == (bytes(alpha) if alpha else None)


def test_a_four_bit_palette_with_transparency_gets_an_alpha_channel() -> None:
    palette = bytes([255, 255, 255, 222, 28, 36, 0, 0, 0])
    indices = [[0, 1, 2], [1, 2, 0]]
    png = encode_png(3, 2, lambda x, y: (indices[y][x],), 3, 4, palette=palette, transparency=bytes([0, 255]))
    image = SealImage.from_bytes(png)
    assert image.alpha == bytes([0, 255, 255, 255, 255, 0])  # index 0 transparent, others opaque
    assert image.pillow().convert("RGB").getpixel((1, 0)) == (222, 28, 36)


@pytest.mark.parametrize(("color_type", "depth", "key"), [(0, 8, 255), (0, 16, 0xFFFF), (2, 8, 255)])
def test_a_colour_key_becomes_transparency(color_type: int, depth: int, key: int) -> None:
    """tRNS on greyscale or RGB (a colour key): the key colour is clear, the rest opaque."""
    values = [0, key]
    png = encode_png(
        2, 1, lambda x, _: (values[x],) * (1 if color_type == 0 else 3), color_type, depth,
        transparency=struct.pack(">H", key) * (1 if color_type == 0 else 3),
    )  # fmt: skip
    image = SealImage.from_bytes(png)
    assert image.alpha == bytes([255, 0])


def test_an_exif_orientation_turns_a_photo_upright() -> None:
    """A phone's JPEG stored sideways with orientation 6 (rotate 90° clockwise to view)."""
    upright = quadrants("RGB", clear_corner=False)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6
    image = SealImage.from_bytes(saved(stored, "JPEG", quality=95, exif=exif.tobytes()))
    picture = image.pillow()
    for quadrant, where in CENTRES.items():
        got = picture.getpixel(where)
        assert isinstance(got, tuple)
        want = expected(quadrant, False, False)[:3]
        assert all(abs(a - b) <= 12 for a, b in zip(got, want, strict=True)), (quadrant, got)


def test_the_fixture_seals_are_rgba_with_transparent_corners() -> None:
    for path in sorted(SEALS.glob("*.png")):
        image = SealImage.load(path)
        assert image.color_space == "DeviceRGB" and image.alpha is not None, path
        assert image.alpha[0] == image.alpha[-1] == 0, path  # transparent corners
        assert max(image.alpha) > 200, path  # and strong ink


def test_a_seal_image_is_a_value() -> None:
    data = FORMS["png-rgba-8"][0]
    first, second = SealImage.from_bytes(data), SealImage.from_png(data)
    assert first == second and hash(first) == hash(second)
    assert SealImage.from_bytes(saved(first.pillow(), "PNG")) == first
    with pytest.raises(ValueError, match="do not match"):
        SealImage(2, 2, "DeviceRGB", b"\0" * 11)


# --- refusals ----------------------------------------------------------------------------------


def _png_header(width: int, height: int, depth: int = 8, color_type: int = 6) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    )


def _claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims *width* × *height* pixels, with one byte of image data."""
    return _png_header(width, height) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def _damaged_at(png: bytes, tag: bytes, offset: int) -> bytes:
    """*png* with one byte of chunk *tag* flipped, *offset* bytes into its body."""
    at = png.index(tag) + 4 + offset
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1 :]


def _bomb() -> bytes:
    """A 20 000 × 20 000 black-and-white PNG: about 50 MB of pixels in a 50 KB file."""
    raw = zlib.compressobj(9)
    row = b"\0" * (1 + 20_000 // 8)
    body = b"".join(raw.compress(row) for _ in range(20_000)) + raw.flush()
    return _png_header(20_000, 20_000, 1, 0) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


GOOD_PNG = FORMS["png-rgba-8"][0]
GOOD_JPEG = FORMS["jpeg-rgb"][0]
BAD = {
    "gif": (saved(quadrants("RGB"), "GIF"), "not a PNG or JPEG image"),
    "bmp": (saved(quadrants("RGB"), "BMP"), "not a PNG or JPEG image"),
    "pdf": (document().read_bytes(), "not a PNG or JPEG image"),
    "text": (b"a seal, honestly", "not a PNG or JPEG image"),
    "empty": (b"", "not a PNG or JPEG image"),
    "truncated-png": (GOOD_PNG[: len(GOOD_PNG) // 2], "damaged or truncated image"),
    "header-only-png": (_png_header(16, 16), "damaged or truncated image"),
    "truncated-jpeg": (GOOD_JPEG[: len(GOOD_JPEG) // 2], "damaged or truncated image"),
    # Pillow checks the CRC of the chunks before the image data; zlib's checksum covers the data.
    "bad-header-checksum-png": (_damaged_at(GOOD_PNG, b"IHDR", 13 + 3), "damaged or truncated image"),
    "bad-data-png": (_damaged_at(GOOD_PNG, b"IDAT", 20), "damaged or truncated image"),
    "wide-png": (_claiming(50_000, 10), "image must be at most 4096 pixels a side"),
    "tall-png": (_claiming(1, 4097), "image must be at most 4096 pixels a side"),
    "empty-png": (_claiming(0, 0), "damaged or truncated image"),
    "bomb-png": (_bomb(), "image must be at most 4096 pixels a side"),
    # Past Pillow's own decompression-bomb limits (a warning, then an error).
    "giant-png": (_claiming(10_000, 10_000), "image must be at most 4096 pixels a side"),
    "huge-png": (_claiming(100_000, 100_000), "image must be at most 4096 pixels a side"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_images_are_refused_with_the_file_and_a_reason(name: str) -> None:
    data, reason = BAD[name]
    with pytest.raises(InputError, match=reason) as caught:
        SealImage.from_bytes(data, f"{name}.png")
    assert caught.value.params == {"path": f"{name}.png"}
    assert str(caught.value) == f"cannot use {name}.png: {reason}"


def test_a_giant_image_is_refused_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    """Pillow's decompression-bomb warning would reach the user's terminal; the refusal comes first."""
    with pytest.raises(InputError, match="at most 4096 pixels"):
        SealImage.from_bytes(BAD["giant-png"][0])
    assert [str(w.message) for w in recwarn] == []


def test_a_file_too_large_for_a_seal_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as out:
        out.truncate((16 << 20) + 1)
    with pytest.raises(InputError, match="too large for a seal image"):
        SealImage.load(path)


@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from([GOOD_PNG, GOOD_JPEG, FORMS["png-palette"][0]]), data=st.data())
def test_damaged_images_decode_or_are_refused_never_crash(base: bytes, data: st.DataObject) -> None:
    """Bytes overwritten, cut or inserted anywhere: a SealImage or an InputError, nothing else."""
    damaged = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        action = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "set":
            damaged[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del damaged[at : at + data.draw(st.integers(1, 64))]
        else:
            damaged[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        if not damaged:
            break
    try:
        image = SealImage.from_bytes(bytes(damaged), "fuzzed.png")
    except InputError as exc:
        assert exc.params == {"path": "fuzzed.png"}
    else:
        assert 0 < image.width <= 4096 and 0 < image.height <= 4096


@pytest.mark.parametrize("name", ["text", "truncated-jpeg", "bomb-png"])
def test_the_cli_refuses_a_bad_image_with_its_name_and_exit_code(pki: Pki, tmp_path: Path, name: str) -> None:
    image = tmp_path / f"{name}.png"
    image.write_bytes(BAD[name][0])
    result = run_cli(
        "seal", "apply", document(), "-o", tmp_path / "out.pdf", "--key", pki.p12("bidder-a/sign"),
        "--kind", "company", "--image", image, env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == exit_code_for(InputError) == 3, result.output
    assert f"error[invalid-input]: cannot use {image}: {BAD[name][1]}" in result.stderr
    assert leftovers(tmp_path, image) == []
