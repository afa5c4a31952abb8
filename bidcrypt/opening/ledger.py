"""The durable ledger of an opening session: one SQLite file, WAL, a transaction per state change.

What it holds: the tender and its lots, the deadline and opening time, the
registered bidders and the encryption certificates bound to them, every
submission with its receipt, and every opening outcome. Nothing is ever
deleted: a replaced submission is marked superseded, a withdrawn one
withdrawn, and an outcome, once written, is final.

Every SQLite failure is turned here, in one place, into a bidcrypt error that
names the ledger and what is wrong with it (see :mod:`bidcrypt.opening.ledger_errors`).
A ledger opened read-only (``opening report`` of an archived session) is
never written, and can be read from a read-only folder or mount.

Causes (why a bid failed, why a submission was refused) are stored as the
error's code and its parameters (``cause_code`` + ``cause_params``, ``code``
+ ``params``; see :mod:`bidcrypt.opening.causes`), so that the record
renders them in the reader's language. The English and Chinese text columns
beside them are a readable copy, and all that rows written before schema
version 2 have. A writable ledger of an older version is upgraded when its
session is loaded (:meth:`Ledger.upgrade`); a read-only one is read as it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bidcrypt.errors import LedgerError, SessionReadOnlyError
from bidcrypt.i18n import Text
from bidcrypt.opening.ledger_errors import READ_ONLY_CODES, translate
from bidcrypt.opening.ledger_schema import ADDED_COLUMNS, ADDED_TABLES, SCHEMA, SCHEMA_VERSION


def _newer_tables_empty(db: sqlite3.Connection) -> None:
    """Give a read-only ledger of an older schema the tables later versions added, empty and temporary.

    An archived session is read as it is (never upgraded); its readers then
    find, say, no sign-ins rather than a missing table. The temporary tables
    live in this connection's memory only: the ledger file is not touched.
    """
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # not a ledger: check_ledger says what is wrong with it
        return
    version = int(row[0]) if row is not None and str(row[0]).isdigit() else SCHEMA_VERSION
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for statement in ADDED_TABLES.get(step, ()):
            if statement.startswith("CREATE TABLE IF NOT EXISTS"):
                db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))


#: Written in the transaction that finishes a session's creation, and only then.
COMPLETE = "complete"


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
    """The SQLite ledger of one session. Every write happens inside :meth:`transaction`.

    With *read_only* the ledger is opened for reading only (``mode=ro``; from a
    read-only folder, where SQLite cannot make the WAL's shared-memory file,
    as an immutable file), and :meth:`transaction` refuses with
    :class:`SessionReadOnlyError`. Any SQLite failure, at opening or later,
    is raised as a bidcrypt error naming the ledger (see :func:`translate`).
    """

    FILE_NAME = "ledger.sqlite"
    #: Seconds a command waits for another process's write before it calls the session busy.
    BUSY_TIMEOUT = 30.0

    def __init__(self, directory: Path, *, read_only: bool = False, _create: bool = False) -> None:
        self.path = directory / self.FILE_NAME
        self.read_only = read_only
        #: One connection serves every thread of the process, one call (or transaction) at a time.
        self._turn = threading.RLock()
        self._db = self._connect_read_only() if read_only else self._connect(_create)

    # -- opening the file ------------------------------------------------------------------------

    def _uri(self, query: str) -> str:
        return f"{self.path.absolute().as_uri()}?{query}"

    def _open(self, uri: str) -> sqlite3.Connection:
        db = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=self.BUSY_TIMEOUT, check_same_thread=False
        )
        db.row_factory = sqlite3.Row
        return db

    def _connect(self, create: bool) -> sqlite3.Connection:
        if not create and not self._writable():
            raise SessionReadOnlyError(path=self.path.parent)
        db = None
        try:
            db = self._open(self._uri("mode=rwc" if create else "mode=rw"))
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise self._error(exc) from exc
        return db

    def _connect_read_only(self) -> sqlite3.Connection:
        db = None
        try:
            try:
                db = self._open(self._uri("mode=ro"))
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header and the WAL
                _newer_tables_empty(db)
                db.execute("PRAGMA query_only=ON")
                return db
            except sqlite3.OperationalError as exc:
                if db is not None:
                    db.close()
                    db = None
                if (exc.sqlite_errorcode & 0xFF) not in READ_ONLY_CODES:
                    raise
            # A read-only folder: SQLite cannot make the WAL's shared-memory file. Safe to read the
            # file as immutable only when no change waits in the WAL (a cleanly closed ledger has none).
            wal = self.path.with_name(self.FILE_NAME + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise LedgerError(
                    Text(
                        "the folder is read-only and {name} holds changes not yet in the ledger; "
                        "copy the session folder to a writable place to read it",
                        "目录为只读，且 {name} 中有尚未并入台账的更改；请将会话目录复制到可写位置后再读取",
                        name=wal.name,
                    ),
                    path=self.path,
                )
            db = self._open(self._uri("mode=ro&immutable=1"))
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _newer_tables_empty(db)
            db.execute("PRAGMA query_only=ON")
            return db
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise self._error(exc) from exc
        except OSError as exc:
            raise LedgerError(exc.strerror or str(exc), path=self.path) from exc

    def _writable(self) -> bool:
        """Whether this process may write the ledger and make its journal files beside it."""
        return all(
            os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)
            for path in (self.path, self.path.parent)
        )

    def _error(self, exc: sqlite3.DatabaseError) -> Exception:
        if isinstance(exc, sqlite3.ProgrammingError):
            return exc  # a misuse of the connection: a bug, not a property of the ledger
        return translate(exc, self.path, writable=not self.read_only and self._writable())

    # -- creating --------------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, fill: Callable[[Ledger, sqlite3.Connection], None]) -> Ledger:
        """Create a new ledger in one transaction: the schema, what *fill* writes, then the complete mark.

        A ledger without the mark (its creation failed or was killed) is refused by
        :func:`bidcrypt.opening.ledger_check.check_ledger`.
        """
        ledger = cls(directory, _create=True)
        try:
            with ledger.transaction() as db:
                for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
                    db.execute(statement)
                ledger.set_meta(db, "schema_version", str(SCHEMA_VERSION))
                fill(ledger, db)
                ledger.set_meta(db, COMPLETE, "1")
        except BaseException:
            ledger.close()
            raise
        return ledger

    def version(self) -> int | None:
        """The ledger's schema version, or None when it is not a number."""
        text = self.meta("schema_version")
        return int(text) if text is not None and text.isdigit() else None

    def upgrade(self) -> None:
        """Bring a ledger of an older schema version to :data:`SCHEMA_VERSION`, in one transaction.

        Only adds what later versions added (see :data:`ADDED_COLUMNS`):
        nothing is rewritten, and rows written before keep their text
        causes. A read-only ledger is left as it is (its readers see the
        columns it has).
        """
        if self.read_only or self.version() == SCHEMA_VERSION:
            return
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0])  # checked by check_ledger; read again under the write lock
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in ADDED_TABLES.get(step, ()):
                    db.execute(statement)
                for table, column, declaration in ADDED_COLUMNS.get(step, ()):
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            self.set_meta(db, "schema_version", str(SCHEMA_VERSION))

    def close(self) -> None:
        """Close the database connection."""
        with self._turn:
            self._db.close()

    # -- using -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; SQLite errors become bidcrypt errors."""
        if self.read_only:
            raise SessionReadOnlyError(path=self.path.parent)
        with self._turn:
            yield from self._transaction()

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._rollback()
                raise
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise self._error(exc) from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:  # SQLite rolls back by itself after some errors (disk full, busy)
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Row]:
        """Rows of a read-only query."""
        try:
            with self._turn:
                return [Row(dict(row)) for row in self._db.execute(sql, parameters).fetchall()]
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

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
