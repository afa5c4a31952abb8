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
from bidcrypt.opening.record_remote import SignIn, build_remote, opened_how, signins
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
    #: How the bid was opened: 'key', 'release', 'backup', 'committee' (None: not opened).
    opened_by: str | None = None
    #: When the bidder's release or backup arrived.
    released_at: str | None = None
    #: How it was opened, in words ("released by the bidder at T"); None for a local opening.
    opened_how: str | None = None
    #: When the bidder signed in (签到), if they did.
    signed_in_at: str | None = None
    #: At the close: 'bidder' (视为撤销) or 'not-bidder' (视为撤回), with the official's reason.
    attribution: str | None = None
    attribution_reason: str | None = None


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
    #: The decryption window (see :class:`~bidcrypt.opening.window.WindowState`), None if never started.
    window: dict[str, Any] | None = None
    signins: tuple[SignIn, ...] = ()
    #: k of n shares released, for a committee session.
    committee: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None
    decisions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _time(text: str | None) -> str | None:
    return None if text is None else certs.format_time(parse_time(text))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _opened_by(outcome: Any) -> str | None:
    """How an opened bid was opened ('key' for the bulk opening, which does not say)."""
    if outcome is None or outcome["status"] != "opened":
        return None
    return str(outcome.get("opened_by") or "key")


def _report(outcome: Any) -> dict[str, Any]:
    """An outcome's stored report (a JSON object), or an empty one when there is no outcome."""
    if outcome is None:
        return {}
    report = json.loads(outcome["report"])
    if not isinstance(report, dict):
        raise ValueError(f"the report of submission {outcome['submission_id']} is not a JSON object")
    return report


def build_record(
    session: OpeningSession, language: Language | None = None, *, now: dt.datetime | None = None
) -> OpeningRecord:
    """Assemble the record from the ledger; a row not as bidcrypt wrote it is a :class:`LedgerError`.

    Causes and flags are written in *language* (default: the current
    locale's); render the record in the same language. *now* is the moment
    the window's state is given at (default: the system clock; a closed
    window is shown closed whatever *now* is).
    """
    try:
        return _build(session, language, now or dt.datetime.now(dt.UTC))
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


def _build(session: OpeningSession, language: Language | None, now: dt.datetime) -> OpeningRecord:
    settings = session.settings
    outcomes = session.outcomes()
    attempts = session.attempts()
    remote = session.ledger.one("SELECT 1 FROM window_events LIMIT 1") is not None
    signed = signins(session)
    attributions = {int(r["submission_id"]): r for r in session.ledger.query("SELECT * FROM attributions")}
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
        attribution = attributions.get(number)
        signin = signed.get(str(submission["credit_code"]))
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
                opened_by=None
                if outcome is None or status != "opened"
                else str(outcome.get("opened_by") or "key"),
                released_at=None if outcome is None else _time(outcome.get("released_at")),
                opened_how=opened_how(outcome, remote, language),
                signed_in_at=None if signin is None else signin.at,
                attribution=None if attribution is None else str(attribution["cause"]),
                attribution_reason=None if attribution is None else _text(attribution["reason"]),
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
    part = build_remote(
        session,
        [(r.lot, r.credit_code or "", r.status) for r in rows if r.submission is not None],
        language,
        now,
    )
    flags = _flags(settings.lots, rows, outcomes, last_per_bid, language)
    if remote:  # a local session keeps its fewer-than-three flag alone; the decision is in the record
        flags.extend(_remote_flags(rows, part.decisions, language))
    return OpeningRecord(
        tender=settings.tender,
        lots=settings.lots,
        deadline=certs.format_time(settings.deadline),
        opening_time=certs.format_time(settings.opening_time),
        closed_at=None if settings.closed_at is None else certs.format_time(settings.closed_at),
        generated_at=certs.format_time(dt.datetime.now(dt.UTC)),
        rows=tuple(rows),
        flags=tuple(flags),
        window=part.window,
        signins=part.signins,
        committee=part.committee,
        rule=part.rule,
        decisions=part.decisions,
    )


def _remote_flags(
    rows: list[RecordRow], decisions: tuple[dict[str, Any], ...], language: Language | None
) -> list[Flag]:
    """A bid released without its bidder's sign-in; a rule whose decision is that the opening stops."""
    flags = [
        Flag(
            "released-without-signin",
            row.lot,
            pick(
                f"{row.bidder} released the bid without signing in",
                f"{row.bidder} 未签到即解密投标文件",
                language,
            ),
        )
        for row in rows
        if row.opened_by == "release" and row.signed_in_at is None
    ]
    flags.extend(Flag("rule", d["lot"], str(d["message"])) for d in decisions if not d["proceeds"])
    return flags


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
