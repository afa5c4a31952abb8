"""The worker processes of one opening run, and what happens when one of them dies."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from bidcrypt.errors import BidcryptError
from bidcrypt.opening.disk import remove_path
from bidcrypt.opening.worker import Job, Result, start_worker, work
from bidcrypt.package import PackageInfo


class BatchRecorder(Protocol):
    """What the pool needs from the batch: the token step, and writing what became of each bid."""

    workers: int

    @property
    def stopped(self) -> BidcryptError | None:
        """The failure that stopped the batch, if any."""
        ...

    def prepare(self, row: Any, info: PackageInfo) -> Job | None:
        """Unwrap a bid's content key on the token: its job, or None when it cannot go further."""
        ...

    def record(self, result: Result) -> None:
        """Write a worker's result to the ledger."""
        ...

    def worker_died(self, job: Job, exc: BaseException) -> None:
        """Record that a worker died while opening *job* alone."""
        ...


class WorkerPool:
    """The worker processes of one run: unwrap on the token here, open in the workers.

    When a worker dies (a crash, the kernel's out-of-memory killer), the
    bids it may have held are tried again one at a time in a new pool, so
    that only the bid that kills a worker on its own is left pending.
    """

    def __init__(self, batch: BatchRecorder) -> None:
        self.batch = batch
        self.context = get_context("spawn")
        self.stop = self.context.Event()
        self.suspects: deque[Job] = deque()

    def drive(self, ready: deque[tuple[Any, PackageInfo]]) -> None:
        """Open every ready bid, recreating the pool after a worker died, until done or stopped."""
        while (ready or self.suspects) and self.batch.stopped is None:
            self._one_pool(ready)

    def _one_pool(self, ready: deque[tuple[Any, PackageInfo]]) -> None:
        count = max(1, min(self.batch.workers, len(ready) + len(self.suspects)))
        pool = ProcessPoolExecutor(
            max_workers=count, mp_context=self.context, initializer=start_worker, initargs=(self.stop,)
        )
        in_flight: dict[Future[Result], Job] = {}
        try:
            while self.batch.stopped is None and (ready or self.suspects or in_flight):
                if self.suspects:  # alone in the pool, so that a death names its bid
                    if not in_flight:
                        _submit(pool, in_flight, self.suspects.popleft())
                elif ready and len(in_flight) < max(2, self.batch.workers * 2):
                    prepared = self.batch.prepare(*ready.popleft())
                    if prepared is not None:
                        _submit(pool, in_flight, prepared)
                    continue
                if in_flight and not self._collect(in_flight):
                    return  # the pool broke: a new one takes the suspects
            while in_flight:  # stopped: let the bids in the workers finish and be recorded
                if not self._collect(in_flight):
                    return
        except BaseException:
            self.stop.set()  # interrupted: the workers exit now, the run folder goes with them
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, in_flight: dict[Future[Result], Job]) -> bool:
        """Record the bids that finished; False when the pool broke (its bids become suspects)."""
        finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
        broken = False
        for future in finished:
            job = in_flight.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool as exc:
                broken = True
                if len(finished) == 1 and not in_flight:
                    self.batch.worker_died(job, exc)
                else:
                    self.suspects.append(job)
                continue
            self.batch.record(result)
        if broken:  # every other bid in the pool either finished or becomes a suspect
            for future, job in in_flight.items():
                if future.exception() is None:
                    self.batch.record(future.result())
                else:
                    self.suspects.append(job)
            in_flight.clear()
        return not broken


def _submit(pool: ProcessPoolExecutor, in_flight: dict[Future[Result], Job], job: Job) -> None:
    remove_path(Path(job.output))  # what an earlier try of a suspect left
    in_flight[pool.submit(work, job)] = job
