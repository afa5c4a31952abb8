"""The opening record (开标记录): every bid with its receipt, outcome, seals and summary fields.

Made from the ledger alone, in four forms (see :mod:`bidcrypt.opening.record_forms`):
a text table, JSON, CSV and a printable HTML page. A ledger row that is not
as bidcrypt wrote it (hand-edited) is a :class:`LedgerError`. Flags: a lot
with fewer than three opened bids (the legal minimum for an opening to
proceed), and the same document (a file digest) in the bids of two
different bidders, a collusion signal.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bidcrypt import certs
from bidcrypt.errors import LedgerError
from bidcrypt.i18n import Language, Text, pick
from bidcrypt.opening.causes import render_cause
from bidcrypt.opening.ledger import parse_time
from bidcrypt.opening.record_forms import render, status_label
from bidcrypt.opening.session import OpeningSession

__all__ = ["Flag", "OpeningRecord", "RecordRow", "build_record", "render", "status_label"]

MINIMUM_BIDS = 3


@dataclass(frozen=True)
class RecordRow:
    """One bid (or refused submission) in the record."""

    lot: str | None
    bidder: str
    credit_code: str | None
    submission: int | None
    submitted_at: str | None
    receipt_sha256: str | None
    size: int | None
    status: str
    cause: str | None
    seals: str
    price: str | None
    currency: str | None
    duration: str | None
    items: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flag:
    """Something the officials must look at."""

    code: str
    lot: str | None
    message: str


@dataclass(frozen=True)
class OpeningRecord:
    """The record of one session."""

    tender: str
    lots: tuple[str, ...]
    deadline: str
    opening_time: str
    closed_at: str | None
    generated_at: str
    rows: tuple[RecordRow, ...]
    flags: tuple[Flag, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _time(text: str | None) -> str | None:
    return None if text is None else certs.format_time(parse_time(text))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _report(outcome: Any) -> dict[str, Any]:
    """An outcome's stored report (a JSON object), or an empty one when there is no outcome."""
    if outcome is None:
        return {}
    report = json.loads(outcome["report"])
    if not isinstance(report, dict):
        raise ValueError(f"the report of submission {outcome['submission_id']} is not a JSON object")
    return report


def build_record(session: OpeningSession, language: Language | None = None) -> OpeningRecord:
    """Assemble the record from the ledger; a row not as bidcrypt wrote it is a :class:`LedgerError`.

    Causes and flags are written in *language* (default: the current
    locale's); render the record in the same language.
    """
    try:
        return _build(session, language)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LedgerError(
            Text(
                "a row is not as bidcrypt wrote it ({exc_name}: {exc}); was it edited by hand?",
                "有记录与 bidcrypt 写入的不符（{exc_name}：{exc}），是否被手工修改？",
                exc_name=type(exc).__name__,
                exc=exc,
            ),
            path=session.ledger.path,
        ) from exc


def _build(session: OpeningSession, language: Language | None) -> OpeningRecord:
    settings = session.settings
    outcomes = session.outcomes()
    attempts = session.attempts()
    rows: list[RecordRow] = []
    last_per_bid: dict[tuple[int, str | None], Any] = {}
    for submission in session.submissions(state=None):
        if submission["state"] in ("current", "withdrawn"):
            last_per_bid[(int(submission["bidder_id"]), submission["lot"])] = submission
    for submission in sorted(last_per_bid.values(), key=lambda s: (str(s["lot"] or ""), int(s["id"]))):
        number = int(submission["id"])
        outcome = outcomes.get(number)
        report = _report(outcome)
        summary = report.get("summary") or {}
        if submission["state"] == "withdrawn":
            status, cause = "withdrawn", None
        elif outcome is None:
            attempt = attempts.get(number)
            status = "pending"
            cause = None if attempt is None else render_cause(attempt, language)
        else:
            status = str(outcome["status"])
            cause = render_cause(outcome, language, status=status)
        price = _text(summary.get("price"))
        rows.append(
            RecordRow(
                lot=_text(submission["lot"]),
                bidder=str(submission["bidder_name"]),
                credit_code=_text(submission["credit_code"]),
                submission=number,
                submitted_at=_time(submission["received_at"]),
                receipt_sha256=_text(submission["sha256"]),
                size=int(submission["size"]),
                status=status,
                cause=_text(cause),
                seals=_seal_state(report),
                price=price,
                currency=_text(summary.get("currency")) if price else None,
                duration=_text(summary.get("duration")),
                items={str(k): str(v) for k, v in dict(summary.get("items") or {}).items()},
            )
        )
    bidders = {row["credit_code"]: row["name"] for row in session.bidders()}
    for rejection in session.rejections():
        rows.append(
            RecordRow(
                lot=_text(rejection["lot"]),
                bidder=str(bidders.get(rejection["credit_code"], rejection["credit_code"] or "-")),
                credit_code=_text(rejection["credit_code"]),
                submission=None,
                submitted_at=_time(rejection["at"]),
                receipt_sha256=None,
                size=int(rejection["size"]),
                status="rejected",
                cause=render_cause(
                    rejection, language, code="code", params="params", text=("message", "message_zh")
                ),
                seals="-",
                price=None,
                currency=None,
                duration=None,
            )
        )
    return OpeningRecord(
        tender=settings.tender,
        lots=settings.lots,
        deadline=certs.format_time(settings.deadline),
        opening_time=certs.format_time(settings.opening_time),
        closed_at=None if settings.closed_at is None else certs.format_time(settings.closed_at),
        generated_at=certs.format_time(dt.datetime.now(dt.UTC)),
        rows=tuple(rows),
        flags=tuple(_flags(settings.lots, rows, outcomes, last_per_bid, language)),
    )


def _seal_state(report: dict[str, Any]) -> str:
    checks = {c["check"]: c["ok"] for c in report.get("checks", [])}
    if "seals" not in checks:
        return "-"
    return "valid" if checks["seals"] else "invalid"


def _flags(
    lots: tuple[str, ...],
    rows: list[RecordRow],
    outcomes: dict[int, Any],
    submissions: dict[tuple[int, str | None], Any],
    language: Language | None,
) -> list[Flag]:
    flags = []
    for lot in lots or (None,):
        opened = sum(1 for r in rows if r.lot == lot and r.status == "opened")
        if opened < MINIMUM_BIDS:
            where = pick(f" in lot {lot}", f"（标段 {lot}）", language) if lot else ""
            flags.append(
                Flag(
                    "fewer-than-three",
                    lot,
                    pick(
                        f"only {opened} bid(s) opened{where}: fewer than three",
                        f"仅 {opened} 家投标文件解密成功{where}，不足三家",
                        language,
                    ),
                )
            )
    holders: dict[str, dict[str, list[str]]] = {}
    for submission in submissions.values():
        outcome = outcomes.get(int(submission["id"]))
        if outcome is None or outcome["status"] != "opened":
            continue
        for file in _report(outcome).get("files", []):
            if int(file["size"]) > 0:
                holders.setdefault(str(file["sha256"]), {}).setdefault(
                    str(submission["bidder_name"]), []
                ).append(str(file["path"]))
    for digest, by_bidder in holders.items():
        if len(by_bidder) > 1:
            names = "; ".join(f"{bidder}: {', '.join(paths)}" for bidder, paths in sorted(by_bidder.items()))
            flags.append(
                Flag(
                    "same-document",
                    None,
                    pick(
                        f"the same document (SHA-256 {digest[:16]}…) is in the bids of different bidders: "
                        f"{names}",
                        f"不同投标人的投标文件中有相同文件（SHA-256 {digest[:16]}…）：{names}",
                        language,
                    ),
                )
            )
    return flags
