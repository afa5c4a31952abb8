"""bidcrypt.aio: coroutines from synchronous code, and blocking work kept off an async caller's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bidcrypt.aio import blocking, off_loop, run_sync, wait_for


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


def _thread() -> str:
    return threading.current_thread().name


async def _engine() -> tuple[str, str, str]:
    """Where blocking() and off_loop() run the work, and the loop's own thread."""
    return await blocking(_thread), await off_loop(_where()), threading.current_thread().name


def test_an_async_caller_has_the_blocking_work_done_off_its_loop() -> None:
    blocking_thread, coroutine_thread, loop_thread = asyncio.run(_engine())
    assert blocking_thread != loop_thread and coroutine_thread != loop_thread


@pytest.mark.parametrize("in_a_loop", [False, True])
def test_a_sync_caller_has_it_done_in_place(in_a_loop: bool) -> None:
    async def caller() -> tuple[str, str, str]:
        return run_sync(_engine())

    blocking_thread, coroutine_thread, loop_thread = (
        asyncio.run(caller()) if in_a_loop else run_sync(_engine())
    )
    assert blocking_thread == coroutine_thread == loop_thread
    assert loop_thread.startswith("bidcrypt-aio") is in_a_loop


def test_a_cancelled_caller_waits_for_its_thread_before_cleaning_up() -> None:
    release, finished = threading.Event(), threading.Event()
    seen_at_cleanup: list[bool] = []

    def work() -> None:
        release.wait()
        finished.set()

    async def engine() -> None:
        try:
            await blocking(work)
        finally:
            seen_at_cleanup.append(finished.is_set())

    async def caller() -> None:
        task = asyncio.ensure_future(engine())
        await asyncio.sleep(0)  # the thread has started
        task.cancel()
        await asyncio.sleep(0)  # the cancellation is delivered, and waits
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(caller())
    assert seen_at_cleanup == [True]


@pytest.mark.parametrize("from_a_thread", [False, True])
def test_blocking_code_can_wait_for_a_coroutine(from_a_thread: bool) -> None:
    def blocking_code(loop: asyncio.AbstractEventLoop) -> str:
        return wait_for(_where(), loop)

    async def engine() -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        return await blocking(blocking_code, loop), threading.current_thread().name

    ran_in, loop_thread = asyncio.run(engine()) if from_a_thread else run_sync(engine())
    # From a worker thread the coroutine runs on the caller's loop; in place, on a helper's loop.
    assert (ran_in == loop_thread) is from_a_thread
