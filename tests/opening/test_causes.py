"""Causes kept as codes and parameters: the ledger and the record in English and in Chinese from one session.

A cause is stored as its error's code and parameters (``cause_code`` +
``cause_params``), not as text in the language of the process that wrote it,
so one ledger renders wholly in English and wholly in Chinese. A ledger of
schema version 1 (text causes only) still opens and renders; loaded for
writing, it is upgraded, and its old rows keep their text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bidcrypt.clock import FixedClock
from bidcrypt.errors import DeadlinePassedError, LedgerError, ManifestError, WrongKeyError
from bidcrypt.i18n import Language, Text
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, build_record, open_bids, render
from bidcrypt.opening.causes import render_cause, stored, window_params
from bidcrypt.opening.ledger import Ledger, Row
from bidcrypt.opening.ledger_schema import ADDED_COLUMNS, SCHEMA_VERSION, added_tables

from ..conftest import Pki, run_cli
from .conftest import make_package, new_session

HAN = re.compile(r"[\u3400-\u9fff]")
LANGUAGES = ["en", "zh"]


def _row(**columns: object) -> Row:
    return Row(dict(columns))


# --- one cause, rendered ---------------------------------------------------------------------------


def test_a_stored_cause_renders_in_the_language_asked_for() -> None:
    error = ManifestError(Text("{path} is truncated", "{path} 不完整", path="annex.bin"))
    row = _row(cause_code=error.code, cause_params=stored(error), cause="frozen", cause_zh="冻结")
    assert render_cause(row, "en") == "manifest check failed: annex.bin is truncated"
    assert render_cause(row, "zh") == "文件清单校验失败: annex.bin 不完整"


def test_a_row_written_before_version_2_renders_its_text() -> None:
    row = _row(cause_code="wrong-key", cause_params=None, cause="old english", cause_zh="旧中文")
    assert render_cause(row, "en") == "old english"
    assert render_cause(row, "zh") == "旧中文"
    assert render_cause(_row(cause_code=None, cause=None, cause_zh=None), "zh") is None


def test_not_decrypted_is_the_window_with_the_last_attempts_cause() -> None:
    attempt = _row(cause_params=stored(WrongKeyError(Text("not to this key", "未加密给此密钥"))))
    row = _row(cause_code="wrong-key", cause_params=window_params(attempt))
    assert render_cause(row, "en", status="not-decrypted") == (
        "not decrypted within the window (the file cannot be opened with this key: not to this key)"
    )
    assert render_cause(row, "zh", status="not-decrypted") == (
        "未在解密时间内解密（该文件无法用此密钥解密: 未加密给此密钥）"
    )
    alone = _row(cause_code="not-decrypted", cause_params=window_params(None))
    assert render_cause(alone, "zh", status="not-decrypted") == "未在解密时间内解密"
    old = _row(cause_code="wrong-key", cause_params=window_params(_row(cause_params=None)), cause="text")
    assert render_cause(old, "en", status="not-decrypted") == "text"


@pytest.mark.parametrize(
    ("code", "params"),
    [("wrong-key", "{not json"), ("no-such-code", "{}"), ("wrong-key", "[]"), (None, "{}")],
)
def test_a_hand_edited_cause_is_refused(code: str | None, params: str) -> None:
    with pytest.raises(ValueError):
        render_cause(_row(cause_code=code, cause_params=params), "en")


# --- one session, both languages --------------------------------------------------------------------


class _Text(HTMLParser):
    """The text of a page, without its tags, style and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._style = False

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.parts.append(data)


def _readable(text: str, form: str) -> str:
    if form == "html":
        parser = _Text()
        parser.feed(text)
        text = "\n".join(parser.parts)
    return text


def assert_wholly(language: Language, text: str, data: list[str]) -> None:
    """*text* is in *language* only, once the bidders' own data (*data*: names, durations, file names)
    and the language-neutral tokens (digests, the tender's number, SHA-256) are taken out."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"\b[0-9a-f]{16,64}\b|HBGP-2026-001|SHA-256|bidcrypt|PKCS#12|CNY", " ", text)
    if language == "en":
        assert not HAN.search(text), HAN.findall(text)
    else:
        english = re.findall(r"[A-Za-z]{3,}", text)
        assert english == [], english


@pytest.fixture(scope="module")
def both_ways(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed session holding every kind of cause, each made while the process spoke Chinese.

    bidder A opens; bidder B's stored bytes no longer match the receipt (failed); bidder C's bid is
    not encrypted to the opening key (an attempt, then not decrypted when the window closes); a late
    package of A is refused at the door.
    """
    folder = tmp_path_factory.mktemp("both")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BIDCRYPT_LANG", "zh")
        session = new_session(pki, folder / "s")
        session.submit(make_package(pki, folder, "bidder-a", name="a"))
        session.submit(make_package(pki, folder, "bidder-b", name="b"))
        session.submit(make_package(pki, folder, "bidder-c", name="c", authority=False))
        late = make_package(pki, folder, "bidder-a", name="late")
        after = session.settings.deadline + dt.timedelta(seconds=1)
        with pytest.raises(DeadlinePassedError):
            session.submit(late, FixedClock(after))
        stored_b = session.directory / str(session.submissions()[1]["stored_as"])
        stored_b.write_bytes(stored_b.read_bytes() + b"changed")
        with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
            run = open_bids(session, key, workers=1, now=after)
        assert run.opened == [1] and run.failed == [2] and run.skipped == [3]
        session.close_window(after)
        session.close_ledger()
    return folder / "s"


def _data(pki: Pki) -> list[str]:
    companies = [pki.company(b) for b in ("bidder-a", "bidder-b", "bidder-c")]
    return [c[key] for c in companies for key in ("name", "credit_code")] + ["90日历天"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form", ["table", "csv", "html", "json"])
def test_the_record_renders_wholly_in_each_language(
    pki: Pki, both_ways: Path, language: Language, form: str
) -> None:
    session = OpeningSession.load(both_ways, read_only=True)
    try:
        record = build_record(session, language)
    finally:
        session.close_ledger()
    causes = {row.status: row.cause for row in record.rows}
    assert set(causes) == {"opened", "failed", "not-decrypted", "rejected"}
    expected = {
        "en": ("no longer matches its receipt", "not decrypted within the window (", "deadline"),
        "zh": ("投标文件与回执不符", "未在解密时间内解密（", "已超过投标截止时间"),
    }[language]
    assert expected[0] in str(causes["failed"])
    assert str(causes["not-decrypted"]).startswith(expected[1])
    assert expected[2] in str(causes["rejected"])
    text = render(record, form, language)
    if form == "json":
        text = "\n".join(
            [*(row.cause for row in record.rows if row.cause), *(f.message for f in record.flags)]
        )
    assert_wholly(language, _readable(text, form), _data(pki))


@pytest.mark.parametrize("language", LANGUAGES)
def test_opening_report_follows_bidcrypt_lang(pki: Pki, both_ways: Path, language: Language) -> None:
    for form in ("table", "html"):
        result = run_cli("opening", "report", both_ways, "--format", form, env={"BIDCRYPT_LANG": language})
        assert result.exit_code == 0, result.stderr
        assert_wholly(language, _readable(result.stdout, form), _data(pki))
    chinese = run_cli("opening", "report", both_ways, env={"BIDCRYPT_LANG": "zh"}).stdout
    english = run_cli("opening", "report", both_ways, env={"BIDCRYPT_LANG": "en"}).stdout
    assert "投标文件与回执不符" in chinese and "no longer matches its receipt" in english


def test_the_ledger_keeps_codes_and_parameters(both_ways: Path) -> None:
    db = sqlite3.connect(both_ways / Ledger.FILE_NAME)
    try:
        failed = db.execute(
            "SELECT cause_code, cause_params FROM outcomes WHERE status = 'failed'"
        ).fetchone()
        refused = db.execute("SELECT code, params FROM rejections").fetchone()
    finally:
        db.close()
    assert failed[0] == "receipt-mismatch" and set(json.loads(failed[1])["params"]) == {"actual", "expected"}
    assert refused[0] == "deadline-passed" and set(json.loads(refused[1])["params"]) == {"deadline"}


# --- ledgers of schema version 1 ----------------------------------------------------------------------


def _as_version_1(folder: Path) -> None:
    """Make *folder*'s ledger as bidcrypt wrote version 1: no structured causes, text only."""
    db = sqlite3.connect(folder / Ledger.FILE_NAME)
    try:
        for step in range(2, SCHEMA_VERSION + 1):
            for table, column, _ in ADDED_COLUMNS[step]:
                db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for table in added_tables(after=1):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE outcomes SET cause = 'old cause', cause_zh = '旧原因' WHERE status = 'failed'")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        db.commit()
    finally:
        db.close()


def test_a_version_1_ledger_opens_read_only_and_renders_its_text(both_ways: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(both_ways, tmp_path / "s"))
    _as_version_1(folder)
    session = OpeningSession.load(folder, read_only=True)
    try:
        assert session.ledger.version() == 1  # read as it is
        for language, cause in (("en", "old cause"), ("zh", "旧原因")):
            rows = {r.status: r.cause for r in build_record(session, language).rows}  # type: ignore[arg-type]
            assert rows["failed"] == cause
            assert bool(HAN.search(str(rows["rejected"]))) == (language == "zh")
    finally:
        session.close_ledger()
    result = run_cli("opening", "report", folder, env={"BIDCRYPT_LANG": "zh"})
    assert result.exit_code == 0 and "旧原因" in result.stdout


def test_a_version_1_ledger_is_upgraded_when_loaded_for_writing(both_ways: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(both_ways, tmp_path / "s"))
    _as_version_1(folder)
    session = OpeningSession.load(folder)
    try:
        assert session.ledger.version() == SCHEMA_VERSION
        failed = next(r for r in session.outcomes().values() if r["status"] == "failed")
        assert failed["cause_params"] is None  # old rows keep their text
        assert build_record(session, "zh").rows[1].cause == "旧原因"
        after = session.settings.deadline + dt.timedelta(seconds=1)
        with pytest.raises(DeadlinePassedError):
            session.submit(both_ways.parent / "late.bid", FixedClock(after))
        new = session.rejections()[-1]
        assert new["params"] is not None  # new rows are kept as codes and parameters
        refusals = [r.cause for r in build_record(session, "en").rows if r.status == "rejected"]
        assert len(refusals) == 2 and all(c and "deadline" in c for c in refusals)
    finally:
        session.close_ledger()
    OpeningSession.load(folder).close_ledger()  # a second load finds it current


def test_a_hand_edited_cause_in_the_ledger_is_a_ledger_error(both_ways: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(both_ways, tmp_path / "s"))
    db = sqlite3.connect(folder / Ledger.FILE_NAME)
    db.execute("UPDATE outcomes SET cause_code = 'made-up' WHERE status = 'failed'")
    db.commit()
    db.close()
    session = OpeningSession.load(folder, read_only=True)
    try:
        with pytest.raises(LedgerError, match="edited by hand"):
            build_record(session, "en")
    finally:
        session.close_ledger()
