"""Opening a session's bids in bulk: key unwraps on the token, decryption and checks in parallel.

The token is the bottleneck (a real UKey does a few private-key operations
a second), so the token does exactly one unwrap per bid, serialised on one
logged-in session in this process, while worker processes decrypt and
verify the packages whose keys are already unwrapped. Every bid's outcome
is written to the ledger as it completes; a failure of one bid never stops
the others. A failure of the token or the disk stops the batch cleanly:
it is recorded as an attempt of the bid concerned, and running the opening
again carries on with the bids that have no outcome yet.

A bid is opened into ``opened/.run-…/N`` by a worker and moved to
``opened/N`` by this process when it records the outcome, so a run killed
at any moment leaves nothing that a new run mistakes for finished work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt import certs
from bidcrypt.envelope import ContentKey, EnvelopeHeader, unwrap_content_key
from bidcrypt.envelope.opening import candidates
from bidcrypt.errors import (
    BidcryptError,
    KeySourceError,
    NotOpeningTimeError,
    OutputError,
    PackageError,
    ReceiptMismatchError,
    WrongKeyError,
)
from bidcrypt.i18n import pick
from bidcrypt.keys import KeyEntry, KeySource, KeyTransport
from bidcrypt.opening.ledger import dumps, now_text
from bidcrypt.opening.lock import SessionLock
from bidcrypt.opening.session import OpeningSession
from bidcrypt.package import PackageAttributes, PackageInfo, open_content, read_package_info
from bidcrypt.quiet import quiet_library_logs
from bidcrypt.trust import TrustStore

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Progress:
    """How far the batch is: bids finished of those this key can open, and their bytes."""

    done: int
    total: int
    bytes_done: int
    last: str


@dataclass
class OpeningRun:
    """What one run of the opening did."""

    opened: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    #: Current bids this key cannot open (not encrypted to it).
    skipped: list[int] = field(default_factory=list)
    #: The failure that stopped the batch early (token removed, PIN, disk full), if any.
    stopped: BidcryptError | None = None
    #: Private-key operations made on the key source.
    unwraps: int = 0
    seconds: float = 0.0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "opened": self.opened,
            "failed": self.failed,
            "skipped": self.skipped,
            "stopped": None if self.stopped is None else self.stopped.to_dict(),
            "unwraps": self.unwraps,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
        }


class _CountingEntry(KeyEntry):
    """A key entry that counts its private-key operations (to show one unwrap per bid)."""

    def __init__(self, inner: KeyEntry, counter: list[int]) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)
        self._inner = inner
        self._counter = counter

    @property
    def has_private_key(self) -> bool:
        return self._inner.has_private_key

    def rsa_decrypt(self, ciphertext: bytes, transport: KeyTransport) -> bytes:
        self._counter[0] += 1
        return self._inner.rsa_decrypt(ciphertext, transport)

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        self._counter[0] += 1
        return self._inner.ecdh(peer)

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        return self._inner.sign(data, hash_name)

    def claimed_transports(self) -> tuple[KeyTransport, ...]:
        return self._inner.claimed_transports()


@dataclass(frozen=True)
class _Job:
    submission: int
    path: str
    sha256: str
    header: EnvelopeHeader
    content_key: ContentKey
    attributes: PackageAttributes
    output: str
    trust: tuple[tuple[str, ...], tuple[str, ...]]
    at: dt.datetime | None


@dataclass(frozen=True)
class _Result:
    submission: int
    status: str  # opened | failed | retry
    error: BidcryptError | None = None
    report: dict[str, Any] = field(default_factory=dict)
    size: int = 0


_TRUST_CACHE: dict[tuple[tuple[str, ...], tuple[str, ...]], TrustStore] = {}


def _trust(files: tuple[tuple[str, ...], tuple[str, ...]]) -> TrustStore:
    if files not in _TRUST_CACHE:
        _TRUST_CACHE[files] = TrustStore.load([Path(p) for p in files[0]], [Path(p) for p in files[1]])
    return _TRUST_CACHE[files]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _failure(job_id: int, error: BidcryptError, status: str = "failed", **extra: Any) -> _Result:
    return _Result(job_id, status, error, **extra)


def work(job: _Job) -> _Result:
    """Open one bid whose content key is known: check the receipt, decrypt, verify (in a worker)."""
    path = Path(job.path)
    try:
        actual = file_sha256(path)
        if actual != job.sha256:
            return _failure(job.submission, ReceiptMismatchError(actual=actual, expected=job.sha256))
        report = open_content(
            path, job.header, job.content_key, job.attributes, Path(job.output), _trust(job.trust), job.at
        )
    except OutputError as error:
        return _failure(job.submission, error, "retry")
    except OSError as exc:
        return _failure(job.submission, OutputError(exc.strerror or str(exc), path=job.output), "retry")
    except BidcryptError as error:
        return _failure(job.submission, error)
    except Exception as exc:  # a package that trips a library: that bid fails, the batch goes on
        detail = pick(
            f"unexpected error while opening ({type(exc).__name__}: {exc})",
            f"开启时发生意外错误（{type(exc).__name__}：{exc}）",
        )
        return _failure(job.submission, PackageError(detail))
    size = path.stat().st_size
    if report.ok:
        return _Result(job.submission, "opened", report=report.to_dict(), size=size)
    assert report.error is not None
    return _failure(job.submission, report.error, report=report.to_dict(), size=size)


class _Batch:
    """One run of the opening over a session, under the session lock."""

    def __init__(
        self,
        session: OpeningSession,
        key_source: KeySource,
        workers: int,
        progress: Callable[[Progress], None] | None,
        at: dt.datetime | None,
    ) -> None:
        self.session = session
        self.ledger = session.ledger
        self.workers = workers
        self.progress = progress
        self.at = at
        self.run = OpeningRun()
        self.counter = [0]
        self.entries: list[KeyEntry] = [_CountingEntry(e, self.counter) for e in key_source.entries()]
        anchors, crls = session.trust_files()
        self.trust = (tuple(str(p) for p in anchors), tuple(str(p) for p in crls))
        self.opened_dir = session.directory / "opened"
        self.run_dir = self.opened_dir / f".run-{os.getpid()}-{time.time_ns()}"
        self.done = 0
        self.total = 0

    def clean_leftovers(self) -> None:
        """Remove what a killed run left: its run folder, and opened folders without an outcome."""
        finished = {str(n) for n in self.session.outcomes()}
        for child in self.opened_dir.iterdir():
            if child.name.startswith(".run-") or (child.name.isdigit() and child.name not in finished):
                shutil.rmtree(child, ignore_errors=True)

    def execute(self) -> OpeningRun:
        start = time.perf_counter()
        self.clean_leftovers()
        self.run_dir.mkdir()
        pending = self.session.pending()
        jobs: list[tuple[Any, Any]] = []
        for row in pending:
            path = self.session.directory / row["stored_as"]
            try:
                info = read_package_info(path)
            except BidcryptError as error:
                self._record(self._unreadable(row, path, error))
                continue
            if not candidates(info.header, self.entries):
                self.run.skipped.append(int(row["id"]))
                continue
            jobs.append((row, info))
        self.total = len(jobs)
        try:
            self._run_jobs(jobs)
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run.unwraps = self.counter[0]
        self.run.seconds = time.perf_counter() - start
        return self.run

    def _unreadable(self, row: Any, path: Path, error: BidcryptError) -> _Result:
        """A stored package whose header cannot be read: the receipt says whether it was altered."""
        actual = file_sha256(path)
        if actual != row["sha256"]:
            return _failure(int(row["id"]), ReceiptMismatchError(actual=actual, expected=row["sha256"]))
        return _failure(int(row["id"]), error)

    def _run_jobs(self, jobs: list[tuple[Any, Any]]) -> None:
        if not jobs:
            return
        context = get_context("spawn")
        limit = max(2, self.workers * 2)
        in_flight: dict[Future[_Result], int] = {}
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)), mp_context=context, initializer=quiet_library_logs
        ) as pool:
            try:
                for row, info in jobs:
                    if self.run.stopped is not None:
                        break
                    job = self._prepare(row, info)
                    if job is None:
                        continue
                    in_flight[pool.submit(work, job)] = job.submission
                    while len(in_flight) >= limit:
                        self._collect(in_flight, FIRST_COMPLETED)
                while in_flight:
                    self._collect(in_flight, FIRST_COMPLETED)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def _prepare(self, row: Any, info: PackageInfo) -> _Job | None:
        """Unwrap the content key on the token (the only token operation per bid)."""
        number = int(row["id"])
        try:
            content_key = unwrap_content_key(info.header, self.entries)
        except WrongKeyError as wrong_key:
            actual = file_sha256(self.session.directory / row["stored_as"])
            error: BidcryptError = wrong_key
            if actual != row["sha256"]:
                error = ReceiptMismatchError(actual=actual, expected=row["sha256"])
            self._record(_failure(number, error))
            return None
        except KeySourceError as error:
            self._record(_failure(number, error, "retry"))
            self.run.stopped = error
            return None
        return _Job(
            number,
            str(self.session.directory / row["stored_as"]),
            row["sha256"],
            info.header,
            content_key,
            info.attributes,
            str(self.run_dir / str(number)),
            self.trust,
            self.at,
        )

    def _collect(self, in_flight: dict[Future[_Result], int], mode: str) -> None:
        finished, _ = wait(list(in_flight), return_when=mode)
        for future in finished:
            number = in_flight.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # a worker died: record it as an attempt, the bid stays pending
                error = OutputError(f"worker failed: {type(exc).__name__}", path=f"opened/{number}")
                result = _failure(number, error, "retry")
            self._record(result)
            if result.status == "retry" and self.run.stopped is None:
                self.run.stopped = result.error

    def _record(self, result: _Result) -> None:
        """Write one bid's outcome (or retryable attempt) to the ledger, moving opened files into place."""
        number = result.submission
        now = now_text()
        error = result.error
        code, cause, cause_zh = (
            (None, None, None) if error is None else (error.code, error.message("en"), error.message("zh"))
        )
        if result.status == "retry":
            with self.ledger.transaction() as db:
                db.execute(
                    "INSERT INTO attempts(submission_id, at, cause_code, cause, cause_zh) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (number, now, code, cause, cause_zh),
                )
            return
        output = None
        if result.status == "opened":
            final = self.opened_dir / str(number)
            (self.run_dir / str(number)).rename(final)
            output = str(final.relative_to(self.session.directory))
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, report, output, "
                "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    result.status,
                    code,
                    cause,
                    cause_zh,
                    dumps(result.report),
                    output,
                    now,
                ),
            )
        (self.run.opened if result.status == "opened" else self.run.failed).append(number)
        self.run.bytes += result.size
        self.done += 1
        if self.progress is not None:
            self.progress(Progress(self.done, self.total, self.run.bytes, str(number)))


def open_bids(
    session: OpeningSession,
    key_source: KeySource,
    *,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> OpeningRun:
    """Open every current bid of *session* that *key_source* can open; one login, one unwrap per bid.

    Refused before the opening time, after the window closed, and while
    another process opens the same session. *workers* decryption processes
    run beside the token (default: the number of cores). *at* is the time
    certificates are validated at (default: now).
    """
    moment = now or dt.datetime.now(dt.UTC)
    settings = session.settings
    if moment < settings.opening_time:
        raise NotOpeningTimeError(opening_time=certs.format_time(settings.opening_time))
    session.require_open_window()
    with SessionLock(session.directory):
        return _Batch(session, key_source, workers or os.cpu_count() or 1, progress, at).execute()
