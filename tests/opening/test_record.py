"""The opening record with hostile text: every form escapes what bidders control.

A forged outer bidder-name attribute (it needs no signing key) reaches the
record through the stored refusal; the signed summary of an opened bid
reaches it directly. Neither may add lines, rows, terminal escapes,
invisible reordering (U+202E), spreadsheet formulas or HTML elements.
"""

from __future__ import annotations

import csv
import dataclasses
import decimal
import importlib
import io
import json
import unicodedata
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.certs import load_certificate
from bidcrypt.errors import IdentityMismatchError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import Flag, OpeningRecord, OpeningSession, RecordRow, build_record, open_bids, render
from bidcrypt.opening.escape import csv_cell, visible, width
from bidcrypt.package import PackageAttributes, Summary, SummaryFile, pack
from bidcrypt.seal import SealKind, choose_entry

from ..conftest import Pki, run_cli
from .conftest import TENDER, make_package, move_opening_time_back, new_session

#: Never shown as themselves in the table, the CSV or the page (the spec, written out independently).
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
FORMULA = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
PIECES = [
    "\n",
    "\r\n",
    "\r",
    "\x1b[31m",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x9b1m",
    "\x85",
    "\x00",
    "\x7f",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\ud800",
    "\x0b",
    "\x0c",
    "\x1c",
    "=cmd|' /C calc'!A0",
    "+1",
    "-2",
    "@SUM(A1)",
    "\t=1",
    "＝1+1",
    "<script>alert(1)</script>",
    "</td></tr><tr><td>",
    '" onmouseover="x',
    "'",
    "&amp;",
    "<!--",
    "]]>",
    "湖北楚天建设工程有限公司",
    "é",
    "e\u0301",
    "\\x1b",
    "\\",
    " ",
    ",",
    '"',
]
hostile = st.one_of(
    st.text(max_size=12),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=6).map("".join),
)
maybe = st.none() | hostile


@st.composite
def records(draw: st.DrawFn) -> OpeningRecord:
    rows = draw(
        st.lists(
            st.builds(
                RecordRow,
                lot=maybe,
                bidder=hostile,
                credit_code=maybe,
                submission=st.none() | st.integers(1, 10_000),
                submitted_at=maybe,
                receipt_sha256=maybe,
                size=st.none() | st.integers(0, 10**12),
                status=st.sampled_from(
                    ["opened", "failed", "not-decrypted", "pending", "withdrawn", "rejected"]
                )
                | hostile,
                cause=maybe,
                seals=st.sampled_from(["valid", "invalid", "-"]) | hostile,
                price=maybe,
                currency=maybe,
                duration=maybe,
                items=st.dictionaries(hostile, hostile, max_size=3),
            ),
            max_size=4,
        )
    )
    flags = draw(st.lists(st.builds(Flag, code=hostile, lot=maybe, message=hostile), max_size=3))
    return OpeningRecord(
        tender=draw(hostile),
        lots=tuple(draw(st.lists(hostile, max_size=3))),
        deadline=draw(hostile),
        opening_time=draw(hostile),
        closed_at=draw(maybe),
        generated_at=draw(hostile),
        rows=tuple(rows),
        flags=tuple(flags),
    )


def _hidden_in(text: str, allowed: str = "") -> list[str]:
    return [c for c in text if unicodedata.category(c) in HIDDEN and c not in allowed]


@given(records())
def test_table_has_its_own_lines_only(record: OpeningRecord) -> None:
    table = render(record, "table")
    assert _hidden_in(table, allowed="\n") == []
    heading = 3 if record.closed_at else 2
    expected = (
        1  # title
        + heading
        + 1  # blank
        + 1  # column titles
        + len(record.rows)
        + sum(1 for row in record.rows if row.items)
        + (1 + len(record.flags) if record.flags else 0)
    )
    assert table.endswith("\n")
    assert len(table.split("\n")) - 1 == expected
    assert len(table.splitlines()) == expected  # no other line break (\x85, \u2028, \x0b ...) either


@given(records())
def test_csv_parses_back_and_never_starts_a_formula(record: OpeningRecord) -> None:
    text = render(record, "csv")
    assert _hidden_in(text, allowed="\r\n") == []
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(record.rows)
    assert {len(row) for row in rows} == {11}
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA), cell
    for parsed, row in zip(rows[1:], record.rows, strict=True):
        assert parsed[1] == csv_cell(row.bidder)  # the bidder column, escaped and nothing else


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.declarations: list[str] = []
        self.comments: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes.extend((tag, name, value) for name, value in attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)


@given(records())
def test_html_has_only_the_template_s_elements(record: OpeningRecord) -> None:
    page = render(record, "html")
    assert _hidden_in(page, allowed="\n") == []
    parser = _Elements()
    parser.feed(page)
    parser.close()
    rows, flags = len(record.rows), len(record.flags)
    heading = 3 if record.closed_at else 2
    expected = Counter(
        {
            "html": 1,
            "head": 1,
            "meta": 1,
            "title": 1,
            "style": 1,
            "body": 1,
            "h1": 1,
            "p": heading + 1,
            "small": 1,
            "table": 1,
            "thead": 1,
            "tbody": 1,
            "tr": 1 + rows,
            "th": 11,
            "td": 11 * rows,
            "div": 1 + 3 + (1 if flags else 0),
            "strong": 1 if flags else 0,
            "ul": 1 if flags else 0,
            "li": flags,
        }
    )
    assert parser.tags == +expected
    assert parser.declarations == ["DOCTYPE html"] and parser.comments == [] and parser.other == []
    allowed = {("html", "lang"), ("meta", "charset"), ("td", "class"), ("tr", "class"), ("p", "class")}
    allowed |= {("div", "class")}
    assert {(tag, name) for tag, name, _ in parser.attributes} <= allowed
    row_classes = [value for tag, name, value in parser.attributes if tag == "tr"]
    assert row_classes == [visible(row.status) for row in record.rows]


def test_table_columns_stay_aligned_with_cjk_and_escapes() -> None:
    def row(bidder: str, status: str, cause: str | None = None) -> RecordRow:
        return RecordRow(
            "1", bidder, None, 1, "2026-12-01 01:30:00Z", "ab" * 32, 1, status, cause, "-", None, None, None
        )

    record = OpeningRecord(
        "T",
        ("1",),
        "d",
        "o",
        None,
        "g",
        (
            row("湖北楚天建设工程有限公司", "opened"),
            row("ACME\x1b[31m\u202e", "failed", "bad\nline"),
            row("Cafe\u0301 Ltd", "withdrawn"),
        ),
        (),
    )
    lines = render(record, "table").split("\n")
    header = lines.index(next(line for line in lines if line.startswith("lot")))
    offsets = {}
    for line, label in zip(
        lines[header : header + 4], ["status", "opened", "failed", "withdrawn"], strict=True
    ):
        offsets[label] = width(line[: line.index(label)])
    assert len(set(offsets.values())) == 1, (offsets, lines)
    assert "湖北楚天建设工程有限公司" in lines[header + 1]  # CJK kept as it is
    assert "ACME\\x1b[31m\\u202e" in lines[header + 2] and "bad\\x0aline" in lines[header + 2]


def test_json_keeps_values_as_they_are() -> None:
    record = OpeningRecord("T\x1b", (), "d", "o", None, "g", (), (Flag("f", None, "=1\n\u202e"),))
    data = json.loads(render(record, "json"))
    assert data["tender"] == "T\x1b" and data["flags"][0]["message"] == "=1\n\u202e"
    lone = dataclasses.replace(record, tender="x\ud800")  # only from a hand-edited ledger
    assert json.loads(render(lone, "json").encode("utf-8"))["tender"] == "x\ud800"


# --- through a session ------------------------------------------------------------------------

FORGED_NAME = (
    "湖北楚天建设工程有限公司\n1  湖北楚天  opened  \x1b[2J\x1b]0;pwned\x07\u202egnp.exe\r=cmd|'/C calc'!A0"
)


def _forms(session: Path) -> dict[str, str]:
    forms = {}
    for form in ("table", "csv", "html", "json"):
        result = run_cli("opening", "report", session, "--format", form)
        assert result.exit_code == 0, result.stderr
        forms[form] = result.stdout
    return forms


def _assert_safe(forms: dict[str, str], rows: int) -> None:
    assert _hidden_in(forms["table"], allowed="\n") == []
    assert _hidden_in(forms["csv"], allowed="\r\n") == [] and _hidden_in(forms["html"], allowed="\n") == []
    parsed = list(csv.reader(io.StringIO(forms["csv"], newline="")))
    assert len(parsed) == 1 + rows
    assert not any(cell.startswith(FORMULA) for row in parsed for cell in row)
    parser = _Elements()
    parser.feed(forms["html"])
    assert parser.tags["tr"] == 1 + rows and "script" not in parser.tags


def test_a_forged_bidder_name_attribute_stays_one_escaped_cell(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outer attributes need no key: anyone can put any name there. The refusal is recorded, escaped."""
    packing = importlib.import_module("bidcrypt.package.pack")  # the module, not the function it exports

    def forged(tender: str, lot: str | None, name: str, *rest: object) -> PackageAttributes:
        return PackageAttributes(tender, lot, FORGED_NAME, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(packing, "PackageAttributes", forged)
    package = make_package(pki, tmp_path, "bidder-a", name="forged")
    monkeypatch.undo()
    session = new_session(pki, tmp_path / "s")
    with pytest.raises(IdentityMismatchError):
        session.submit(package)
    other = new_session(pki, tmp_path / "other")
    line = run_cli("opening", "submit", other.directory, package)  # the command's own error line
    assert line.exit_code == 25 and "\x1b" not in line.stderr and "\u202e" not in line.stderr
    assert len(line.stderr.splitlines()) <= 2 and "\\x1b[2J" in line.stderr
    forms = _forms(session.directory)
    _assert_safe(forms, rows=1)
    table_lines = forms["table"].splitlines()
    refused = [line for line in table_lines if "refused at submission" in line]
    assert len(refused) == 1 and "\\x1b[2J" in refused[0] and "\\u202egnp.exe" in refused[0]
    assert not any(line.startswith("1  湖北楚天") for line in table_lines)  # no fake row
    assert FORGED_NAME in json.loads(forms["json"])["rows"][0]["cause"]  # JSON keeps it raw, escaped by JSON


@pytest.mark.slow
def test_a_hostile_signed_summary_is_escaped_in_every_form(
    pki: Pki, tmp_path: Path, sealed_pdfs: dict[str, Path]
) -> None:
    """The bidder signs the summary: its text is theirs, and so is every character of it."""
    duration = "90日历天\n1  某公司  opened  \x1b[31m\u202e"
    items = {"=cmd|' /C calc'!A0": "+1\x1b]0;x\x07", "</td><script>alert(1)</script>": '"><b>'}
    source = tmp_path / "src"
    source.mkdir()
    (source / "投标函.pdf").write_bytes(sealed_pdfs["bidder-a"].read_bytes())
    package = tmp_path / "hostile.bid"
    summary = SummaryFile(Summary(price=decimal.Decimal("0"), duration=duration, items=items))
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as signer:
        pack(
            source,
            package,
            tender=TENDER,
            lot="1",
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=[
                load_certificate(pki.cert("bidder-a/enc")),
                load_certificate(pki.cert("authority/enc")),
            ],
            summary=summary,
        )
    session = new_session(pki, tmp_path / "s")
    session.submit(package)
    move_opening_time_back(session)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=1)
    assert len(run.opened) == 1, run.to_dict()
    session.close_ledger()
    forms = _forms(session.directory)
    _assert_safe(forms, rows=1)
    assert "90日历天\\x0a1  某公司  opened  \\x1b[31m\\u202e" in forms["table"]
    parsed = list(csv.reader(io.StringIO(forms["csv"], newline="")))
    assert parsed[1][8] == "0 CNY"  # a price is a plain non-negative decimal (the manifest says so)
    assert parsed[1][-1] == "</td><script>alert(1)</script>: \"><b>; =cmd|' /C calc'!A0: +1\\x1b]0;x\\x07"
    assert "&lt;/td&gt;&lt;script&gt;" in forms["html"] and "&quot;&gt;&lt;b&gt;" in forms["html"]
    row = json.loads(forms["json"])["rows"][0]
    assert row["duration"] == duration and row["items"] == items


def test_the_record_reads_a_read_only_session(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    session.close_ledger()
    loaded = OpeningSession.load(tmp_path / "s", read_only=True)
    assert build_record(loaded).tender == TENDER
