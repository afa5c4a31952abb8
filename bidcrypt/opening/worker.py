"""What an opening worker process does: open one bid whose content key is already unwrapped.

A worker reads the stored bytes once, hashing them against the receipt
while it decrypts them (see :mod:`bidcrypt.opening.receipt_stream`),
verifies and writes the bid's files, and returns a :class:`Result` with the
time each phase took. In the pool it does not wait for the disk: the
batch's process syncs an opened bid's files before it records the bid
(see :mod:`bidcrypt.opening.pool`). Each distinct certificate
is validated once per batch in a worker (one
:class:`~bidcrypt.trust.ValidationCache` per batch). It never stops the batch itself: a failure that belongs
to the bid is a ``failed`` result with its cause; a failure of the machine
(the session's disk full, an I/O error) is a ``retry`` result, which stops
the batch cleanly and leaves the bid to the next run.

Workers die with the batch's process: a parent killed with SIGKILL must
not leave processes behind that hold content keys and the caller's pipes.
A watcher thread notices the batch's end, or its stop signal, and exits
at once; on Linux the kernel also sends them SIGKILL when the process
they were forked from ends (``PR_SET_PDEATHSIG``: the fork server, which
itself ends with the batch's process; see :mod:`bidcrypt.opening.pool`).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from bidcrypt import _platform
from bidcrypt.envelope import ContentKey, EnvelopeHeader
from bidcrypt.errors import BidcryptError, KeySourceError, OutputError, PackageError, ReceiptMismatchError
from bidcrypt.i18n import Language, Text, speaking
from bidcrypt.opening.disk import remove_path, sync_tree
from bidcrypt.opening.receipt_stream import ReceiptStream
from bidcrypt.package import PackageAttributes, UnpackReport, open_content
from bidcrypt.quiet import quiet_library_logs
from bidcrypt.trust import TrustStore, ValidationCache

#: How often the watcher thread looks at the parent and the stop signal, in seconds.
_WATCH_INTERVAL = 0.1
#: Failures to write that come from the machine, not from what a bid contains: they stop the batch.
MACHINE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOMEM}
    | {errno.EMFILE, errno.ENFILE, errno.EBUSY, errno.EFBIG}
)

#: A bid up to this size is decrypted into memory, not into its staging folder to be read back
#: (a worker holds one bid at a time).
IN_MEMORY_BUNDLE = 16 << 20

#: The language of a bid's stored report (its checks' details, its seals' findings), whatever the
#: locale of the process that opened it, as the ledger's ``cause`` column beside ``cause_zh``: the
#: record renders from the report's codes, in the reader's language.
STORED_LANGUAGE: Language = "en"

Status = Literal["opened", "failed", "retry"]


@dataclass(frozen=True)
class Job:
    """One bid to open: where it is stored, its receipt digest, its header and unwrapped content key."""

    submission: int
    path: str
    sha256: str
    header: EnvelopeHeader
    content_key: ContentKey
    attributes: PackageAttributes
    #: The folder to create with the bid's files (inside the run's private folder).
    output: str
    #: The session's CA certificate and CRL files.
    trust: tuple[tuple[str, ...], tuple[str, ...]]
    #: The time certificates are validated at: one for the whole batch.
    at: dt.datetime | None
    #: The batch this bid belongs to (what a worker remembers of validations is kept per batch).
    batch: str = ""


@dataclass(frozen=True)
class Result:
    """What became of one bid: ``opened``, ``failed`` (its outcome) or ``retry`` (the machine failed)."""

    submission: int
    status: Status
    error: BidcryptError | None = None
    #: The bid's unpack report as the ledger stores it (its texts in :data:`STORED_LANGUAGE`).
    report: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    #: Seconds spent in each phase of :data:`bidcrypt.opening.run.PHASES` that the worker ran.
    phases: dict[str, float] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def is_machine_errno(number: int | None) -> bool:
    """True when a failed write says the machine is at fault (disk full, I/O error, permissions)."""
    return number in MACHINE_ERRNOS


#: The trust store of the batch this worker serves, and the verdicts of its validations (one batch;
#: a few when threads of one process open released bids at once).
_TRUST: dict[tuple[str, tuple[tuple[str, ...], tuple[str, ...]]], tuple[TrustStore, ValidationCache]] = {}
_TRUST_LOCK = threading.Lock()
_TRUST_BATCHES = 8


def _trust(batch: str, files: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[TrustStore, ValidationCache]:
    """The batch's trust store and validation cache: each distinct chain is validated once per batch.

    Thread-safe: the batches of threads working at once keep theirs (the
    oldest of more than a few are forgotten).
    """
    key = (batch, files)
    with _TRUST_LOCK:
        found = _TRUST.get(key)
        if found is None:
            store = TrustStore.load([Path(p) for p in files[0]], [Path(p) for p in files[1]])
            found = _TRUST[key] = (store, ValidationCache())
            while len(_TRUST) > _TRUST_BATCHES:
                del _TRUST[next(iter(_TRUST))]
        return found


def _unforeseen(exc: BaseException) -> PackageError:
    return PackageError(
        Text(
            "unexpected error while opening ({exc_name}: {exc})",
            "开启时发生意外错误（{exc_name}：{exc}）",
            exc_name=type(exc).__name__,
            exc=exc,
        )
    )


def work(job: Job, *, durable: bool = True) -> Result:
    """Open one bid: decrypt it while checking its receipt, verify and write its files.

    With *durable* (the default) an opened bid's files are synced to the
    disk before it returns (:func:`synced`); the worker pool passes False and
    syncs them itself, off the worker's core.
    """
    phases: dict[str, float] = {}
    with speaking(STORED_LANGUAGE):  # the report is stored: the same whatever the worker's locale
        found = _work(job, phases)
    result = Result(found.submission, found.status, found.error, found.report, found.size, phases)
    return synced(job, result) if durable else result


def synced(job: Job, result: Result) -> Result:
    """*result* once an opened bid's files are on the disk: only then may the ledger call it opened.

    A failure to sync is the machine's (a ``retry``: the batch stops, the
    bid stays pending) unless its errno is one a bid's content can cause.
    Any other result is returned as it is.
    """
    if result.status != "opened":
        return result
    start = time.perf_counter()
    try:
        sync_tree(Path(job.output))
    except OSError as exc:
        cause = OutputError(exc.strerror or str(exc), path=job.output, errno=exc.errno)
        return Result(job.submission, "retry" if is_machine_errno(exc.errno) else "failed", cause)
    return replace(result, phases={**result.phases, "sync": time.perf_counter() - start})


def _work(job: Job, phases: dict[str, float]) -> Result:
    path = Path(job.path)
    failed: Status = "failed"
    try:
        descriptor = os.open(path, os.O_RDONLY | _platform.O_NOFOLLOW | _platform.O_CLOEXEC)
        try:
            if _is_pem(descriptor):  # a PEM package is decoded first: hashed, then opened, as before
                return _work_pem(job, phases)
            stream = ReceiptStream(descriptor, str(path))
            trust, cache = _trust(job.batch, job.trust)
            try:
                report = open_content(
                    path,
                    job.header,
                    job.content_key,
                    job.attributes,
                    Path(job.output),
                    trust,
                    job.at,
                    cache=cache,
                    stream=cast(BinaryIO, stream),
                    in_memory=job.header.size <= IN_MEMORY_BUNDLE,
                )
            except Exception:
                mismatch = _receipt_mismatch(stream, job)  # the receipt's word comes first
                if mismatch is not None:
                    return mismatch
                raise
            phases.update(report.timings)
            mismatch = _receipt_mismatch(stream, job)
            if mismatch is not None:
                return mismatch
            size = stream.size
        finally:
            os.close(descriptor)
    except OutputError as error:
        return Result(job.submission, "retry" if _machine_output_error(error) else failed, error)
    except OSError as exc:
        cause = OutputError(exc.strerror or str(exc), path=job.output, errno=exc.errno)
        return Result(job.submission, "retry" if is_machine_errno(exc.errno) else failed, cause)
    except KeySourceError as error:  # the token that holds the content key failed as it decrypted
        return Result(job.submission, "retry", error)
    except BidcryptError as error:
        return Result(job.submission, failed, error)
    except Exception as exc:  # a package that trips a library: that bid fails, the batch goes on
        return Result(job.submission, failed, _unforeseen(exc))
    return _outcome(job, report, size)


def _is_pem(descriptor: int) -> bool:
    return os.pread(descriptor, 64, 0).lstrip().startswith(b"-----BEGIN ")


def _work_pem(job: Job, phases: dict[str, float]) -> Result:
    """Open a package stored as PEM: check the receipt, then decrypt from the decoded copy."""
    path = Path(job.path)
    actual = file_sha256(path)
    if actual != job.sha256:
        return Result(job.submission, "failed", ReceiptMismatchError(actual=actual, expected=job.sha256))
    trust, cache = _trust(job.batch, job.trust)
    report = open_content(
        path, job.header, job.content_key, job.attributes, Path(job.output), trust, job.at, cache=cache
    )
    phases.update(report.timings)
    return _outcome(job, report, path.stat().st_size)


def _receipt_mismatch(stream: ReceiptStream, job: Job) -> Result | None:
    """The failed result when the stored bytes are not the receipt's (their opened files removed).

    Reading the rest of the file may fail (an I/O error): then nothing can
    be said here, and the caller's own outcome stands.
    """
    try:
        actual = stream.finish()
    except OSError:
        return None
    if actual == job.sha256:
        return None
    remove_path(Path(job.output))
    return Result(job.submission, "failed", ReceiptMismatchError(actual=actual, expected=job.sha256))


def _outcome(job: Job, report: UnpackReport, size: int) -> Result:
    if report.ok:
        return Result(job.submission, "opened", report=report.to_dict(), size=size)
    assert report.error is not None
    return Result(job.submission, "failed", report.error, report=report.to_dict(), size=size)


def _machine_output_error(error: OutputError) -> bool:
    """An output error is the machine's unless it carries an errno that a bid's content can cause."""
    number = error.params.get("errno")
    return not isinstance(number, int) or is_machine_errno(number)


# --- the life of a worker process ---------------------------------------------------------------


class StopFlag:
    """The batch's stop signal to its workers: one byte of shared memory that the batch raises.

    Not a ``multiprocessing`` event: ``Event.set()`` waits for every process
    waiting on the event to wake, and waits forever for one that died while
    it waited (a crash, the out-of-memory killer, a signal sent to the whole
    process group). Raising a byte cannot block.
    """

    def __init__(self, context: BaseContext) -> None:
        self._raised = context.RawValue(ctypes.c_bool, False)

    def set(self) -> None:
        """Tell the workers to exit now."""
        self._raised.value = True

    def is_set(self) -> bool:
        """True once :meth:`set` was called, in any process."""
        return bool(self._raised.value)


def start_worker(stop: StopFlag) -> None:
    """Initialise a worker process: quiet logs, die with the parent, exit when *stop* is set.

    *stop* is raised when the batch is interrupted (Ctrl-C, SIGTERM, a
    closed terminal): the workers then exit at once instead of finishing
    their bids. Those signals, sent to the whole process group as a
    terminal or a service manager does, are the parent's to act on: a
    worker ignores them.
    """
    quiet_library_logs()
    from bidcrypt.seal import async_verify_seals  # noqa: F401 - loaded now (pyHanko), not in the first bid

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # SIGHUP: not on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    _die_with_parent()
    parent = multiprocessing.parent_process()

    def watch() -> None:
        while not stop.is_set() and (parent is None or parent.is_alive()):
            time.sleep(_WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="bidcrypt-parent-watch", daemon=True).start()


def idle() -> None:
    """Nothing: a first task, that makes the pool start a worker process before the bids are ready."""


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this process when its parent ends (``PR_SET_PDEATHSIG``)."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl: the watcher remains
        return
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():  # the parent ended before the request took effect
        os._exit(1)
