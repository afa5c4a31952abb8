"""The manifest: canonical bytes, strict parsing, safe paths, the summary file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import InputError, ManifestError, UnsafePathError
from bidcrypt.package.manifest import (
    Bidder,
    FileEntry,
    Manifest,
    Role,
    Summary,
    load_summary_file,
)
from bidcrypt.package.paths import check_relative_path, files_under

name_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"), min_size=1, max_size=12
).filter(lambda part: part not in (".", "..") and not (len(part) > 1 and part[1] == ":"))
paths = (
    st.lists(name_text, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda p: not (len(p) > 1 and p[1] == ":"))
)
entries = st.builds(
    FileEntry,
    path=paths,
    size=st.integers(0, 2**40),
    sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
    role=st.sampled_from(Role),
)
summaries = st.builds(
    Summary,
    price=st.none() | st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    currency=st.sampled_from(["CNY", "USD", "EUR"]),
    duration=st.none() | st.text(min_size=1, max_size=10).filter(str.strip),
    items=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
)


def _unique_files(files: list[FileEntry]) -> tuple[FileEntry, ...]:
    seen: dict[str, FileEntry] = {}
    for entry in files:
        seen.setdefault(entry.path, entry)
    chosen = list(seen.values())
    folders = {"/".join(e.path.split("/")[:i]) for e in chosen for i in range(1, e.path.count("/") + 1)}
    return tuple(e for e in chosen if e.path not in folders)


manifests = st.builds(
    Manifest,
    tender=st.text(min_size=1, max_size=20).filter(str.strip),
    lot=st.none() | st.text(min_size=1, max_size=5).filter(str.strip),
    bidder=st.builds(
        Bidder, name=st.just("湖北楚天建设工程有限公司"), credit_code=st.just("91420100MA4KXB7Q09")
    ),
    created=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
    ),
    summary=summaries,
    files=st.lists(entries, max_size=6).map(_unique_files),
)


@settings(max_examples=200)
@given(manifests)
def test_round_trip(manifest: Manifest) -> None:
    data = manifest.to_bytes()
    assert Manifest.from_bytes(data) == manifest
    assert Manifest.from_bytes(data).to_bytes() == data  # canonical: the same bytes again


@given(st.binary(max_size=300))
def test_parsing_garbage_raises_only_manifest_errors(data: bytes) -> None:
    with pytest.raises((ManifestError, UnsafePathError)):
        Manifest.from_bytes(data)


def _valid() -> Manifest:
    return Manifest(
        tender="HBGP-2026-001",
        lot="1",
        bidder=Bidder("湖北楚天建设工程有限公司", "91420100MA4KXB7Q09"),
        created=dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        summary=Summary(Decimal("1234567.80"), "CNY", "180日历天", {"质保期": "2年"}),
        files=(FileEntry("技术标/方案.pdf", 10, "0" * 64, Role.RESPONSE),),
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"version":1', '"version":2'),
        ('"size":10', '"size":-1'),
        ('"role":"response-document"', '"role":"secret"'),
        ('"path":"技术标/方案.pdf"', '"path":"../方案.pdf"'),
        ('"path":"技术标/方案.pdf"', '"path":"/etc/passwd"'),
        ('"currency":"CNY"', '"currency":"yuan"'),
        ('"price":"1234567.80"', '"price":"-1"'),
        ('"tender":', '"extra":1,"tender":'),
    ],
)
def test_strict_parsing(old: str, new: str) -> None:
    text = _valid().to_bytes().decode()
    assert old in text
    with pytest.raises((ManifestError, UnsafePathError)):
        Manifest.from_bytes(text.replace(old, new).encode())


def test_duplicates_and_file_folder_clash() -> None:
    manifest = _valid()
    twice = manifest.files * 2
    with pytest.raises(ManifestError, match="duplicate"):
        Manifest.from_bytes(Manifest(**{**manifest.__dict__, "files": twice}).to_bytes())
    clash = (FileEntry("a", 1, "0" * 64, Role.ATTACHMENT), FileEntry("a/b", 1, "0" * 64, Role.ATTACHMENT))
    with pytest.raises(ManifestError, match="both a file and a folder"):
        Manifest.from_bytes(Manifest(**{**manifest.__dict__, "files": clash}).to_bytes())


@pytest.mark.parametrize(
    "path", ["", "/abs", "a//b", "a/./b", "a/../b", "..", "C:/x", "a\\b", "a\x00b", "a\nb", "x" * 256]
)
def test_unsafe_paths(path: str) -> None:
    with pytest.raises(UnsafePathError):
        check_relative_path(path)


def test_unicode_forms_are_kept_as_written() -> None:
    import unicodedata

    nfc = unicodedata.normalize("NFC", "résumé/投标函.pdf")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert check_relative_path(nfc) == nfc
    assert check_relative_path(nfd) == nfd


def test_files_under_refuses_links(tmp_path: Path) -> None:
    (tmp_path / "技术标").mkdir()
    (tmp_path / "技术标" / "方案.pdf").write_bytes(b"%PDF")
    (tmp_path / "报价.pdf").write_bytes(b"%PDF")
    assert [p for p, _ in files_under(tmp_path)] == ["技术标/方案.pdf", "报价.pdf"]
    (tmp_path / "link").symlink_to(tmp_path / "报价.pdf")
    with pytest.raises(UnsafePathError, match="link"):
        files_under(tmp_path)


def test_summary_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.toml"
    path.write_text(
        '[summary]\nprice = 1234567.8\ncurrency = "CNY"\nduration = "180日历天"\n'
        '[summary.items]\n"质保期" = "2年"\n[roles]\n"报价/*" = "price-sheet"\n',
        encoding="utf-8",
    )
    summary_file = load_summary_file(path)
    assert summary_file.summary.price == Decimal("1234567.8")
    assert summary_file.summary.items == {"质保期": "2年"}
    assert summary_file.role_of("报价/一览表.pdf") is Role.PRICE_SHEET
    assert summary_file.role_of("技术标/方案.pdf") is Role.RESPONSE
    assert summary_file.role_of("附件/营业执照.jpg") is Role.ATTACHMENT


@pytest.mark.parametrize(
    "text", ["[summary]\nprice = 'cheap'\n", "[other]\n", "[roles]\n'x' = 'boss'\n", "not toml ["]
)
def test_bad_summary_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "summary.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError):
        load_summary_file(path)
