"""The fork server the opening's worker processes come from, startable before the opening loads.

The server is a fresh program (started like ``spawn``, never a fork of the
process that holds the key source) that imports the workers' modules once
(pyHanko and the opening, about a second); each worker is forked from it
with those modules loaded. This module imports nothing heavy, so that the
command line can start the server before it loads its own commands: the
two imports then run side by side, on two cores. The server keeps the
environment it started with, so it is started with the PIN variables out
of the environment (*withheld*). It, and multiprocessing's resource
tracker started with it, ignore SIGHUP: a closed terminal (or a hang-up
sent to the whole process group) is for the opening's process to act on,
and the helpers end with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from multiprocessing import forkserver, get_all_start_methods, get_context
from multiprocessing.context import BaseContext

#: What a worker process loads before its first bid: once, in the fork server.
WORKER_MODULES = ("bidcrypt.opening.preload",)


def worker_context() -> BaseContext:
    """How worker processes start: forked from a server process that loaded their modules once.

    A worker shares nothing with the process that asked for it but what a
    spawned one would. Where there is no fork server (Windows, macOS
    without it), each worker is spawned and loads its modules itself.
    """
    if "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    context.set_forkserver_preload(["__main__", *WORKER_MODULES])  # __main__: the default
    return context


def start_fork_server(withheld: Iterable[str] = ()) -> None:
    """Start now the fork server the opening's worker processes come from, so that it loads their
    modules while this process does other work. Nothing to do where there is no fork server, or once
    it runs.

    The variables named in *withheld* (the PIN's) are out of the environment while the server
    starts, and put back after: the server, and every worker forked from it, never holds them.
    The caller is the only thread that changes the environment meanwhile (the command line, as it
    starts).
    """
    if worker_context().get_start_method() != "forkserver":
        return
    taken = {name: os.environ.pop(name) for name in set(withheld) if name in os.environ}
    try:
        with _helpers_ignore_hang_up():
            forkserver.ensure_running()
    finally:
        for name, value in taken.items():
            os.environ.setdefault(name, value)


@contextlib.contextmanager
def _helpers_ignore_hang_up() -> Iterator[None]:
    """SIGHUP ignored by the processes started within the block (an ignored signal stays ignored
    across exec), and not lost for this one: it is blocked meanwhile, so one that comes is
    delivered, to this process's own handler, after the block. Only the main thread sets handlers."""
    hang_up = getattr(signal, "SIGHUP", None)
    if hang_up is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {hang_up})
    try:
        previous = signal.signal(hang_up, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(hang_up, previous)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


__all__ = ["WORKER_MODULES", "start_fork_server", "worker_context"]
