"""Is this ledger one bidcrypt can use? Checked when a session is loaded, before any command runs.

A damaged file, a table or column missing, another schema version, a
session whose creation never finished, settings that do not read as what
they are (a deadline that is not a time): each is refused with a message
naming the ledger and the problem, instead of failing later in the middle
of a command.
"""

from __future__ import annotations

import functools
import sqlite3

from bidcrypt.errors import LedgerError, SessionIncompleteError
from bidcrypt.i18n import Text
from bidcrypt.opening.ledger import COMPLETE, Ledger, parse_time
from bidcrypt.opening.ledger_schema import ADDED_COLUMNS, SCHEMA, SCHEMA_VERSION, added_tables

#: Session settings that every finished session holds, and those that must read as times.
REQUIRED_SETTINGS = ("tender", "deadline", "opening_time", "created_at")
TIME_SETTINGS = ("deadline", "opening_time", "created_at", "closed_at")
#: Folders whose content shows that a session was in use (so it is not merely unfinished).
_IN_USE = ("submissions", "opened")


def check_ledger(ledger: Ledger) -> None:
    """Raise :class:`LedgerError` (or :class:`SessionIncompleteError`) unless *ledger* is usable.

    Checks the file's integrity (``PRAGMA quick_check``), every table and
    column of the schema (of the ledger's own version), the schema version,
    the complete mark, and the session settings. A usable ledger of an older
    version is then upgraded, unless it was opened read-only.
    """
    rows = ledger.query("PRAGMA quick_check(1)")
    verdict = " ".join(str(next(iter(rows[0].data.values()))).split()) if rows else "ok"
    if verdict != "ok":
        _invalid(
            ledger,
            Text("the file is damaged ({verdict})", "文件已损坏（{verdict}）", verdict=verdict),
        )
    tables = [str(r["name"]) for r in ledger.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if not tables:  # killed in the transaction that makes the schema
        _unfinished(ledger, has_rows=False)
    version = ledger.meta("schema_version")
    known = [str(v) for v in range(1, SCHEMA_VERSION + 1)]
    for table, columns in expected_columns(int(version) if version in known else SCHEMA_VERSION).items():
        if table not in tables:
            _invalid(
                ledger,
                Text("the table {table} is missing", "缺少数据表 {table}", table=table),
            )
        found = {str(c["name"]) for c in ledger.query("SELECT name FROM pragma_table_info(?)", (table,))}
        for column in sorted(columns - found):
            _invalid(
                ledger,
                Text(
                    "the column {table}.{column} is missing",
                    "缺少字段 {table}.{column}",
                    table=table,
                    column=column,
                ),
            )
    if version not in known:
        _invalid(
            ledger,
            Text(
                "its schema version is {version}; this bidcrypt reads version {SCHEMA_VERSION}",
                "其结构版本为 {version}，本程序读取版本 {SCHEMA_VERSION}",
                version=repr(version),
                SCHEMA_VERSION=SCHEMA_VERSION,
            ),
        )
    if ledger.meta(COMPLETE) != "1" and not _made_before_the_mark(ledger):
        _unfinished(ledger, has_rows=ledger.one("SELECT id FROM bidders LIMIT 1") is not None)
    for key in REQUIRED_SETTINGS:
        value = ledger.meta(key)
        if value is None or not value.strip():
            _invalid(
                ledger,
                Text("the session setting {key} is missing", "缺少会话设置 {key}", key=key),
            )
    for key in TIME_SETTINGS:
        value = ledger.meta(key)
        if value is None:
            continue
        try:
            parse_time(value)
        except ValueError:
            _invalid(
                ledger,
                Text(
                    "the session setting {key} is {value}, not a time",
                    "会话设置 {key} 为 {value}，不是时间",
                    key=key,
                    value=repr(value),
                ),
            )
    ledger.upgrade()


def _made_before_the_mark(ledger: Ledger) -> bool:
    """A ledger made by a bidcrypt older than the complete mark, whose creation finished.

    Those wrote the settings, the lots and ``created_at`` in one transaction
    after the schema's, so ``created_at`` marks a finished creation there;
    today it is written in the same transaction as the complete mark.
    Sessions in use when bidcrypt is upgraded keep working.
    """
    return ledger.meta(COMPLETE) is None and ledger.meta("created_at") is not None


def _invalid(ledger: Ledger, detail: Text) -> None:
    raise LedgerError(detail, path=ledger.path)


def _unfinished(ledger: Ledger, *, has_rows: bool) -> None:
    """An unfinished creation; but a ledger without the mark in a session in use was damaged or edited."""
    folder = ledger.path.parent
    try:
        in_use = has_rows or any(
            (folder / name).is_dir() and any((folder / name).iterdir()) for name in _IN_USE
        )
    except OSError:
        in_use = True  # cannot look: do not advise removing the folder
    if in_use:
        _invalid(
            ledger,
            Text(
                "the ledger lacks its complete mark, but the session holds bidders or submissions",
                "台账缺少创建完成标记，但会话中已有投标人或投标文件",
            ),
        )
    raise SessionIncompleteError(path=folder)


@functools.cache
def expected_columns(version: int = SCHEMA_VERSION) -> dict[str, frozenset[str]]:
    """Each table of the schema of *version* with its columns, as SQLite itself reads the schema."""
    later = {
        (table, column)
        for step, added in ADDED_COLUMNS.items()
        if step > version
        for table, column, _ in added
    }
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        newer = added_tables(after=version)
        tables = [
            str(r[0])
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if str(r[0]) not in newer
        ]
        return {
            table: frozenset(
                str(c[0])
                for c in db.execute("SELECT name FROM pragma_table_info(?)", (table,))
                if (table, str(c[0])) not in later
            )
            for table in tables
        }
    finally:
        db.close()
