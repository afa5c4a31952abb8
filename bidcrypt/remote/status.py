"""The status of a hosted session, as ``GET status``, the hall page and the event stream show it.

Everything comes from the session's ledger at the moment asked (the service
keeps nothing of its own): the window (its state and remaining time in
server time, its pauses with their reasons), each bidder's sign-in and each
bid's decryption state, the committee's shares, and the record's rows once
the window is closed.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from bidcrypt import certs
from bidcrypt.opening import OpeningSession, build_record, shares_released, window_state

__all__ = ["StatusCache", "session_status", "without_clock"]


def _time(text: Any) -> str | None:
    if text is None:
        return None
    return certs.format_time(dt.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC))


def session_status(session: OpeningSession, session_id: str, now: dt.datetime) -> dict[str, Any]:
    """The JSON-ready status of *session* at *now* (the server's time)."""
    settings = session.settings
    window = window_state(session, now).to_dict()
    record_en, record_zh = build_record(session, "en"), build_record(session, "zh")
    english = {row.submission: row for row in record_en.rows if row.submission}
    chinese = {row.submission: row for row in record_zh.rows if row.submission}
    signins: dict[int, str] = {}
    for row in session.ledger.query("SELECT bidder_id, MIN(at) AS at FROM signins GROUP BY bidder_id"):
        signins[int(row["bidder_id"])] = str(row["at"])
    outcomes = session.outcomes()
    bids: dict[int, list[dict[str, Any]]] = {}
    for submission in session.submissions(state=None):
        number = int(submission["id"])
        if number not in english:
            continue  # a superseded submission: not a bid any more
        outcome = outcomes.get(number)
        bids.setdefault(int(submission["bidder_id"]), []).append(
            {
                "receipt": number,
                "lot": submission["lot"],
                "sha256": submission["sha256"],
                "status": english[number].status,
                "opened_by": None if outcome is None else outcome.get("opened_by"),
                "released_at": None if outcome is None else _time(outcome.get("released_at")),
                "cause": english[number].cause,
                "cause_zh": chinese[number].cause,
            }
        )
    bidders = [
        {
            "name": bidder["name"],
            "credit_code": bidder["credit_code"],
            "signed_in_at": _time(signins.get(int(bidder["id"]))),
            "bids": bids.get(int(bidder["id"]), []),
        }
        for bidder in session.bidders()
    ]
    status: dict[str, Any] = {
        "session": session_id,
        "tender": settings.tender,
        "lots": list(settings.lots),
        "opening_time": certs.format_time(settings.opening_time),
        "now": certs.format_time(now),
        "now_epoch": now.timestamp(),
        "window": window,
        "bidders": bidders,
        "shares": committee_shares(session),
        "record": None,
    }
    if window["state"] == "closed" and settings.closed_at is not None:
        status["record"] = {
            "closed_at": certs.format_time(settings.closed_at),
            "rows": [
                _record_row(row, zh if len(record_en.rows) == len(record_zh.rows) else None)
                for row, zh in zip(record_en.rows, record_zh.rows, strict=False)
            ],
            "flags": [flag.message for flag in record_en.flags if flag.code != "rule"],
            "flags_zh": [flag.message for flag in record_zh.flags if flag.code != "rule"],
            "decisions": [str(d["message"]) for d in record_en.decisions],
            "decisions_zh": [str(d["message"]) for d in record_zh.decisions],
        }
    return status


def _record_row(row: Any, chinese: Any) -> dict[str, Any]:
    return {
        "lot": row.lot,
        "bidder": row.bidder,
        "credit_code": row.credit_code,
        "receipt": row.submission,
        "status": row.status,
        "cause": row.cause,
        "cause_zh": None if chinese is None else chinese.cause,
        "price": row.price,
        "currency": row.currency,
        "duration": row.duration,
    }


def committee_shares(session: OpeningSession) -> dict[str, int] | None:
    """``{"quorum": k, "released": r, "members": n}`` for a committee session, None otherwise."""
    quorum, released, members = shares_released(session)
    return None if members == 0 else {"quorum": quorum, "released": released, "members": members}


def without_clock(status: dict[str, Any]) -> dict[str, Any]:
    """The status without what changes every second (the time, the remaining time): to see a change."""
    window = {k: v for k, v in status["window"].items() if k != "remaining"}
    return {**{k: v for k, v in status.items() if k != "now"}, "window": window}


class StatusCache:
    """The last status of a session, made again only when its ledger changed.

    The hall's viewers and event streams ask for the status every second;
    building it reads every bid and renders the record twice. Between
    changes only the clock moves, so the rest is kept and only the time and
    the window (computed from the ledger at *now*) are given again. A change
    is seen by SQLite's ``data_version`` (a commit by another process, such
    as ``opening pause``) or by the count of the service's own changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._status: dict[str, Any] | None = None

    def status(
        self, session: OpeningSession, session_id: str, now: dt.datetime, changes: int
    ) -> dict[str, Any]:
        """The status of *session* at *now*; *changes* counts the service's own changes of it."""
        version = session.ledger.one("PRAGMA data_version")
        key = (int(version[next(iter(version.data))]) if version is not None else 0, changes)
        with self._lock:
            cached = self._status if self._key == key else None
        window = window_state(session, now).to_dict()
        if cached is None or (window["state"] == "closed") != (cached["window"]["state"] == "closed"):
            fresh = session_status(session, session_id, now)
            with self._lock:
                self._key, self._status = key, fresh
            return fresh
        return {**cached, "now": certs.format_time(now), "now_epoch": now.timestamp(), "window": window}
