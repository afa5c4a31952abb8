"""A seal's page number comes from one walk of the page tree, the same numbers pyHanko gives page by page.

A tree whose ``/Count`` entries do not match its pages is numbered page by
page as pyHanko finds them, as before.
"""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from bidcrypt.seal.verify import _pages_in_order


def _pdf(objects: dict[int, str]) -> PdfFileReader:
    """A PDF of *objects* (number -> body), object 1 the catalog, with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(f"{number} 0 obj\n{objects[number]}\nendobj\n".encode())
    table = out.tell()
    size = max(objects) + 1
    out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
    for number in range(1, size):
        out.write(f"{offsets.get(number, 0):010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{table}\n%%EOF\n".encode())
    out.seek(0)
    return PdfFileReader(out, strict=False)


def _page(parent: int) -> str:
    return f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 10 10] >>"


def _nested(root_count: int = 4, inner_count: int = 2) -> PdfFileReader:
    # root 2: [Pages 3: [page 5, page 6], page 4, Pages 7: [page 8]]
    return _pdf(
        {
            1: "<< /Type /Catalog /Pages 2 0 R >>",
            2: f"<< /Type /Pages /Kids [3 0 R 4 0 R 7 0 R] /Count {root_count} >>",
            3: f"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count {inner_count} >>",
            4: _page(2),
            5: _page(3),
            6: _page(3),
            7: "<< /Type /Pages /Parent 2 0 R /Kids [8 0 R] /Count 1 >>",
            8: _page(7),
        }
    )


def _page_by_page(reader: PdfFileReader) -> list[int]:
    count = int(reader.root["/Pages"]["/Count"])
    return [reader.find_page_for_modification(i)[0].idnum for i in range(count)]


def test_one_walk_gives_pyhankos_order() -> None:
    reader = _nested()
    assert _pages_in_order(reader.root.raw_get("/Pages")) == _page_by_page(reader) == [5, 6, 4, 8]


@pytest.mark.parametrize(("root_count", "inner_count"), [(3, 2), (4, 1), (5, 2)])
def test_counts_that_do_not_match_the_pages_leave_it_to_pyhanko(root_count: int, inner_count: int) -> None:
    assert _pages_in_order(_nested(root_count, inner_count).root.raw_get("/Pages")) is None


def test_a_tree_that_loops_is_not_walked() -> None:
    reader = _pdf(
        {
            1: "<< /Type /Catalog /Pages 2 0 R >>",
            2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: "<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        }
    )
    assert _pages_in_order(reader.root.raw_get("/Pages")) is None
