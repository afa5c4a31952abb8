"""The sample documents and seal images: reproducible, and what they claim to be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from ..conftest import FIXTURES
from .conftest import DOCUMENTS, SEALS, render_page


def test_regenerating_them_changes_nothing() -> None:
    if not Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists():
        pytest.skip("fonts-wqy-microhei is not installed")
    result = subprocess.run(
        [sys.executable, FIXTURES / "make_documents.py", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "match make_documents.py (9 files)" in result.stdout


def test_the_check_detects_drift(tmp_path: Path) -> None:
    if not Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists():
        pytest.skip("fonts-wqy-microhei is not installed")
    (tmp_path / "seals").mkdir()
    (tmp_path / "seals" / "bidder-a-company.png").write_bytes(b"not the seal")
    result = subprocess.run(
        [sys.executable, FIXTURES / "make_documents.py", "--check", "--out", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "seals/bidder-a-company.png" in result.stderr
    assert (tmp_path / "seals" / "bidder-a-company.png").read_bytes() == b"not the seal"


@pytest.mark.parametrize(
    ("bidder", "company", "person"),
    [
        ("bidder-a", "湖北楚天建设工程有限公司", "张伟"),
        ("bidder-b", "福建闽江科技股份有限公司", "林晓燕"),
        ("bidder-c", "浙江之江信息技术有限公司", "王建国"),
    ],
)
def test_each_response_is_four_pages_of_chinese_in_an_embedded_subset(
    bidder: str, company: str, person: str
) -> None:
    path = DOCUMENTS / f"bid-response-{bidder}.pdf"
    reader = pypdf.PdfReader(path)
    text = [page.extract_text() for page in reader.pages]
    assert len(text) == 4
    assert "投 标 文 件" in text[0] and "一、投标函" in text[1] and "二、开标一览表" in text[2]
    assert f"投标人（盖章）：{company}" in text[3] and f"姓名：{person}" in text[3]
    font = reader.pages[0]["/Resources"]["/Font"]["/F1"]
    descendant = font["/DescendantFonts"][0].get_object()
    assert font["/Subtype"] == "/Type0" and descendant["/Subtype"] == "/CIDFontType2"
    assert str(font["/BaseFont"]).endswith("+WenQuanYiMicroHei")  # a subset, with its tag
    assert "/FontFile2" in descendant["/FontDescriptor"]
    assert path.stat().st_size < 80_000


def test_the_seals_are_red_and_round_or_square(tmp_path: Path) -> None:
    from bidcrypt.seal import SealImage

    company = SealImage.load(SEALS / "bidder-a-company.png")
    legal = SealImage.load(SEALS / "bidder-a-legal-person.png")
    assert company.alpha is not None and legal.alpha is not None
    # Every painted pixel is seal red.
    painted = {company.samples[3 * p : 3 * p + 3] for p, a in enumerate(company.alpha) if a}
    assert painted == {bytes((222, 28, 36))}
    # The company seal is a ring: its centre row is opaque at the rim and clear just inside it.
    row = company.height // 2
    alpha_row = company.alpha[row * company.width : (row + 1) * company.width]
    assert alpha_row[3] == 0 and alpha_row[15] > 128 and alpha_row[40] == 0
    # The legal-person seal is a square frame: opaque along its edges, all around.
    w = legal.width
    assert all(legal.alpha[y * w + 12] > 128 for y in range(20, w - 20))
    assert all(legal.alpha[12 * w + x] > 128 for x in range(20, w - 20))
    # The unsealed documents have no red at all (so a red pixel on a sealed page is the seal's).
    assert render_page(DOCUMENTS / "bid-response-bidder-a.pdf", 1, tmp_path).red_total() == 0
