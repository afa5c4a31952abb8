"""The backup copy (备用文件) handed over within the window: proven against the stored bid, then opened.

《电子招标投标办法》第三十一条 lets the tender documents allow a remedy
when a bid cannot be decrypted: the bidder hands over the backup copy, the
bundle the package encrypts. :func:`accept_backup` takes it only while the
window runs, and only when :func:`bidcrypt.package.verify_backup` proves it
against the stored submission: its signed manifest is the one the
package's authenticated attributes name, and every file is as listed.

A proven backup opens the bid as the bulk opening does: the files are
written to a staging folder (``opened/.run-backup-*``) and synced, then
moved to ``opened/N`` inside the ledger transaction that records the
outcome (``opened_by = 'backup'``, ``released_at`` = the arrival time) and
the ``releases`` row (kind ``backup``). A backup that is not this bid's
(another bid's, tampered, not a bundle) is refused; so is one outside the
running window or for a bid already opened. Every backup received is a
``releases`` row, accepted or refused, with the refusal's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bidcrypt import _platform, uscc
from bidcrypt.clock import Clock
from bidcrypt.errors import BackupRefusedError, BidcryptError, InputError, LedgerError, OutputError
from bidcrypt.i18n import Text
from bidcrypt.opening.causes import stored
from bidcrypt.opening.disk import reconcile_opened, remove_path, sync_tree
from bidcrypt.opening.ledger import Row, dumps, now_text
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.window import iso, moment, require_running
from bidcrypt.package import verify_backup

if TYPE_CHECKING:
    from bidcrypt.opening.session import OpeningSession

__all__ = ["AcceptedBackup", "accept_backup"]

#: The checks whose failure means the backup is not the stored bid: refused, the bid stays pending.
NOT_THIS_BID = frozenset({"manifest-digest", "manifest", "files"})

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class AcceptedBackup:
    """A backup taken: the bid it opened, its outcome, and when it arrived."""

    submission: int
    bidder: str
    credit_code: str
    status: str
    received_at: dt.datetime
    output: str | None
    cause: BidcryptError | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "submission": self.submission,
            "bidder": self.bidder,
            "credit_code": self.credit_code,
            "status": self.status,
            "opened_by": "backup",
            "received_at": iso(self.received_at),
            "output": self.output,
            "cause": None if self.cause is None else self.cause.to_dict(),
        }


def accept_backup(
    session: OpeningSession,
    submission: str,
    backup: str | os.PathLike[str],
    clock: Clock | None = None,
    *,
    at: dt.datetime | None = None,
) -> AcceptedBackup:
    """Take the backup copy *backup* of the bid *submission* (its receipt SHA-256, or a credit code
    with one current bid); see the module's text. *clock* gives the arrival time (the window's
    clock), *at* the time certificates are validated at (default: the system clock).

    A refusal is recorded, then raised: :class:`~bidcrypt.errors.BackupRefusedError`, a window
    error, or the verification's own error.
    """
    path = Path(backup)
    digest, size = _digest(path)
    with SessionLock(session.directory, wait=CHANGE_WAIT):
        now = moment(clock)
        row: Row | None = None
        try:
            if size > session.max_package_size:
                raise BackupRefusedError(
                    Text(
                        "the backup is larger than the session's limit of {limit} bytes",
                        "备用文件超过会话上限 {limit} 字节",
                        limit=session.max_package_size,
                    )
                )
            row = _submission(session, submission)
            require_running(session, now)
            if session.ledger.one("SELECT 1 FROM outcomes WHERE submission_id = ?", (int(row["id"]),)):
                raise BackupRefusedError(
                    Text(
                        "bid {submission} was opened already",
                        "投标文件 {submission} 已解密",
                        submission=row["id"],
                    )
                )
            return _open(session, row, path, digest, size, now, at or dt.datetime.now(dt.UTC))
        except (OutputError, LedgerError):
            raise  # the machine's failure, not the backup's: nothing to record against it
        except BidcryptError as error:
            _refuse(session, row, digest, size, now, error)
            raise


def _digest(path: Path) -> tuple[str, int]:
    """The SHA-256 and size of the backup file, as received."""
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                digest.update(chunk)
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path) from exc
    return digest.hexdigest(), size


def _submission(session: OpeningSession, which: str) -> Row:
    """The current submission named by its receipt SHA-256, or by its bidder's credit code."""
    sql = (
        "SELECT s.*, b.name AS bidder_name, b.credit_code FROM submissions s "
        "JOIN bidders b ON b.id = s.bidder_id WHERE s.state = 'current' AND "
    )
    if _SHA256.fullmatch(which.strip()):
        rows = session.ledger.query(sql + "s.sha256 = ?", (which.strip().lower(),))
    else:
        try:
            code = uscc.normalise(which)
        except BidcryptError:
            code = which.strip().upper()
        rows = session.ledger.query(sql + "b.credit_code = ?", (code,))
    if len(rows) != 1:
        raise BackupRefusedError(
            Text(
                "no single current bid is named by {which}"
                + (" (the bidder has several: name the receipt's SHA-256)" if rows else ""),
                "{which} 未对应唯一的有效投标文件" + ("（该投标人有多个：请用回执摘要指明）" if rows else ""),
                which=which,
            )
        )
    return rows[0]


def _open(
    session: OpeningSession,
    row: Row,
    backup: Path,
    digest: str,
    size: int,
    now: dt.datetime,
    validation_time: dt.datetime,
) -> AcceptedBackup:
    number = int(row["id"])
    opened_dir = session.directory / "opened"
    reconcile_opened(opened_dir, [n for n, r in session.outcomes().items() if r["status"] == "opened"])
    staging = opened_dir / f".run-backup-{os.getpid()}-{time.time_ns()}"
    staging.mkdir()
    try:
        stored_package = session.directory / str(row["stored_as"])
        report = verify_backup(
            backup, stored_package, staging / "bid", session.trust_store(), validation_time
        )
        failed = next((c for c in report.checks if not c.ok), None)
        if report.error is not None and (failed is None or failed.name in NOT_THIS_BID):
            raise BackupRefusedError(
                Text(
                    "the backup is not this bid's ({error})",
                    "备用文件与该投标文件不符（{error}）",
                    error=report.error,
                )
            )
        status = "opened" if report.error is None else "failed"
        if status == "opened":
            sync_tree(staging / "bid")
        error = report.error
        output = None
        with session.ledger.transaction() as db:
            if status == "opened":
                final = opened_dir / str(number)
                remove_path(final)
                (staging / "bid").rename(final)
                _platform.sync_directory(opened_dir)
                output = str(final.relative_to(session.directory))
            db.execute(
                "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, cause_params, "
                "report, output, finished_at, opened_by, released_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'backup', ?)",
                (
                    number,
                    status,
                    None if error is None else error.code,
                    None if error is None else error.message("en"),
                    None if error is None else error.message("zh"),
                    None if error is None else stored(error),
                    dumps(report.to_dict()),
                    output,
                    now_text(now),
                    now_text(now),
                ),
            )
            _release_row(db, row, digest, size, now, None)
    finally:
        remove_path(staging)
    return AcceptedBackup(
        number, str(row["bidder_name"]), str(row["credit_code"]), status, now, output, error
    )


def _refuse(
    session: OpeningSession,
    row: Row | None,
    digest: str,
    size: int,
    now: dt.datetime,
    error: BidcryptError,
) -> None:
    with session.ledger.transaction() as db:
        _release_row(db, row, digest, size, now, error)


def _release_row(
    db: Any, row: Row | None, digest: str, size: int, now: dt.datetime, error: BidcryptError | None
) -> None:
    db.execute(
        "INSERT INTO releases(at, kind, sha256, size, submission_id, bidder_id, verdict, code, message, "
        "message_zh, params) VALUES (?, 'backup', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            now_text(now),
            digest,
            size,
            None if row is None else int(row["id"]),
            None if row is None else int(row["bidder_id"]),
            "accepted" if error is None else "refused",
            None if error is None else error.code,
            None if error is None else error.message("en"),
            None if error is None else error.message("zh"),
            None if error is None else stored(error),
        ),
    )
