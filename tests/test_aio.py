"""run_sync: pyHanko's coroutines from synchronous code, with or without a running event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bidcrypt.aio import run_sync


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def _fail() -> None:
    await asyncio.sleep(0)
    raise ValueError("from the coroutine")


def test_without_a_running_loop_it_runs_here() -> None:
    assert run_sync(_where()) == threading.current_thread().name


def test_inside_a_running_loop_it_runs_in_a_worker_thread() -> None:
    async def caller() -> str:
        return run_sync(_where())

    assert asyncio.run(caller()).startswith("bidcrypt-aio")


@pytest.mark.parametrize("in_a_loop", [False, True])
def test_the_coroutines_exception_reaches_the_caller(in_a_loop: bool) -> None:
    async def caller() -> None:
        run_sync(_fail())

    with pytest.raises(ValueError, match="from the coroutine"):
        asyncio.run(caller()) if in_a_loop else run_sync(_fail())
