"""The remote opening's part of the record: how each bid was opened, the window, sign-ins, shares, the rule.

Read from the ledger alone, like the rest of the record:

- how a bid was opened: "released by the bidder at T" (``opened_by =
  'release'``), "opened from the backup at T" (``'backup'``), with the
  session's key or the committee's rebuilt key;
- the window: its start and length, each pause with its reason and its
  resumption, and its close (by the official, or by itself at zero);
- who signed in (签到) and when; a bidder whose bid was released without a
  sign-in is flagged;
- for a committee session, "k of n shares released";
- the rule profile and its decision for each lot (see :mod:`bidcrypt.opening.rule`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bidcrypt import certs
from bidcrypt.i18n import Language, pick
from bidcrypt.opening.committee_ledger import shares_released
from bidcrypt.opening.ledger import Row, parse_time
from bidcrypt.opening.rule import decide, session_rule
from bidcrypt.opening.window import WindowState, window_state

if TYPE_CHECKING:
    from bidcrypt.opening.session_view import SessionView

__all__ = ["RemotePart", "SignIn", "build_remote", "opened_how", "remote_lines"]


@dataclass(frozen=True)
class SignIn:
    """A bidder's first sign-in (签到)."""

    bidder: str
    credit_code: str
    at: str


@dataclass(frozen=True)
class RemotePart:
    """The remote opening's sections of the record (JSON-ready values)."""

    window: dict[str, Any] | None
    signins: tuple[SignIn, ...]
    committee: dict[str, Any] | None
    rule: dict[str, Any]
    decisions: tuple[dict[str, Any], ...]


def _time(text: Any) -> str | None:
    return None if text is None else certs.format_time(parse_time(str(text)))


def opened_how(outcome: Row | None, remote: bool, language: Language | None) -> str | None:
    """How the bid of *outcome* was opened, in *language*; None for a local opening with the key."""
    if outcome is None or outcome["status"] != "opened":
        return None
    by = outcome.get("opened_by")
    at = _time(outcome.get("released_at"))
    if by == "release":
        return pick(f"released by the bidder at {at}", f"投标人于 {at} 解密", language)
    if by == "backup":
        return pick(f"opened from the backup at {at}", f"于 {at} 以备用文件开启", language)
    if by == "committee":
        return pick("opened with the committee's key", "以开标委员会恢复的密钥解密", language)
    if remote:
        return pick("opened with the session's key", "以开标密钥解密", language)
    return None


def signins(session: SessionView) -> dict[str, SignIn]:
    """Each bidder's first sign-in, by credit code."""
    rows = session.ledger.query(
        "SELECT b.name, b.credit_code, MIN(s.at) AS at FROM signins s JOIN bidders b ON b.id = s.bidder_id "
        "GROUP BY b.id ORDER BY MIN(s.at)"
    )
    return {
        str(r["credit_code"]): SignIn(str(r["name"]), str(r["credit_code"]), str(_time(r["at"])))
        for r in rows
    }


def committee(session: SessionView) -> dict[str, Any] | None:
    """k of n: the quorum, how many members' shares were accepted, and n; None without a committee."""
    quorum, released, members = shares_released(session)
    if members == 0:
        return None
    return {"quorum": quorum or None, "released": released, "members": members}


def build_remote(
    session: SessionView,
    statuses: list[tuple[str | None, str, str]],
    language: Language | None,
    now: dt.datetime,
) -> RemotePart:
    """The remote sections at *now*; *statuses* are the record's (lot, credit code, status) of each bid.

    A closed window is given as closed whatever *now* is (its last row or
    its closing time is taken when later).
    """
    closed = session.settings.closed_at
    if closed is not None:
        last = session.ledger.one("SELECT MAX(at) AS at FROM window_events")
        moments = [now, closed] + ([parse_time(str(last["at"]))] if last and last["at"] else [])
        now = max(moments)
    state: WindowState = window_state(session, now)
    started = state.started_at is not None
    rule = session_rule(session)
    lots = session.settings.lots or (None,)
    final = session.settings.closed_at is not None
    decisions = []
    for lot in lots:
        of_lot = [s for s in statuses if s[0] == lot and s[2] not in ("withdrawn", "rejected")]
        decision = decide(
            rule,
            lot,
            bidders=len({code for _, code, _ in of_lot}),
            opened=sum(1 for s in of_lot if s[2] == "opened"),
            final=final,
            language=language,
        )
        decisions.append(decision.to_dict())
    return RemotePart(
        window=state.to_dict() if started else None,
        signins=tuple(signins(session).values()),
        committee=committee(session),
        rule={
            "name": rule.name,
            "minimum": rule.minimum,
            "counts": rule.counts,
            "basis": rule.basis(language),
        },
        decisions=tuple(decisions),
    )


def remote_lines(
    window: dict[str, Any] | None,
    signed: tuple[SignIn, ...] | list[dict[str, Any]],
    committee_part: dict[str, Any] | None,
    decisions: tuple[dict[str, Any], ...] | list[dict[str, Any]],
    language: Language | None,
) -> list[str]:
    """The remote sections as lines of text (the table's and the page's), in *language*."""
    lines: list[str] = []
    if window is not None:
        lines.extend(_window_lines(window, language))
    if signed:
        names = [s if isinstance(s, dict) else s.__dict__ for s in signed]
        joined = pick("; ", "；", language).join(f"{s['bidder']} {s['at']}" for s in names)
        lines.append(f"{pick('signed in', '签到', language)}: {joined}")
    if committee_part is not None:
        k = committee_part["quorum"]
        lines.append(
            pick(
                f"committee: {committee_part['released']} of {committee_part['members']} shares released"
                + (f" ({k} needed)" if k else ""),
                f"开标委员会：{committee_part['members']} 份密钥分片已提交 {committee_part['released']} 份"
                + (f"（需 {k} 份）" if k else ""),
                language,
            )
        )
    for decision in decisions:
        lines.append(f"{pick('rule', '开标规则', language)}: {decision['message']}")
    return lines


def _window_lines(window: dict[str, Any], language: Language | None) -> list[str]:
    def when(text: str | None) -> str:
        return "-" if text is None else certs.format_time(dt.datetime.fromisoformat(text))

    seconds = int(window["seconds"] or 0)
    length = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    length_zh = f"{seconds // 60} 分钟" if seconds % 60 == 0 else f"{seconds} 秒"
    lines = [
        pick(
            f"decryption window: started {when(window['started_at'])}, {length}",
            f"解密时间：{when(window['started_at'])} 开始，时长 {length_zh}",
            language,
        )
    ]
    for pause in window["pauses"]:
        resumed = pause["resumed_at"]
        said = pause.get("resume_reason")
        why, why_zh = (f" ({said})", f"（{said}）") if said else ("", "")
        code = f" [{pause['reason_code']}]" if pause["reason_code"] else ""
        lines.append(
            pick(
                f"  paused {when(pause['at'])}: {pause['reason']}{code}"
                + (f"; resumed {when(resumed)}{why}" if resumed else "; not resumed"),
                f"  {when(pause['at'])} 暂停：{pause['reason']}{code}"
                + (f"；{when(resumed)} 恢复{why_zh}" if resumed else "；未恢复"),
                language,
            )
        )
    if window["state"] == "closed":
        by = window["closed_by"]
        lines.append(
            pick(
                f"  closed {when(window['closed_at'])}" + (" (the time ran out)" if by == "expired" else ""),
                f"  {when(window['closed_at'])} 结束" + ("（解密时间届满）" if by == "expired" else ""),
                language,
            )
        )
    else:
        lines.append(
            pick(
                f"  {window['state']}, {window['remaining']} s remaining",
                f"  {_STATE_ZH.get(window['state'], window['state'])}，剩余 {window['remaining']} 秒",
                language,
            )
        )
    return lines


_STATE_ZH = {"running": "进行中", "paused": "已暂停", "not-started": "未开始"}
