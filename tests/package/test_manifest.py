"""The manifest: canonical bytes, strict parsing, safe paths, the summary file."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import InputError, ManifestError, UnsafePathError
from bidcrypt.package.manifest import Bidder, FileEntry, Manifest, Role, Summary
from bidcrypt.package.paths import check_relative_path, files_under
from bidcrypt.package.summary_file import load_summary_file

name_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
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


# --- limits: nesting, numbers, counts; refused before they cost anything -----------------------

_VALID_TEXT = _valid().to_bytes().decode()


def test_200000_nested_arrays_are_refused_before_parsing() -> None:
    deep = _VALID_TEXT.replace('"lot":"1"', '"lot":' + "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ManifestError, match="nested deeper than 8"):
        Manifest.from_bytes(deep.encode())
    unbalanced = "[" * 200_000 + "}"  # not JSON either, and never handed to the recursive parser
    with pytest.raises(ManifestError):
        Manifest.from_bytes(unbalanced.encode())


def test_brackets_inside_strings_are_not_nesting() -> None:
    name = "[" * 50 + "{}" * 10 + '"' + "].pdf"  # the quote is written escaped: \\"
    manifest = Manifest(**{**_valid().__dict__, "files": (FileEntry(name, 10, "0" * 64, Role.RESPONSE),)})
    assert Manifest.from_bytes(manifest.to_bytes()).files[0].path == name


def test_an_unterminated_string_full_of_escapes_is_refused() -> None:
    with pytest.raises(ManifestError):
        Manifest.from_bytes(b'{"tender":"' + b'\\"[' * 1_000_000)


@pytest.mark.parametrize(
    ("old", "new", "phrase"),
    [
        ('"size":10', '"size":' + "9" * 5001, "too long"),
        ('"size":10', '"size":' + "9" * 20, "too long"),
        ('"size":10', '"size":9223372036854775808', "non-negative integer"),
        ('"size":10', '"size":10.0', "only integers"),
        ('"size":10', '"size":1e3', "only integers"),
        ('"size":10', '"size":NaN', "only integers"),
        ('"size":10', '"size":-Infinity', "only integers"),
        ('"tender":"HBGP-2026-001"', '"tender":"HBGP","tender":"HBGP-2026-001"', "given twice"),
        ('"tender":"HBGP-2026-001"', '"tender":"\\ud800"', "tender must be non-empty text"),
        ('"tender":"HBGP-2026-001"', '"tender":"' + "x" * 4097 + '"', "at most 4096"),
        ('"items":{"质保期":"2年"}', '"items":{"质保期":"' + "年" * 4097 + '"}', "at most 4096"),
        ('"price":"1234567.80"', '"price":1234567.80', "only integers"),
        ('"price":"1234567.80"', '"price":1234567', "decimal amount written as text"),
    ],
)
def test_numbers_texts_and_keys_within_limits(old: str, new: str, phrase: str) -> None:
    assert old in _VALID_TEXT
    with pytest.raises(ManifestError, match=phrase):
        Manifest.from_bytes(_VALID_TEXT.replace(old, new).encode())


def test_counts_are_bounded() -> None:
    from bidcrypt.package.manifest import MAX_FILES, MAX_ITEMS

    items = ",".join(f'"k{i}":"v"' for i in range(MAX_ITEMS + 1))
    with pytest.raises(ManifestError, match="summary items"):
        Manifest.from_bytes(
            _VALID_TEXT.replace('"items":{"质保期":"2年"}', '"items":{' + items + "}").encode()
        )
    entry = '{"path":"a","role":"attachment","sha256":"' + "0" * 64 + '","size":1}'
    files = "[" + ",".join([entry] * (MAX_FILES + 1)) + "]"
    start = _VALID_TEXT.index('"files":[') + len('"files":')
    end = _VALID_TEXT.index("]", start) + 1
    with pytest.raises(ManifestError, match="more than 100000 files"):
        Manifest.from_bytes((_VALID_TEXT[:start] + files + _VALID_TEXT[end:]).encode())


@pytest.mark.parametrize(
    "price", ["1E+3", " 12", "1_000", "-1", "+1", "1.", ".5", "0x10", "1" * 19, "1.123456789", "١٢"]
)
def test_a_price_is_a_plain_decimal(price: str) -> None:
    with pytest.raises(ManifestError, match="decimal amount"):
        Summary.from_json({"price": price})


@pytest.mark.parametrize("price", ["0", "12.5", "1" * 18 + ".12345678", "0.10"])
def test_plain_decimal_prices_are_kept_as_written(price: str) -> None:
    summary = Summary.from_json({"price": price})
    assert summary.to_json()["price"] == price


@pytest.mark.parametrize(
    ("character", "category"),
    [
        ("\u202e", "format character U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u200b", "format character U+200B ZERO WIDTH SPACE"),
        ("\ufeff", "format character U+FEFF"),
        ("\u2066", "format character U+2066"),
        ("\u2028", "line separator U+2028"),
        ("\u2029", "paragraph separator U+2029"),
        ("\x7f", "control character U+007F"),
    ],
)
def test_format_and_separator_characters_are_refused(character: str, category: str) -> None:
    with pytest.raises(UnsafePathError, match=re.escape(category)) as raised:
        check_relative_path(f"invoice{character}fdp.exe")
    assert f"\\u{ord(character):04x}" in raised.value.message()  # shown, not hidden


def test_folders_nested_deeper_than_64_are_refused() -> None:
    assert check_relative_path("/".join(["d"] * 64))
    with pytest.raises(UnsafePathError, match="nested deeper than 64"):
        check_relative_path("/".join(["d"] * 65))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    st.sampled_from(["tender", "lot", "bidder", "created", "summary", "files", "format", "version"]),
    json_values,
)
def test_any_json_in_any_field_raises_only_manifest_errors(name: str, value: object) -> None:
    import json

    data = json.loads(_VALID_TEXT)
    data[name] = value
    text = json.dumps(data, ensure_ascii=False)
    with contextlib.suppress(ManifestError, UnsafePathError):
        Manifest.from_bytes(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_VALID_TEXT)), st.text('[]{}",:\\0123456789.eE-+ntrufalsNI\ud800', max_size=6)
        ),
        min_size=1,
        max_size=5,
    )
)
def test_mutated_manifest_text_raises_only_manifest_errors(edits: list[tuple[int, str]]) -> None:
    text = _VALID_TEXT
    for position, insert in edits:
        text = text[:position] + insert + text[position + len(insert) // 2 :]
    with contextlib.suppress(ManifestError, UnsafePathError):
        Manifest.from_bytes(text.encode("utf-8", errors="surrogatepass"))
