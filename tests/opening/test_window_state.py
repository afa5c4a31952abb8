"""The decryption window: start, pause, resume, expiry by itself, and what require_running says."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bidcrypt.clock import FixedClock
from bidcrypt.errors import (
    InputError,
    NotOpeningTimeError,
    WindowClosedError,
    WindowNotOpenError,
    WindowNotPausedError,
    WindowPausedError,
    WindowStartedError,
)
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.window import (
    pause_window,
    require_running,
    resume_window,
    start_window,
    window_state,
)

from ..conftest import Pki
from .conftest import new_session

T0 = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def clock(seconds: float) -> FixedClock:
    return FixedClock(at(seconds))


@pytest.fixture
def session(pki: Pki, tmp_path: Path) -> OpeningSession:
    return new_session(pki, tmp_path / "s", deadline=T0 - dt.timedelta(minutes=1), opening=T0)


def test_before_the_start_nothing_runs(session: OpeningSession) -> None:
    state = window_state(session, at(10))
    assert state.state == "not-started" and state.remaining == 0
    with pytest.raises(WindowNotOpenError) as caught:
        require_running(session, at(10))
    assert caught.value.code == "window-not-open"


def test_not_before_the_opening_time(session: OpeningSession) -> None:
    with pytest.raises(NotOpeningTimeError):
        start_window(session, 1800, clock(-1))
    assert window_state(session, at(0)).state == "not-started"


def test_started_once_with_a_sane_length(session: OpeningSession) -> None:
    for bad in (0, -5, 10**9):
        with pytest.raises(InputError):
            start_window(session, bad, clock(0))
    start_window(session, 1800, clock(0))
    with pytest.raises(WindowStartedError):
        start_window(session, 60, clock(5))


def test_running_counts_down_and_closes_by_itself_at_zero(session: OpeningSession) -> None:
    start_window(session, 1800, clock(0))
    state = window_state(session, at(600))
    assert state.state == "running" and state.remaining == 1200 and state.ends_at == at(1800)
    assert require_running(session, at(1799.5)).remaining == pytest.approx(0.5)
    closed = window_state(session, at(1800))
    assert closed.state == "closed" and closed.closed_by == "expired" and closed.closed_at == at(1800)
    with pytest.raises(WindowClosedError) as caught:
        require_running(session, at(1800))
    assert caught.value.params["closed_at"] == "2030-01-01 09:30:00Z"
    assert closed.to_dict()["closed_at"] == "2030-01-01T09:30:00Z"
    # the window rows say nothing of a moment before they happened
    assert window_state(session, at(-1)).state == "not-started"


def test_pause_and_resume_keep_the_remaining_time(session: OpeningSession) -> None:
    start_window(session, 1800, clock(0))
    pause_window(session, "平台故障：解密服务不可用", "platform-outage", clock(600))
    paused = window_state(session, at(5000))  # paused long after the window would have ended
    assert paused.state == "paused" and paused.remaining == 1200 and paused.ends_at is None
    with pytest.raises(WindowPausedError) as caught:
        require_running(session, at(5000))
    assert "平台故障" in caught.value.message("zh")
    with pytest.raises(WindowPausedError):
        pause_window(session, "again", None, clock(5001))
    resume_window(session, clock(6000))
    running = window_state(session, at(6100))
    assert running.state == "running" and running.remaining == 1100 and running.ends_at == at(7200)
    (pause,) = running.pauses
    assert (pause.at, pause.resumed_at, pause.reason_code) == (at(600), at(6000), "platform-outage")
    assert window_state(session, at(7199)).state == "running"
    assert window_state(session, at(7200)).state == "closed"
    with pytest.raises(WindowNotPausedError):
        resume_window(session, clock(6200))


def test_a_resume_after_the_end_is_refused(session: OpeningSession) -> None:
    start_window(session, 60, clock(0))
    with pytest.raises(WindowClosedError):
        pause_window(session, "outage", None, clock(61))
    with pytest.raises(WindowClosedError):
        resume_window(session, clock(62))
    with pytest.raises(WindowClosedError):
        start_window(session, 60, clock(63))


def test_a_pause_needs_a_reason(session: OpeningSession) -> None:
    start_window(session, 60, clock(0))
    with pytest.raises(InputError):
        pause_window(session, "  ", None, clock(1))
    assert window_state(session, at(1)).pauses == ()


def test_the_state_survives_a_reload(session: OpeningSession) -> None:
    start_window(session, 1800, clock(0))
    pause_window(session, "outage", "platform-outage", clock(100))
    resume_window(session, clock(400))
    again = OpeningSession.load(session.directory, read_only=True)
    try:
        state = window_state(again, at(500))
        assert state.state == "running" and state.remaining == 1800 - 100 - 100
        assert state.to_dict()["pauses"][0]["reason"] == "outage"
        assert state.to_dict()["remaining"] == 1600
    finally:
        again.close_ledger()
