"""Async-first engines with synchronous wrappers, and blocking work kept off an async caller's loop.

bidcrypt's engines (trust validation, seal verification and sealing, package
unpacking) are coroutines, ``async_*``; each has a synchronous twin that is
:func:`run_sync` of the coroutine. Nothing here calls :func:`asyncio.run`
from a thread that runs an event loop.

- :func:`run_sync` runs a coroutine to completion from synchronous code:
  without a running loop in the calling thread, on a private loop in this
  thread; with one (tender software calling the sync API from its own loop),
  on a private loop in a helper thread, waited for. It installs no signal
  handler: Ctrl-C interrupts the work as it would plain synchronous code.
- :func:`blocking` runs a blocking function (file work, hashing, PDF
  parsing) from a coroutine. Called by an async caller it runs in a worker
  thread (:func:`asyncio.to_thread`), so the caller's loop stays free; under
  :func:`run_sync` the caller waits anyway, so it runs at once, in place.
- :func:`off_loop` does the same for a coroutine that blocks while it runs
  (pyHanko's signing writes the file and calls the token from inside its
  coroutine).
- :func:`wait_for` lets blocking code that :func:`blocking` runs wait for a
  coroutine (a chain validation in the middle of reading a bundle).

A cancelled ``async_*`` call waits for the worker thread it started to finish
(a thread cannot be stopped), so that its clean-up (staging folders,
temporary outputs) runs after the thread is done; then the cancellation
proceeds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

#: True while :func:`run_sync` drives a coroutine: a synchronous caller waits anyway.
_SYNC_CALLER: contextvars.ContextVar[bool] = contextvars.ContextVar("bidcrypt_sync_caller", default=False)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _run_here(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* on a private loop in this thread (which runs none); no signal handler is set."""
    loop = asyncio.new_event_loop()
    token = _SYNC_CALLER.set(True)
    try:
        return loop.run_until_complete(coroutine)
    finally:
        _SYNC_CALLER.reset(token)
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what an interrupted coroutine left running, and let it clean up (as asyncio.run does)."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* to completion and return its result (or raise its exception).

    Works with or without an event loop running in the calling thread; with
    one, the loop is blocked until the result is there (call the ``async_*``
    function instead to keep it free).
    """
    if _running_loop() is None:
        return _run_here(coroutine)
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bidcrypt-aio") as pool:
        return pool.submit(context.run, _run_here, coroutine).result()


async def blocking(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the blocking *function* without blocking an async caller's loop (see the module)."""
    if _SYNC_CALLER.get():
        return function(*args, **kwargs)
    return await _wait_for_thread(asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs)))


async def off_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await a coroutine that blocks while it runs without blocking an async caller's loop.

    For an async caller it runs on a private loop in a worker thread; under
    :func:`run_sync` it is simply awaited.
    """
    if _SYNC_CALLER.get():
        return await coroutine
    return await _wait_for_thread(asyncio.ensure_future(asyncio.to_thread(_run_here, coroutine)))


async def _wait_for_thread(future: asyncio.Future[T]) -> T:
    """The thread's result; a cancellation first waits for the thread to finish, then proceeds."""
    cancelled: asyncio.CancelledError | None = None
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what the caller sees
        raise cancelled
    return future.result()


def wait_for(coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> T:
    """From blocking code run by :func:`blocking`, wait for *coroutine*.

    *loop* is the loop of the coroutine that called :func:`blocking`
    (``asyncio.get_running_loop()`` there). In a worker thread the coroutine
    runs on that loop, which is free while it waits for the thread; run in
    place (under :func:`run_sync`) this thread is the loop's, so the
    coroutine runs on the process's helper loop instead (one thread and loop
    for the life of the process, started on first use: a bulk opening waits
    for a chain validation once per bid), as a synchronous caller's coroutine
    (its blocking work in place).
    """
    if _running_loop() is loop:
        return _on_helper(coroutine)
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


#: The helper loop of this process, its thread, and the process it was started in (see :func:`wait_for`).
_helper: tuple[asyncio.AbstractEventLoop, threading.Thread, int] | None = None
_helper_lock = threading.Lock()


def _helper_loop() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """The helper loop, started on first use (and again in a forked child, which has no such thread)."""
    global _helper
    with _helper_lock:
        if _helper is None or _helper[2] != os.getpid() or not _helper[1].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="bidcrypt-aio-helper", daemon=True)
            thread.start()
            _helper = (loop, thread, os.getpid())
        return _helper[0], _helper[1]


async def _as_sync_caller(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* as :func:`run_sync` would: its caller waits, so blocking work runs in place."""
    _SYNC_CALLER.set(True)  # in this task's own context
    return await coroutine


def _on_helper(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* on the helper loop and wait; if the wait is interrupted, wait for it to end first."""
    loop, thread = _helper_loop()
    if threading.current_thread() is thread:  # blocking code on the helper itself: not on its own loop
        return run_sync(coroutine)
    future = asyncio.run_coroutine_threadsafe(_as_sync_caller(coroutine), loop)
    try:
        return future.result()
    except BaseException:
        concurrent.futures.wait([future])  # as run_sync's helper thread is waited for
        raise


__all__ = ["blocking", "off_loop", "run_sync", "wait_for"]
