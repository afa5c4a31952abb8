"""Where seals go: which pages (one, a list, the last, or every page: 逐页盖章) and in which box.

Boxes are ``(x1, y1, x2, y2)`` in PDF points (1/72 inch) in the page's
default user space, origin at the lower-left corner of the page's media box.
Without a box, a seal goes where a signature block usually is, lower right:

- the **company seal** (公章): a 40 mm square (the size of a round company
  seal) 1 inch from the right edge, 96 pt above the bottom;
- the **legal-person seal** (法人章): a 20 mm square left of the company
  seal's place, level with its centre.

Both are measured from the page's crop box, so they stay on the visible page.
Boxes are rounded to whole points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bidcrypt.errors import InputError
from bidcrypt.i18n import Text
from bidcrypt.seal.kind import SealKind

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

Box = tuple[float, float, float, float]
#: A box in whole points, as signature fields are placed.
PointBox = tuple[int, int, int, int]
PageChoice = Literal["last", "all"] | tuple[int, ...]

MM = 72 / 25.4
COMPANY_SEAL_SIZE = 40 * MM
LEGAL_PERSON_SEAL_SIZE = 20 * MM
RIGHT_MARGIN = 72.0
BOTTOM = 96.0
GAP = 36.0


@dataclass(frozen=True)
class Placement:
    """Pages (1-based numbers, ``"last"`` or ``"all"``) and an optional box for the seal(s)."""

    pages: PageChoice = "last"
    box: Box | None = None

    def __post_init__(self) -> None:
        if isinstance(self.pages, tuple):
            if not self.pages or any(p < 1 for p in self.pages):
                raise ValueError("page numbers start at 1")
        elif self.pages not in ("last", "all"):
            raise ValueError(f"pages must be 'last', 'all' or page numbers, not {self.pages!r}")
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if not (x2 > x1 and y2 > y1):
                raise ValueError("a box is x1,y1,x2,y2 with x2 > x1 and y2 > y1")

    @classmethod
    def parse(cls, pages: str | None = None, box: str | None = None) -> Placement:
        """From the command line's ``--page N|N,M,...|last|all`` and ``--box x1,y1,x2,y2``."""
        choice: PageChoice = "last"
        if pages is not None:
            text = pages.strip().lower()
            if text in ("last", "all"):
                choice = "last" if text == "last" else "all"
            else:
                try:
                    numbers = tuple(int(part) for part in text.split(","))
                except ValueError:
                    raise ValueError(f"not a page: {pages!r} (use N, N,M,..., last or all)") from None
                choice = tuple(dict.fromkeys(numbers))
        parsed_box: Box | None = None
        if box is not None:
            try:
                values = [float(part) for part in box.split(",")]
            except ValueError:
                raise ValueError(f"not a box: {box!r} (use x1,y1,x2,y2 in points)") from None
            if len(values) != 4:
                raise ValueError(f"not a box: {box!r} (use x1,y1,x2,y2 in points)")
            parsed_box = (values[0], values[1], values[2], values[3])
        return cls(choice, parsed_box)

    def page_indexes(self, page_count: int) -> list[int]:
        """The 0-based indexes of the pages to seal, in order; refuses pages the document lacks."""
        if self.pages == "last":
            return [page_count - 1]
        if self.pages == "all":
            return list(range(page_count))
        missing = [p for p in self.pages if p > page_count]
        if missing:
            raise InputError(
                Text(
                    "the document has {page_count} page(s); there is no page {missing}",
                    "文档共 {page_count} 页，没有第 {missing} 页",
                    page_count=page_count,
                    missing=missing[0],
                ),
                path=Text("--page", "--page"),
            )
        return [p - 1 for p in self.pages]

    def resolve(self, reader: PdfFileReader, kind: SealKind) -> list[tuple[int, PointBox]]:
        """(0-based page index, box in whole points) for every seal to make in the document *reader* reads."""
        page_count = int(reader.root["/Pages"]["/Count"])
        result = []
        for index in self.page_indexes(page_count):
            page_box = _crop_box(reader, index)
            box = _whole_points(self.box or default_box(kind, page_box))
            if not _inside(box, page_box):
                raise InputError(
                    Text(
                        "the box {show} is not inside page {value} ({show2})",
                        "位置 {show} 超出第 {value} 页的范围（{show2}）",
                        show=_show(box),
                        value=index + 1,
                        show2=_show(page_box),
                    ),
                    path="--box",
                )
            result.append((index, box))
        return result


def default_box(kind: SealKind, page_box: Box) -> Box:
    """The default place of a seal of *kind* on a page whose crop box is *page_box*."""
    left, bottom, right, _ = page_box
    company_right = right - RIGHT_MARGIN
    company_left = company_right - COMPANY_SEAL_SIZE
    if kind is SealKind.COMPANY:
        return (company_left, bottom + BOTTOM, company_right, bottom + BOTTOM + COMPANY_SEAL_SIZE)
    centre_y = bottom + BOTTOM + COMPANY_SEAL_SIZE / 2
    x2 = max(company_left - GAP, left + LEGAL_PERSON_SEAL_SIZE)
    half = LEGAL_PERSON_SEAL_SIZE / 2
    return (x2 - LEGAL_PERSON_SEAL_SIZE, centre_y - half, x2, centre_y + half)


def _crop_box(reader: PdfFileReader, index: int) -> Box:
    from pyhanko.pdf_utils import generic

    page_ref, _ = reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
    values: Sequence[float] | None = None
    for key in ("/CropBox", "/MediaBox"):
        node = page_ref.get_object()
        while isinstance(node, generic.DictionaryObject):
            if key in node:
                values = [float(v) for v in node[key]]
                break
            parent = node.get("/Parent")
            node = parent.get_object() if parent is not None else None
        if values is not None:
            break
    if values is None or len(values) != 4:
        return (0.0, 0.0, 595.0, 842.0)
    x1, y1, x2, y2 = values
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _whole_points(box: Box) -> PointBox:
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))


def _inside(box: Box, page: Box) -> bool:
    tolerance = 0.5
    return (
        box[0] >= page[0] - tolerance
        and box[1] >= page[1] - tolerance
        and box[2] <= page[2] + tolerance
        and box[3] <= page[3] + tolerance
    )


def _show(box: Box) -> str:
    return ",".join(f"{v:g}" for v in (round(c, 1) for c in box))
