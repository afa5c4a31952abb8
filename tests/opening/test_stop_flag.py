"""Stopping the workers never waits on a dead one.

The workers watch a stop flag. A ``multiprocessing.Event`` would not do:
``set()`` waits for every process waiting on it to wake, so a worker that
died while it waited (a crash, the out-of-memory killer, a signal sent to
the whole process group) made the stop, and with it Ctrl-C or a service's
shutdown, wait forever.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from bidcrypt._fork_server import worker_context
from bidcrypt.opening import OpeningProcesses
from bidcrypt.opening.worker import StopFlag, idle


def test_the_flag_is_seen_in_another_process() -> None:
    context = worker_context()
    flag = StopFlag(context)
    assert not flag.is_set()
    flag.set()
    child = context.Process(target=_exit_with_the_flag, args=(flag,))
    child.start()
    child.join()
    assert child.exitcode == 1


def _exit_with_the_flag(flag: StopFlag) -> None:
    sys.exit(1 if flag.is_set() else 2)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_closing_after_a_worker_was_killed_returns() -> None:
    processes = OpeningProcesses(1)
    pool = processes._pool
    pool.submit(idle).result()  # the worker runs, its watcher waiting on the flag
    (worker,) = pool._processes.values()  # type: ignore[attr-defined]
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    closing = threading.Thread(target=processes.close, daemon=True)
    closing.start()
    closing.join(timeout=120)  # a guard against a hang, not a deadline: close takes well under a second
    assert not closing.is_alive(), "close() hung on the dead worker"
