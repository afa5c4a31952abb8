"""Seal images as poppler draws them: each PNG and JPEG form, sealed onto a page, rendered by pdftoppm."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest

from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.seal import Placement, SealKind, apply_seal, choose_entry

from ..conftest import Pki
from .conftest import Raster, document, render_page
from .pictures import CENTRES, FORMS, SIZE, encode_png, expected

pytestmark = pytest.mark.poppler

#: Where the seal goes on the blank A4 page, in points: 5 points a picture pixel.
BOX = (100.0, 300.0, 100.0 + 5 * SIZE, 300.0 + 5 * SIZE)
PAGE_HEIGHT = 842.0
WHITE = (255, 255, 255)


def blank_pdf(path: Path) -> Path:
    """A one-page blank A4 document: whatever is not white after sealing is the seal."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, PAGE_HEIGHT)
    with path.open("wb") as out:
        writer.write(out)
    return path


def seal_and_render(pki: Pki, source: Path, image: Path, directory: Path) -> Raster:
    """Seal *source* with *image* in BOX on page 1 and render the page at 72 dpi."""
    sealed = directory / "sealed.pdf"
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as key_source:
        apply_seal(
            source,
            sealed,
            choose_entry(key_source, SealKind.COMPANY),
            kind=SealKind.COMPANY,
            image=image,
            placement=Placement(pages=(1,), box=BOX),
        )
    return render_page(sealed, 1, directory, dpi=72)


def colour_at(raster: Raster, x: float, y: float) -> tuple[int, int, int]:
    """The rendered colour at (x, y) in points from the lower left (72 dpi: one pixel a point)."""
    offset = 3 * (int(PAGE_HEIGHT - y) * raster.width + int(x))
    return raster.pixels[offset], raster.pixels[offset + 1], raster.pixels[offset + 2]


@pytest.mark.parametrize("name", sorted(FORMS))
def test_each_form_is_drawn_with_its_pixels(pki: Pki, tmp_path: Path, name: str) -> None:
    data, transparent, grey, tolerance = FORMS[name]
    image = tmp_path / f"seal.{'jpg' if name.startswith('jpeg') else 'png'}"
    image.write_bytes(data)
    raster = seal_and_render(pki, blank_pdf(tmp_path / "blank.pdf"), image, tmp_path)
    scale = (BOX[2] - BOX[0]) / SIZE
    for quadrant, (px, py) in CENTRES.items():
        *colour, alpha = expected(quadrant, transparent, grey)
        want = tuple(colour) if alpha else WHITE  # a clear quadrant shows the white page
        x, y = BOX[0] + (px + 0.5) * scale, BOX[3] - (py + 0.5) * scale
        got = colour_at(raster, x, y)
        assert all(abs(a - b) <= tolerance + 2 for a, b in zip(got, want, strict=True)), (quadrant, got, want)
    # Outside the box the page stays white.
    assert colour_at(raster, BOX[0] - 5, BOX[1] - 5) == colour_at(raster, BOX[2] + 5, BOX[3] + 5) == WHITE


def test_a_palette_png_chosen_by_the_user_is_drawn_in_the_box(pki: Pki, tmp_path: Path) -> None:
    """A user's own image, here a 4-bit palette PNG: a red square with a transparent middle."""
    size = 16
    png = tmp_path / "own.png"
    png.write_bytes(
        encode_png(
            size,
            size,
            lambda x, y: (0 if 3 < x < 12 and 3 < y < 12 else 1,),
            3,
            4,
            palette=bytes([0, 0, 0, 220, 20, 30]),
            transparency=b"\0",
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
