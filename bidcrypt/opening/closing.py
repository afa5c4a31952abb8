"""The close of the decryption window and the legal outcome of every bid left unopened.

《电子招标投标办法》第三十一条: a bid not decrypted within the window is
treated as revoked (视为撤销) when the cause is the bidder's, and as
withdrawn (视为撤回) when it is not (a platform failure, for example); the
opening of the other bids goes on. :func:`close_window` records, in one
ledger transaction under the session lock, the close, a ``not-decrypted``
outcome for every bid without one, and an ``attributions`` row for each:
``deemed-withdrawn`` with the official's reason for the bids the official
names, ``deemed-revoked`` for the others. A kill at any point leaves either
all of it or none of it.

A session whose window was never started (a local opening with a key)
closes as before: each unopened bid is ``not decrypted within the window``
with its last attempt's cause, and no attribution.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bidcrypt import uscc
from bidcrypt.clock import Clock
from bidcrypt.errors import (
    AttributionError,
    DeemedRevokedError,
    DeemedWithdrawnError,
    InputError,
    OpeningError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.causes import NOT_DECRYPTED, stored, window_params
from bidcrypt.opening.disk import reconcile_opened
from bidcrypt.opening.ledger import Row, now_text
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.window import compute_state, iso, moment

if TYPE_CHECKING:
    from bidcrypt.opening.session import OpeningSession

__all__ = ["ClosedWindow", "close_window"]

#: The reason code of a bid left unopened by the bidder's cause (视为撤销).
NOT_RELEASED = "not-released"
#: The default reason code of a bid the official says was not the bidder's fault (视为撤回).
PLATFORM_OUTAGE = "platform-outage"


@dataclass(frozen=True)
class ClosedWindow:
    """What the close recorded: when, and the numbers of the bids deemed revoked and withdrawn."""

    closed_at: dt.datetime
    revoked: tuple[int, ...] = ()
    withdrawn: tuple[int, ...] = ()
    not_decrypted: tuple[int, ...] = field(default=())

    @property
    def count(self) -> int:
        """How many bids the close recorded as not decrypted."""
        return len(self.revoked) + len(self.withdrawn) + len(self.not_decrypted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "closed_at": iso(self.closed_at),
            "not_decrypted": self.count,
            "deemed_revoked": list(self.revoked),
            "deemed_withdrawn": list(self.withdrawn),
        }


def close_window(
    session: OpeningSession,
    not_bidder: Mapping[str, str] | None = None,
    *,
    reason_code: str = PLATFORM_OUTAGE,
    clock: Clock | None = None,
    at: dt.datetime | None = None,
) -> ClosedWindow:
    """Close the window and record the outcome of every bid left unopened (see the module's text).

    *not_bidder* maps a bidder's credit code to the reason (the official's
    words) why its unopened bid was not the bidder's fault; each must name a
    bidder with a bid left unopened (:class:`AttributionError` otherwise,
    before anything is written). *at* (or *clock*) is the time of the close.
    """
    reasons = _checked_reasons(not_bidder or {})
    with SessionLock(session.directory, wait=CHANGE_WAIT):
        session.require_open_window()
        now = at or moment(clock)
        events = session.ledger.query("SELECT * FROM window_events ORDER BY id")
        started = any(e["kind"] == "start" for e in events)
        if reasons and not started:
            raise OpeningError(
                Text(
                    "--not-bidder is for a window that was started (`opening start`)",
                    "--not-bidder 仅用于已开始的解密时间（`opening start`）",
                )
            )
        outcomes = session.outcomes()
        reconcile_opened(
            session.directory / "opened", [n for n, row in outcomes.items() if row["status"] == "opened"]
        )
        pending = session.pending()
        named = {str(row["credit_code"]) for row in pending}
        for code in reasons:
            session.bidder(code)  # an unknown bidder is refused as such
            if code not in named:
                raise AttributionError(credit_code=code)
        if not started:
            return _close_local(session, pending, now)
        state = compute_state(events, None, now)
        closed_at = state.closed_at if state.closed_at is not None else now
        revoked: list[int] = []
        withdrawn: list[int] = []
        with session.ledger.transaction() as db:
            for row in pending:
                number, code = int(row["id"]), str(row["credit_code"])
                if code in reasons:
                    reason = reasons[code]
                    _attribute(db, number, DeemedWithdrawnError(reason=reason), now, reason_code, reason)
                    withdrawn.append(number)
                else:
                    _attribute(db, number, DeemedRevokedError(), now, NOT_RELEASED, None)
                    revoked.append(number)
            db.execute(
                "INSERT INTO window_events(at, kind) VALUES (?, 'close')",
                (now_text(now),),
            )
            session.ledger.set_meta(db, "closed_at", now_text(closed_at))
        return ClosedWindow(closed_at, tuple(revoked), tuple(withdrawn))


def _checked_reasons(not_bidder: Mapping[str, str]) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for code, reason in not_bidder.items():
        normal = uscc.normalise(code)
        if not reason.strip():
            raise InputError(
                Text(
                    "a bid deemed withdrawn needs the reason ({credit_code})",
                    "视为撤回须写明原因（{credit_code}）",
                    credit_code=normal,
                ),
                path="--not-bidder",
            )
        reasons[normal] = reason.strip()
    return reasons


def _attribute(
    db: sqlite3.Connection,
    number: int,
    cause: OpeningError,
    now: dt.datetime,
    reason_code: str,
    reason: str | None,
) -> None:
    db.execute(
        "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, cause_params, report, "
        "finished_at) VALUES (?, 'not-decrypted', ?, ?, ?, ?, '{}', ?) ON CONFLICT(submission_id) DO NOTHING",
        (number, cause.code, cause.message("en"), cause.message("zh"), stored(cause), now_text(now)),
    )
    db.execute(
        "INSERT INTO attributions(submission_id, cause, reason_code, reason, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(submission_id) DO NOTHING",
        (
            number,
            "not-bidder" if isinstance(cause, DeemedWithdrawnError) else "bidder",
            reason_code,
            reason,
            now_text(now),
        ),
    )


def _close_local(session: OpeningSession, pending: list[Row], now: dt.datetime) -> ClosedWindow:
    """The close of a session whose window was never started: as bidcrypt always closed a local opening."""
    attempts = session.attempts()
    with session.ledger.transaction() as db:
        for row in pending:
            last = attempts.get(int(row["id"]))
            cause, cause_zh = NOT_DECRYPTED
            if last is not None:
                cause, cause_zh = f"{cause} ({last['cause']})", f"{cause_zh}（{last['cause_zh']}）"
            db.execute(
                "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, "
                "cause_params, report, finished_at) VALUES (?, 'not-decrypted', ?, ?, ?, ?, '{}', ?) "
                "ON CONFLICT(submission_id) DO NOTHING",
                (
                    row["id"],
                    last["cause_code"] if last is not None else "not-decrypted",
                    cause,
                    cause_zh,
                    window_params(last),
                    now_text(now),
                ),
            )
        session.ledger.set_meta(db, "closed_at", now_text(now))
    return ClosedWindow(now, not_decrypted=tuple(int(row["id"]) for row in pending))
