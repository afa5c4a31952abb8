"""Opening one bid with the content key its bidder released, through the bulk opening's own path.

:class:`ReleasedBatch` is the bulk opening's batch (:mod:`bidcrypt.opening.batch`)
without a key source: the content key comes with the bid. The same worker
function decrypts while it checks the receipt, verifies the manifest and the
seals and writes the files into a staging folder, without the session lock
(:meth:`ReleasedBatch.stage`: every ledger write held back); then, under
the lock (:meth:`ReleasedBatch.commit`), the same transaction as the bulk
opening's moves them to ``opened/N`` and records the outcome, here with
``opened_by = 'release'``, ``released_at`` = the arrival of the release, and
the accepted release itself (the row of ``releases``), so that ledger and
folder agree after a kill at any moment (the next run or acceptance
reconciles them).

A key that decrypts the start of the content to something other than the
bundle's manifest does not open the bid: the release is refused
(``release-key-wrong``) and the bid stays pending, with no outcome.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from bidcrypt.envelope import ContentKey
from bidcrypt.errors import BidcryptError, OpeningError
from bidcrypt.i18n import Text
from bidcrypt.opening.batch import _Batch
from bidcrypt.opening.ledger import Row, now_text
from bidcrypt.opening.pool import OpeningProcesses, WorkerPool
from bidcrypt.opening.session import OpeningSession
from bidcrypt.opening.worker import Job, Result, work
from bidcrypt.package import PackageInfo

__all__ = ["ReleasedBatch"]

#: What the batch calls, inside the transaction that records the bid's outcome.
OnRecorded = Callable[[sqlite3.Connection, Result], None]


class ReleasedBatch(_Batch):
    """A batch of one bid whose content key was released by its bidder.

    :meth:`stage` opens the bid into *stage* (a staging folder, see
    :func:`~bidcrypt.opening.disk.staging_folder`) without the session lock,
    holding back every ledger write; :meth:`commit`, under the session lock,
    writes them: the outcome's transaction moves ``opened/N`` into place and
    records the accepted release.
    """

    opened_by = "release"

    def __init__(
        self,
        session: OpeningSession,
        content_key: ContentKey,
        arrival: dt.datetime,
        on_recorded: OnRecorded,
        stage: Path,
        info: PackageInfo | None = None,
    ) -> None:
        super().__init__(session, None, 1, None, arrival)
        self.run_dir = stage
        #: The stored bid's header, when the key check read it already.
        self.info = info
        self.content_key = content_key
        self.released_at = now_text(arrival)
        self.on_recorded = on_recorded
        #: The outcome recorded (its status), None while the bid has none.
        self.status: str | None = None
        #: The ledger writes :meth:`stage` held back, in order, for :meth:`commit`.
        self._held: list[Callable[[], None]] | None = None

    def package_info(self, path: Path) -> PackageInfo:
        """The header the key check read, else the stored bid's."""
        return self.info if self.info is not None else super().package_info(path)

    def opens(self, info: PackageInfo) -> bool:
        """The released key is the bid's own: checked before the batch runs."""
        return True

    def unwrap(self, row: Row, info: PackageInfo) -> Job | None:
        """The worker's job with the released key (no token operation)."""
        return self.job(row, info, self.content_key)

    def recorded(self, db: sqlite3.Connection, result: Result) -> None:
        """Record the accepted release in the outcome's transaction."""
        self.status = result.status
        self.on_recorded(db, result)

    def _record(self, result: Result) -> None:
        if self._held is not None:
            self._held.append(lambda: _Batch._record(self, result))
        else:
            super()._record(result)

    def _attempt(self, number: int, error: BidcryptError) -> None:
        if self._held is not None:
            self._held.append(lambda: _Batch._attempt(self, number, error))
        else:
            super()._attempt(number, error)

    def stage(self, row: Row, *, in_process: bool = False, processes: OpeningProcesses | None = None) -> None:
        """Open the bid of *row* into the staging folder; no lock needed, nothing written to the ledger.

        In a worker process of the bulk opening's pool; or in one of
        *processes*, kept by a service that accepts many releases; or with
        *in_process* in this thread: always by the same
        :func:`~bidcrypt.opening.worker.work`.
        """
        self._held = []
        if in_process or processes is not None:
            job = self.prepare(row)
            if job is None:
                return
            if processes is None:
                self.record(work(job))
                return
            try:
                self.record(processes.open(job))
            except BrokenProcessPool as exc:
                self.worker_died(job, exc)
            return
        info = self._examine(row)
        if info is None:
            return
        self._headers[int(row["id"])] = info
        with WorkerPool(self) as pool:
            pool.start(1)
            pool.drive(deque([row]))

    def commit(self) -> str | None:
        """Under the session lock: write what :meth:`stage` held back. The outcome's status, or None
        when the bid stays pending (:attr:`failure`)."""
        held, self._held = self._held or [], None
        for write in held:
            write()
        return self.status

    @property
    def failure(self) -> BidcryptError:
        """Why the bid stays pending: the machine's failure that stopped the run, or a worker's death."""
        return self.run.stopped or OpeningError(
            Text("the bid could not be opened now; it stays pending", "该投标文件暂未能解密，仍待解密")
        )
