"""SQLite's failures as bidcrypt errors: what is wrong with the ledger, in words, with its path.

SQLite tells its failures apart by result code; a user tells them apart by
what to do: restore a damaged file, use a writable copy of a read-only
session, wait for another process, free some disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bidcrypt.errors import BidcryptError, LedgerError, OutputError, SessionBusyError, SessionReadOnlyError
from bidcrypt.i18n import Text

# Primary result codes (https://sqlite.org/rescode.html); an extended code keeps its primary in the low byte.
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26

#: What a read-only open of a WAL ledger fails with in a folder where it cannot make the -shm file.
READ_ONLY_CODES = frozenset({SQLITE_READONLY, SQLITE_CANTOPEN})


def translate(exc: sqlite3.DatabaseError, path: Path, *, writable: bool) -> BidcryptError:
    """The bidcrypt error for SQLite's *exc* on the ledger *path*.

    *writable* says whether the process may write the ledger and its folder;
    without it, a failure to open or to write means the session is read-only.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    text = str(exc)
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return LedgerError(
            Text("the file is damaged ({text})", "文件已损坏（{text}）", text=text),
            path=path,
        )
    if primary in (SQLITE_READONLY, SQLITE_PERM) or (primary == SQLITE_CANTOPEN and not writable):
        return SessionReadOnlyError(path=path.parent)
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return SessionBusyError(path=path.parent)
    if primary == SQLITE_FULL:
        return OutputError(Text("the disk is full", "磁盘已满"), path=path)
    if primary == SQLITE_CANTOPEN:
        return LedgerError(
            Text("cannot open the file ({text})", "无法打开文件（{text}）", text=text),
            path=path,
        )
    if primary == SQLITE_IOERR:
        return LedgerError(
            Text("input/output error ({text})", "读写错误（{text}）", text=text),
            path=path,
        )
    if primary == SQLITE_CONSTRAINT or isinstance(exc, sqlite3.IntegrityError):
        return LedgerError(
            Text("the ledger refused the change ({text})", "台账拒绝了此更改（{text}）", text=text),
            path=path,
        )
    return LedgerError(
        Text(
            "it is not as bidcrypt wrote it ({text}); was it edited by hand?",
            "内容与 bidcrypt 写入的不符（{text}），是否被手工修改？",
            text=text,
        ),
        path=path,
    )
