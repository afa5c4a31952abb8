"""The durable ledger of an opening session: one SQLite file, WAL, a transaction per state change.

What it holds: the tender and its lots, the deadline and opening time, the
registered bidders and the encryption certificates bound to them, every
submission with its receipt, and every opening outcome. Nothing is ever
deleted: a replaced submission is marked superseded, a withdrawn one
withdrawn, and an outcome, once written, is final.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lots (
    id TEXT PRIMARY KEY,
    name TEXT
);
CREATE TABLE IF NOT EXISTS bidders (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    fingerprint TEXT PRIMARY KEY,          -- SHA-256 of the certificate DER: one certificate, one bidder
    bidder_id INTEGER NOT NULL REFERENCES bidders(id),
    key_fingerprint TEXT NOT NULL,         -- SHA-256 of the SubjectPublicKeyInfo
    der BLOB NOT NULL,
    bound_at TEXT NOT NULL,
    unbound_at TEXT                        -- NULL while the binding is current
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    bidder_id INTEGER NOT NULL REFERENCES bidders(id),
    lot TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    stored_as TEXT NOT NULL,               -- path of the stored bytes, relative to the session
    received_at TEXT NOT NULL,
    time_source TEXT NOT NULL,
    time_evidence BLOB,                    -- e.g. an RFC 3161 timestamp token
    attributes TEXT NOT NULL,              -- the package's readable attributes (JSON)
    state TEXT NOT NULL CHECK (state IN ('current', 'superseded', 'withdrawn')),
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_bidder ON submissions(bidder_id, lot, state);
CREATE TABLE IF NOT EXISTS outcomes (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    status TEXT NOT NULL CHECK (status IN ('opened', 'failed', 'not-decrypted')),
    cause_code TEXT,
    cause TEXT,                            -- English
    cause_zh TEXT,                         -- Chinese
    report TEXT NOT NULL,                  -- JSON: checks, summary fields, seals, files
    output TEXT,                           -- folder of the opened files, relative to the session
    finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (      -- failures a new attempt may overcome (token absent, disk full)
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    at TEXT NOT NULL,
    cause_code TEXT NOT NULL,
    cause TEXT NOT NULL,
    cause_zh TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejections (    -- submissions refused at the door
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    credit_code TEXT,
    lot TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    message_zh TEXT NOT NULL
);
"""


def now_text(moment: dt.datetime | None = None) -> str:
    """A UTC time as stored in the ledger (ISO 8601, microseconds, Z)."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    """Parse :func:`now_text`'s form."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Row:
    """A ledger row as a mapping with attribute access for the common columns."""

    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class Ledger:
    """The SQLite ledger of one session. Every write happens inside :meth:`transaction`."""

    FILE_NAME = "ledger.sqlite"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE_NAME
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")

    @classmethod
    def create(cls, directory: Path) -> Ledger:
        """Create the schema in a new ledger."""
        ledger = cls(directory)
        with ledger.transaction() as db:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                db.execute(statement)
            db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return ledger

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Row]:
        """Rows of a read-only query."""
        return [Row(dict(row)) for row in self._db.execute(sql, parameters).fetchall()]

    def one(self, sql: str, parameters: tuple[Any, ...] = ()) -> Row | None:
        """The first row of a read-only query, or None."""
        rows = self.query(sql, parameters)
        return rows[0] if rows else None

    # -- meta ----------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        """A session setting."""
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        """Set a session setting inside a transaction."""
        db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def dumps(data: Any) -> str:
    """JSON as stored in the ledger."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
