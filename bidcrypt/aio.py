"""Running pyHanko's coroutines from bidcrypt's synchronous API.

pyHanko validates asynchronously. :func:`run_sync` runs one coroutine to
completion from synchronous code whether or not the calling thread already
runs an event loop (tender software may call bidcrypt from inside its own
loop, where :func:`asyncio.run` refuses to start): without a running loop it
uses :func:`asyncio.run`; with one, it runs the coroutine on a fresh loop in
a worker thread and waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* to completion and return its result (or raise its exception)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bidcrypt-aio") as pool:
        return pool.submit(asyncio.run, coroutine).result()


__all__ = ["run_sync"]
