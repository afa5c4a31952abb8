"""The worker processes of one opening run, and what happens when one of them dies.

The workers decrypt, verify and write the bids; the files a worker wrote
are synced to the disk here, by threads of the batch's process, before the
bid is recorded as opened. A worker that waited for the disk would leave
its core idle: here the wait overlaps the workers' next bids. The workers
are forked from a fork server that loaded their modules (pyHanko among
them) once, and start while the batch reads the headers.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from bidcrypt._fork_server import worker_context
from bidcrypt.errors import BidcryptError
from bidcrypt.opening.disk import remove_path
from bidcrypt.opening.worker import Job, Result, StopFlag, idle, start_worker, synced, work


class BatchRecorder(Protocol):
    """What the pool needs from the batch: the token step, and writing what became of each bid."""

    workers: int

    @property
    def stopped(self) -> BidcryptError | None:
        """The failure that stopped the batch, if any."""
        ...

    def prepare(self, row: Any) -> Job | None:
        """Read a bid's header and unwrap its content key on the token: its job, or None when it
        cannot go further."""
        ...

    def record(self, result: Result) -> None:
        """Write a worker's result to the ledger."""
        ...

    def worker_died(self, job: Job, exc: BaseException) -> None:
        """Record that a worker died while opening *job* alone."""
        ...


class WorkerPool:
    """The worker processes of one run: unwrap on the token here, open in the workers, sync here.

    When a worker dies (a crash, the kernel's out-of-memory killer), the
    bids it may have held are tried again one at a time in a new pool, so
    that only the bid that kills a worker on its own is left pending.
    Use it as a context manager: leaving it stops the processes and the
    syncing threads.
    """

    def __init__(self, batch: BatchRecorder) -> None:
        self.batch = batch
        self.context = worker_context()
        self.stop = StopFlag(self.context)
        self.suspects: deque[Job] = deque()
        #: Opened bids whose files are being synced, before they are recorded.
        self.syncing: dict[Future[Result], Job] = {}
        self.syncer = ThreadPoolExecutor(max(1, batch.workers), thread_name_prefix="bidcrypt-sync")
        self._started: ProcessPoolExecutor | None = None
        self._starter: threading.Thread | None = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._started is not None:
            self._started.shutdown(wait=True, cancel_futures=True)
            self._started = None
        if self._starter is not None:
            self._starter.join()
        self.syncer.shutdown(wait=True, cancel_futures=True)

    def start(self, bids: int) -> None:
        """Start the worker processes for *bids*, in the background: the first start of the fork
        server loads their modules (a second or two), while the batch reads the first headers."""
        count = self._count(bids)
        self._started = self._new_pool(count)
        self._starter = threading.Thread(
            target=_start_processes, args=(self._started, count), name="bidcrypt-start", daemon=True
        )
        self._starter.start()

    @property
    def starting(self) -> bool:
        """True while the worker processes of :meth:`start` are being started."""
        return self._starter is not None and self._starter.is_alive()

    def drive(self, ready: deque[Any]) -> None:
        """Open every ready bid, recreating the pool after a worker died, until done or stopped."""
        while (ready or self.suspects) and self.batch.stopped is None:
            self._one_pool(ready)
        while self.syncing:  # a pool that broke last may leave opened bids being synced
            future = next(iter(self.syncing))
            del self.syncing[future]
            self.batch.record(future.result())

    def _count(self, bids: int) -> int:
        return max(1, min(self.batch.workers, bids))

    def _new_pool(self, count: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=count, mp_context=self.context, initializer=start_worker, initargs=(self.stop,)
        )

    def _one_pool(self, ready: deque[Any]) -> None:
        pool = self._started or self._new_pool(self._count(len(ready) + len(self.suspects)))
        self._started = None
        in_flight: dict[Future[Result], Job] = {}
        try:
            while self.batch.stopped is None and (ready or self.suspects or in_flight or self.syncing):
                if self.suspects:  # alone in the pool, so that a death names its bid
                    if not in_flight:
                        _submit(pool, in_flight, self.suspects.popleft())
                elif ready and len(in_flight) < max(2, self.batch.workers * 2):
                    prepared = self.batch.prepare(ready.popleft())
                    if prepared is not None:
                        _submit(pool, in_flight, prepared)
                    continue
                if (in_flight or self.syncing) and not self._collect(in_flight):
                    return  # the pool broke: a new one takes the suspects
            while in_flight or self.syncing:  # stopped: let the bids under way finish and be recorded
                if not self._collect(in_flight):
                    return
        except BaseException:
            self.stop.set()  # interrupted: the workers exit now, the run folder goes with them
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, in_flight: dict[Future[Result], Job]) -> bool:
        """Take the bids that finished; False when the pool broke (its bids become suspects)."""
        finished, _ = wait([*in_flight, *self.syncing], return_when=FIRST_COMPLETED)
        broken = False
        for future in finished:
            if future in self.syncing:
                del self.syncing[future]
                self.batch.record(future.result())
                continue
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
            self._finished(job, result)
        if broken:  # every other bid in the pool either finished or becomes a suspect
            for future, job in in_flight.items():
                if future.exception() is None:
                    self._finished(job, future.result())
                else:
                    self.suspects.append(job)
            in_flight.clear()
        return not broken

    def _finished(self, job: Job, result: Result) -> None:
        """A worker's result: an opened bid goes to be synced first, any other is recorded now."""
        if result.status == "opened":
            self.syncing[self.syncer.submit(synced, job, result)] = job
        else:
            self.batch.record(result)


class OpeningProcesses:
    """Worker processes kept for a long life: bids opened one at a time, from many threads (a service's
    releases), each by :func:`~bidcrypt.opening.worker.work` in a process of its own.

    Python threads share one core for Python code; these processes let
    releases of different bids open on every core, without a process
    started per release. A worker that dies breaks the bids under way (the
    caller records them as the machine's failure) and the processes are
    started again for the next. :meth:`close` stops them.
    """

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self.context = worker_context()
        self.stop = StopFlag(self.context)
        self._guard = threading.Lock()
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.count, mp_context=self.context, initializer=start_worker, initargs=(self.stop,)
        )

    def open(self, job: Job) -> Result:
        """Open one bid in a worker process; :class:`BrokenProcessPool` when a worker died meanwhile."""
        with self._guard:
            pool = self._pool
        try:
            return pool.submit(work, job).result()
        except BrokenProcessPool:
            with self._guard:
                if self._pool is pool:
                    self._pool = self._new()
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        """Stop the worker processes (a bid under way is left pending, with the machine's failure)."""
        self.stop.set()
        with self._guard:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _start_processes(pool: ProcessPoolExecutor, count: int) -> None:
    """Start *count* worker processes of *pool* (each task given while no process is idle starts one
    more). A pool that broke or was shut down meanwhile, or a process that could not be started
    (OSError: no memory, no process left), is left as it is: its first bid, in the batch's own
    thread, meets the same failure and says so."""
    try:
        for _ in range(count):
            pool.submit(idle)
    except (BrokenProcessPool, RuntimeError, OSError):
        return


def _submit(pool: ProcessPoolExecutor, in_flight: dict[Future[Result], Job], job: Job) -> None:
    remove_path(Path(job.output))  # what an earlier try of a suspect left
    try:
        future = pool.submit(work, job, durable=False)
    except BrokenProcessPool as exc:  # a worker died before this bid was given (as it started)
        future = Future()
        future.set_exception(exc)
    in_flight[future] = job
