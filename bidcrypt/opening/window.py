"""The decryption window (解密时间): start, pause, resume, its state at any moment, and its close.

The window is the ``window_events`` rows of the ledger: one ``start`` with
its length, then ``pause`` (with the official's reason) and ``resume``
rows, and a ``close``. Its state at a moment is computed from those rows
alone, so a restarted service loses nothing: the remaining time is the
length minus the running time, paused time not counted, and the window
closes by itself when that reaches zero (nothing is accepted after it,
even before an official records the close).

A session whose window was never started and was closed with
``opening close`` (a local opening) is ``closed`` too, as before.
Every change is a ledger transaction under the session lock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bidcrypt import certs
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.errors import (
    InputError,
    NotOpeningTimeError,
    WindowClosedError,
    WindowNotOpenError,
    WindowNotPausedError,
    WindowPausedError,
    WindowStartedError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.ledger import Row, now_text, parse_time

if TYPE_CHECKING:
    from bidcrypt.opening.session import OpeningSession
    from bidcrypt.opening.session_view import SessionView

__all__ = [
    "WindowPause",
    "WindowState",
    "compute_state",
    "iso",
    "moment",
    "pause_window",
    "raise_unless_running",
    "require_running",
    "resume_window",
    "start_window",
    "window_state",
]

State = Literal["not-started", "running", "paused", "closed"]

#: The longest window bidcrypt starts (a week): a typo of units should not keep a window open for years.
MAX_WINDOW_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class WindowPause:
    """One pause of the window: when, why, and when it resumed (None while it lasts)."""

    at: dt.datetime
    reason: str
    reason_code: str | None
    resumed_at: dt.datetime | None
    #: What the official said when resuming (the failure fixed, say); None when nothing was said.
    resume_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": iso(self.at),
            "reason": self.reason,
            "reason_code": self.reason_code,
            "resumed_at": None if self.resumed_at is None else iso(self.resumed_at),
            "resume_reason": self.resume_reason,
        }


@dataclass(frozen=True)
class WindowState:
    """The window at one moment (*now*), as its ledger rows say.

    ``remaining`` is in seconds (the full length before the start, 0 once
    closed); ``ends_at`` is when a running window will close by itself (the
    closing time once closed, None while paused or before the start);
    ``closed_by`` is ``expired`` (it ran out), ``official`` (closed before
    it ran out) or ``local`` (closed without ever being started).
    """

    state: State
    now: dt.datetime
    started_at: dt.datetime | None
    seconds: int | None
    remaining: float
    ends_at: dt.datetime | None
    closed_at: dt.datetime | None
    closed_by: Literal["expired", "official", "local"] | None
    pauses: tuple[WindowPause, ...]

    @property
    def running(self) -> bool:
        """True while releases and backups are accepted."""
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times in UTC, ``Z``; ``remaining`` in whole seconds, rounded up)."""

        def time(value: dt.datetime | None) -> str | None:
            return None if value is None else iso(value)

        return {
            "state": self.state,
            "now": time(self.now),
            "started_at": time(self.started_at),
            "seconds": self.seconds,
            "remaining": _whole(self.remaining),
            "ends_at": time(self.ends_at),
            "closed_at": time(self.closed_at),
            "closed_by": self.closed_by,
            "pauses": [p.to_dict() for p in self.pauses],
        }


def iso(value: dt.datetime) -> str:
    """A time in JSON: ISO 8601 in UTC with ``Z`` (milliseconds when it has a fraction)."""
    value = value.astimezone(dt.UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole(seconds: float) -> int:
    whole = int(seconds)
    return whole + 1 if seconds > whole else whole


def moment(clock: Clock | None) -> dt.datetime:
    """The time now by *clock* (default: the system clock)."""
    return (clock or SystemClock()).stamp(b"\0" * 32).time


def _events(session: SessionView) -> list[Row]:
    return session.ledger.query("SELECT * FROM window_events ORDER BY id")


def window_state(session: SessionView, now: dt.datetime | None = None) -> WindowState:
    """The window of *session* at *now* (default: the system clock), from its ledger rows.

    Rows dated after *now* are not counted (they have not happened yet at
    that moment).
    """
    now = now or dt.datetime.now(dt.UTC)
    return compute_state(_events(session), session.ledger.meta("closed_at"), now)


def compute_state(events: list[Row], closed_meta: str | None, now: dt.datetime) -> WindowState:
    """:func:`window_state` over the ``window_events`` rows and the ``closed_at`` setting."""
    happened = [e for e in events if parse_time(str(e["at"])) <= now]
    start = next((e for e in happened if e["kind"] == "start"), None)
    local_close = parse_time(closed_meta) if closed_meta else None
    if local_close is not None and local_close > now:
        local_close = None
    if start is None:
        if local_close is not None:
            return WindowState("closed", now, None, None, 0.0, local_close, local_close, "local", ())
        return WindowState("not-started", now, None, None, 0.0, None, None, None, ())
    started_at = parse_time(str(start["at"]))
    seconds = int(start["seconds"] or 0)
    pauses: list[WindowPause] = []
    used = 0.0  # running seconds up to `since`
    since: dt.datetime | None = started_at  # None while paused
    closed_at: dt.datetime | None = None
    closed_by: Literal["expired", "official", "local"] | None = None

    def expiry() -> dt.datetime | None:
        return None if since is None else since + dt.timedelta(seconds=seconds - used)

    for event in happened:
        at = parse_time(str(event["at"]))
        end = expiry()
        if end is not None and end <= at:  # it ran out before this event
            closed_at, closed_by = end, "expired"
            break
        kind = event["kind"]
        if kind == "pause" and since is not None:
            used += (at - since).total_seconds()
            since = None
            pauses.append(WindowPause(at, str(event["reason"] or ""), event["reason_code"], None))
        elif kind == "resume" and since is None:
            since = at
            last = pauses[-1]
            pauses[-1] = WindowPause(last.at, last.reason, last.reason_code, at, event["reason"] or None)
        elif kind == "close":
            if since is not None:
                used += (at - since).total_seconds()
            closed_at, closed_by = at, "official"
            break
    if closed_at is None:
        end = expiry()
        if end is not None and end <= now:
            closed_at, closed_by = end, "expired"
        elif local_close is not None:
            closed_at, closed_by = local_close, "official"
    if closed_at is not None:
        return WindowState(
            "closed", now, started_at, seconds, 0.0, closed_at, closed_at, closed_by, tuple(pauses)
        )
    if since is None:
        return WindowState(
            "paused", now, started_at, seconds, max(0.0, seconds - used), None, None, None, tuple(pauses)
        )
    remaining = seconds - used - (now - since).total_seconds()
    return WindowState("running", now, started_at, seconds, remaining, expiry(), None, None, tuple(pauses))


def require_running(session: SessionView, now: dt.datetime | None = None) -> WindowState:
    """The window's state at *now* if it is running; else :class:`WindowNotOpenError`,
    :class:`WindowPausedError` or :class:`WindowClosedError`."""
    state = window_state(session, now)
    raise_unless_running(state)
    return state


def raise_unless_running(state: WindowState) -> None:
    """Raise the error that says why a window in *state* accepts nothing; nothing when it runs."""
    if state.state == "not-started":
        raise WindowNotOpenError()
    if state.state == "paused":
        last = state.pauses[-1]
        raise WindowPausedError(paused_at=certs.format_time(last.at), reason=last.reason)
    if state.state == "closed":
        assert state.closed_at is not None
        raise WindowClosedError(closed_at=certs.format_time(state.closed_at))


def _insert(
    db: sqlite3.Connection,
    at: dt.datetime,
    kind: str,
    *,
    seconds: int | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO window_events(at, kind, seconds, reason, reason_code) VALUES (?, ?, ?, ?, ?)",
        (now_text(at), kind, seconds, reason, reason_code),
    )


def start_window(session: OpeningSession, seconds: int, clock: Clock | None = None) -> WindowState:
    """Start the decryption window, *seconds* long: not before the opening time, and once only."""
    if not 0 < seconds <= MAX_WINDOW_SECONDS:
        raise InputError(
            Text(
                "the window must last between 1 second and 7 days, not {seconds} s",
                "解密时间须在 1 秒至 7 天之间，而非 {seconds} 秒",
                seconds=seconds,
            ),
            path="--window",
        )
    with session._change() as db:
        now = moment(clock)
        opening_time = session.settings.opening_time
        if now < opening_time:
            raise NotOpeningTimeError(opening_time=certs.format_time(opening_time))
        state = window_state(session, now)
        if state.state == "closed":
            raise_unless_running(state)
        if state.started_at is not None or _events(session):
            first = _events(session)[0]
            raise WindowStartedError(started_at=certs.format_time(parse_time(str(first["at"]))))
        _insert(db, now, "start", seconds=seconds)
    return window_state(session, now)


def pause_window(
    session: OpeningSession, reason: str, reason_code: str | None = None, clock: Clock | None = None
) -> WindowState:
    """Pause the running window (a platform failure): the paused time is not counted."""
    if not reason.strip():
        raise InputError(Text("a pause needs a reason", "暂停须填写原因"), path="--reason")
    with session._change() as db:
        now = moment(clock)
        require_running(session, now)
        _insert(db, now, "pause", reason=reason.strip(), reason_code=reason_code)
    return window_state(session, now)


def resume_window(
    session: OpeningSession, clock: Clock | None = None, reason: str | None = None
) -> WindowState:
    """Resume the paused window: it runs on with the time it had left; *reason* goes into the record."""
    with session._change() as db:
        now = moment(clock)
        state = window_state(session, now)
        if state.state == "running":
            raise WindowNotPausedError()
        if state.state != "paused":
            raise_unless_running(state)
        _insert(db, now, "resume", reason=(reason or "").strip() or None)
    return window_state(session, now)
