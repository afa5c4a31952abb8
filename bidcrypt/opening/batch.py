"""Opening a session's bids in bulk: key unwraps on the token, decryption and checks in parallel.

The token is the bottleneck (a real UKey does a few private-key operations
a second), so the token does exactly one unwrap per bid, serialised on one
logged-in session in this process, while worker processes decrypt and
verify the packages whose keys are already unwrapped. A token that never
hands out content keys (an SKF UKey's standard path) imports the key
instead, one operation per bid too, and decrypts the content itself: those
bids are opened in this process, one at a time (:mod:`bidcrypt.opening.on_token`).

One bid never stops the opening. Every bid ends in one of three ways,
written to the ledger as it happens:

- **opened**, or **failed** with its cause, when the cause belongs to the
  bid: its stored bytes (missing, altered: receipt mismatch), its
  algorithms, its wrapped key, its content. Final.
- an **attempt** with its cause, when the machine failed: the token was
  removed or refused, the PIN, the session's disk is full. The batch stops
  cleanly and the next run carries on with the bids that have no outcome.
- an **attempt** too when the cause cannot be told (an unforeseen error of
  the key source, a worker process that died): the bid stays pending and
  the batch goes on.

A key is tried only on the recipients that name it (no trial decryption);
a bid not encrypted to the key is skipped, with an attempt saying so.

A bid is opened into ``opened/.run-…/N`` by a worker and moved to
``opened/N`` in the same ledger transaction that records it as opened.
Each run starts by reconciling the folder with the ledger under the
session lock, so a run killed at any moment leaves nothing that a new run
mistakes for finished work, and ``opened/N`` exists exactly when the
ledger says bid N was opened.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from bidcrypt import _platform, certs
from bidcrypt.envelope import ContentKey, candidates, unwrap_content_key
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    NotOpeningTimeError,
    OpeningError,
    ReceiptMismatchError,
    TokenCipherUnsupportedError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.opening.batch_causes import (
    malformed,
    not_for_this_key,
    stops_the_batch,
    stored_file_problem,
    unforeseen,
)
from bidcrypt.opening.causes import stored
from bidcrypt.opening.counting import CountingEntry
from bidcrypt.opening.disk import reconcile_opened, remove_path
from bidcrypt.opening.ledger import Row, dumps, now_text
from bidcrypt.opening.lock import SessionLock
from bidcrypt.opening.on_token import open_on_token
from bidcrypt.opening.pool import WorkerPool
from bidcrypt.opening.run import OpeningRun, Progress
from bidcrypt.opening.session import OpeningSession
from bidcrypt.opening.worker import Job, Result, file_sha256
from bidcrypt.package import PackageInfo, read_package_info

__all__ = ["OpeningRun", "Progress", "file_sha256", "open_bids"]


class _Batch:
    """One run of the opening over a session, under the session lock."""

    #: Who opens the bids of this batch (the outcomes' ``opened_by``): the bulk opening's key.
    opened_by = "key"

    def __init__(
        self,
        session: OpeningSession,
        key_source: KeySource | None,
        workers: int,
        progress: Callable[[Progress], None] | None,
        at: dt.datetime,
    ) -> None:
        self.session = session
        self.ledger = session.ledger
        self.workers = workers
        self.progress = progress
        self.at = at
        self.run = OpeningRun()
        self.counter = [0]
        # Only the keys the source holds: a certificate without its key opens nothing, and a bid that
        # names one must not read as a failure of the key source. No key source: the keys come with
        # the bids (a release, see :mod:`bidcrypt.opening.released`).
        self.entries: list[KeyEntry] = [
            CountingEntry(e, self.counter)
            for e in (key_source.entries() if key_source is not None else [])
            if e.has_private_key
        ]
        if key_source is not None and not self.entries:  # nothing could be opened: say so
            raise KeyNotFoundError(what=Text("private key", "私钥"), ref=key_source.description)
        anchors, crls = session.trust_files()
        self.trust = (tuple(str(p) for p in anchors), tuple(str(p) for p in crls))
        self.opened_dir = session.directory / "opened"
        self.run_dir = self.opened_dir / f".run-{os.getpid()}-{time.time_ns()}"
        self.done = 0
        #: The bids this run may still finish (opened or failed): its pending bids, less those
        #: skipped (not for this key) or left for another run.
        self.total = 0
        #: The headers read ahead (:meth:`_read_ahead`), by submission number, until their bids are given out.
        self._headers: dict[int, PackageInfo] = {}
        #: The token decrypts the content (no private-key decryption): those bids open here, one at a time.
        self.on_token = any(not e.returns_content_keys for e in self.entries)

    # -- before: the folder agrees with the ledger --------------------------------------------------

    def reconcile(self) -> None:
        """Make ``opened/`` agree with the ledger before the run (see :func:`reconcile_opened`)."""
        outcomes = self.session.outcomes()
        reconcile_opened(self.opened_dir, [n for n, row in outcomes.items() if row["status"] == "opened"])

    # -- the run ----------------------------------------------------------------------------------

    def execute(self, rows: list[Row] | None = None) -> OpeningRun:
        """Open the pending bids (or *rows*) in the worker processes; record each as it ends."""
        start = time.perf_counter()
        self.reconcile()
        self.run_dir.mkdir()
        try:
            pending = deque(self.session.pending() if rows is None else rows)
            self.total = len(pending)
            with WorkerPool(self) as pool:
                if pending:
                    pool.start(len(pending))  # in the background: the workers load their modules
                if self.on_token and pending and self.progress is not None:  # say it before the slow work
                    self.progress(Progress(0, self.total, 0, "", on_token=True))
                pool.drive(self._read_ahead(pending, pool))
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run.unwraps = self.counter[0]
        self.run.seconds = time.perf_counter() - start
        return self.run

    def _read_ahead(self, pending: deque[Row], pool: WorkerPool) -> deque[Row]:
        """Read the first bids' headers while the worker processes start; the others are read as
        their bids are given out (:meth:`prepare`), while the workers open the ones before."""
        ready: deque[Row] = deque()
        while pending and pool.starting:
            row = pending.popleft()
            info = self._examine(row)
            if info is not None:
                self._headers[int(row["id"])] = info
                ready.append(row)
        ready.extend(pending)
        return ready

    def _stored(self, row: Row) -> Path:
        """The stored submission of *row*; the ledger's path is only trusted when it is the expected one."""
        return self.session.directory / "submissions" / f"{int(row['id'])}.bid"

    def _examine(self, row: Row) -> PackageInfo | None:
        """Read a pending bid's header; record what keeps it from being opened with this key."""
        number = int(row["id"])
        path = self._stored(row)
        mismatch = stored_file_problem(row, path)
        if mismatch is not None:
            self._record(Result(number, "failed", mismatch))
            return None
        try:
            info = self.package_info(path)
            named = self.opens(info)
        except OSError as exc:  # the stored file cannot be read now (I/O): try again in another run
            self._defer(number, OpeningError(exc.strerror or str(exc)))
            return None
        except BidcryptError as error:
            self._fail_with_receipt(row, path, error)
            return None
        except Exception as exc:  # a header that trips a library: the bid's own failure
            self._fail_with_receipt(row, path, malformed(exc))
            return None
        if not named:
            self.run.skipped.append(number)
            self.total -= 1
            self._attempt(number, not_for_this_key())
            return None
        return info

    def package_info(self, path: Path) -> PackageInfo:
        """The stored bid's header and attributes (read here; a released bid's were read already)."""
        return read_package_info(path)

    def opens(self, info: PackageInfo) -> bool:
        """Whether this batch has a key the bid names (no trial decryption)."""
        return bool(candidates(info.header, self.entries, info.recipient_certificates))

    def _fail_with_receipt(self, row: Row, path: Path, error: BidcryptError) -> None:
        """Record *error* as the bid's outcome, or a receipt mismatch when its bytes left the receipt."""
        number = int(row["id"])
        try:
            actual = file_sha256(path)
        except OSError as exc:
            self._defer(number, OpeningError(exc.strerror or str(exc)))
            return
        if actual != row["sha256"]:
            error = ReceiptMismatchError(actual=actual, expected=row["sha256"])
        self._record(Result(number, "failed", error))

    def prepare(self, row: Row) -> Job | None:
        """The job of a bid about to be given to a worker: its header read (unless read ahead) and
        its content key unwrapped; None when the bid cannot go further (its cause recorded)."""
        info = self._headers.pop(int(row["id"]), None) or self._examine(row)
        return None if info is None else self.unwrap(row, info)

    def unwrap(self, row: Row, info: PackageInfo) -> Job | None:
        """Unwrap the content key on the token (the only token operation per bid): the bid's job.

        A key the token keeps (it decrypts the content itself) opens the bid
        here and now (:mod:`bidcrypt.opening.on_token`), and there is no job.
        A bid the token cannot decrypt (GCM, OAEP) stays pending for another key.
        """
        number = int(row["id"])
        path = self._stored(row)
        start = time.perf_counter()
        try:
            content_key = unwrap_content_key(
                info.header, self.entries, certificates=info.recipient_certificates
            )
        except BidcryptError as error:
            if stops_the_batch(error):
                self._attempt(number, error)
                self.run.stopped = error
            elif isinstance(error, TokenCipherUnsupportedError):  # the bid is sound; another key may open it
                self._defer(number, error)
            else:
                self._fail_with_receipt(row, path, error)
            return None
        except Exception as exc:  # the key source failed in a way nobody foresaw: keep the bid pending
            self._defer(number, unforeseen(exc))
            return None
        self.run.add_phases({"unwrap": time.perf_counter() - start})
        job = self.job(row, info, content_key)
        if content_key.on_token:  # the token decrypts: here, now, never in a worker
            self.run.token_decrypted += 1
            self.record(open_on_token(job))
            return None
        return job

    def job(self, row: Row, info: PackageInfo, content_key: ContentKey) -> Job:
        """The worker's job for one bid whose content key is at hand."""
        number = int(row["id"])
        return Job(
            number,
            str(self._stored(row)),
            row["sha256"],
            info.header,
            content_key,
            info.attributes,
            str(self.run_dir / str(number)),
            self.trust,
            self.at,
            self.run_dir.name,
        )

    # -- writing outcomes ---------------------------------------------------------------------------

    def _attempt(self, number: int, error: BidcryptError) -> None:
        """Record an unsuccessful attempt; the bid keeps no outcome and a new run may open it."""
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO attempts(submission_id, at, cause_code, cause, cause_zh, cause_params) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (number, now_text(), error.code, error.message("en"), error.message("zh"), stored(error)),
            )

    def _defer(self, number: int, error: BidcryptError) -> None:
        self._attempt(number, error)
        self.run.deferred.append(number)
        self.total -= 1

    def record(self, result: Result) -> None:
        """Write a worker's result: an outcome, or an attempt that stops the batch."""
        if result.status == "retry":
            assert result.error is not None
            self._attempt(result.submission, result.error)
            if self.run.stopped is None:
                self.run.stopped = result.error
            return
        if result.phases:
            self.run.add_phases(result.phases)
            self.run.worked += 1
        self._record(result)

    def _record(self, result: Result) -> None:
        """Write one bid's outcome, moving its opened files into place in the same transaction.

        Idempotent: a bid that already has an outcome keeps it, and its
        files from this run are dropped. The folder is renamed inside the
        transaction and its parent synced before the commit; a crash before
        the commit leaves an ``opened/N`` without an outcome, which the next
        run removes.
        """
        number = result.submission
        error = result.error
        staged = self.run_dir / str(number)
        with self.ledger.transaction() as db:
            if db.execute("SELECT 1 FROM outcomes WHERE submission_id = ?", (number,)).fetchone():
                remove_path(staged)
                return
            output = None
            if result.status == "opened":
                final = self.opened_dir / str(number)
                remove_path(final)
                staged.rename(final)
                _platform.sync_directory(self.opened_dir)
                output = str(final.relative_to(self.session.directory))
            db.execute(
                "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, cause_params, "
                "report, output, finished_at, opened_by, released_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    result.status,
                    None if error is None else error.code,
                    None if error is None else error.message("en"),
                    None if error is None else error.message("zh"),
                    None if error is None else stored(error),
                    dumps(result.report),
                    output,
                    now_text(),
                    self.opened_by,
                    self.released_at,
                ),
            )
            self.recorded(db, result)
        (self.run.opened if result.status == "opened" else self.run.failed).append(number)
        self.run.bytes += result.size
        self.done += 1
        if self.progress is not None:
            self.progress(Progress(self.done, self.total, self.run.bytes, str(number), self.on_token))

    #: When the key that opens the bids arrived (a release), for the outcomes' ``released_at``.
    released_at: str | None = None

    def recorded(self, db: sqlite3.Connection, result: Result) -> None:
        """What else is written in the transaction that records *result* (nothing for the bulk opening)."""

    @property
    def stopped(self) -> BidcryptError | None:
        """The failure that stopped the batch, if any."""
        return self.run.stopped

    def worker_died(self, job: Job, exc: BaseException) -> None:
        """A worker process died while opening *job* alone: the bid stays pending, with the cause."""
        self._defer(
            job.submission,
            OpeningError(
                Text(
                    "the worker process opening this bid died ({exc_name})",
                    "解密此投标文件的工作进程意外退出（{exc_name}）",
                    exc_name=type(exc).__name__,
                )
            ),
        )


def open_bids(
    session: OpeningSession,
    key_source: KeySource,
    *,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    opened_by: str = "key",
) -> OpeningRun:
    """Open every current bid of *session* that *key_source* can open; one login, one unwrap per bid.

    Refused before the opening time, after the window closed, and while
    another process works on the session. *workers* decryption processes
    run beside the token (default: the number of cores). *at* is the time
    certificates are validated at, one for the whole batch (default: the
    system clock when the batch starts), so that each distinct certificate
    is validated once per batch; *now* is the time the opening is asked at
    (default: the system clock), for callers that keep their own clock.
    The run says how long each phase took (:attr:`OpeningRun.phases`).
    *opened_by* is what the outcomes say opened the bids: ``key`` (the
    authority's key source), ``committee`` (the opening key k members rebuilt).
    """
    with SessionLock(session.directory):
        moment = now or dt.datetime.now(dt.UTC)
        settings = session.settings
        if moment < settings.opening_time:
            raise NotOpeningTimeError(opening_time=certs.format_time(settings.opening_time))
        session.require_open_window()
        validation_time = at or dt.datetime.now(dt.UTC)
        batch = _Batch(session, key_source, workers or os.cpu_count() or 1, progress, validation_time)
        batch.opened_by = opened_by
        return batch.execute()
