"""wait_for in place: one helper loop and thread for the life of the process, not one per call."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bidcrypt.aio import blocking, run_sync, wait_for


def _thread() -> str:
    return threading.current_thread().name


async def _where_and_blocking() -> tuple[int, str]:
    """The thread the coroutine runs in, and where its blocking work ran."""
    return threading.get_ident(), await blocking(_thread)


def _waits_in_place() -> tuple[int, str]:
    async def engine() -> tuple[int, str]:
        return await blocking(wait_for, _where_and_blocking(), asyncio.get_running_loop())

    return run_sync(engine())


def test_every_wait_in_place_uses_the_same_helper_thread() -> None:
    first, ran_blocking = _waits_in_place()
    threads = threading.active_count()
    for _ in range(20):
        assert _waits_in_place()[0] == first
    assert threading.active_count() == threads  # nothing started per call
    assert first != threading.get_ident()
    # The helper runs the coroutine as a synchronous caller's: its blocking work in place, on the helper.
    assert ran_blocking.startswith("bidcrypt-aio-helper")


def test_the_coroutines_exception_reaches_the_blocking_code() -> None:
    async def refuses() -> None:
        raise LookupError("no chain")

    async def engine() -> None:
        await blocking(wait_for, refuses(), asyncio.get_running_loop())

    with pytest.raises(LookupError, match="no chain"):
        run_sync(engine())
    assert _waits_in_place()  # the helper survives a failed coroutine


def test_blocking_code_on_the_helper_itself_does_not_wait_for_itself() -> None:
    """A coroutine on the helper whose blocking code waits in place again gets a loop of its own."""

    async def inner() -> str:
        return _thread()

    async def outer() -> str:
        return await blocking(wait_for, inner(), asyncio.get_running_loop())

    async def engine() -> str:
        return await blocking(wait_for, outer(), asyncio.get_running_loop())

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(run_sync(engine())), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "deadlocked"
    assert result and result[0].startswith("bidcrypt-aio") and not result[0].startswith("bidcrypt-aio-helper")
