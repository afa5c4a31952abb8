"""The opening record (开标记录): every bid with its receipt, outcome, seals and summary fields.

Made from the ledger alone, in four forms: a text table, JSON, CSV and a
printable HTML page. Flags: a lot with fewer than three opened bids (the
legal minimum for an opening to proceed), and the same document (a file
digest) in the bids of two different bidders, a collusion signal.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bidcrypt import certs
from bidcrypt.i18n import pick
from bidcrypt.opening.ledger import parse_time
from bidcrypt.opening.session import OpeningSession

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


_STATUS = {
    "opened": ("opened", "已解密"),
    "failed": ("failed", "解密失败"),
    "not-decrypted": ("not decrypted", "未解密"),
    "pending": ("not yet opened", "待解密"),
    "withdrawn": ("withdrawn", "已撤回"),
    "rejected": ("refused at submission", "递交被拒"),
}


def status_label(status: str) -> str:
    """A status in the user's language."""
    en, zh = _STATUS.get(status, (status, status))
    return pick(en, zh)


def _time(text: str | None) -> str | None:
    return None if text is None else certs.format_time(parse_time(text))


def build_record(session: OpeningSession) -> OpeningRecord:
    """Assemble the record from the ledger."""
    settings = session.settings
    outcomes = session.outcomes()
    attempts = session.attempts()
    zh = pick("en", "zh") == "zh"
    rows: list[RecordRow] = []
    last_per_bid: dict[tuple[int, str | None], Any] = {}
    for submission in session.submissions(state=None):
        if submission["state"] in ("current", "withdrawn"):
            last_per_bid[(int(submission["bidder_id"]), submission["lot"])] = submission
    for submission in sorted(last_per_bid.values(), key=lambda s: (s["lot"] or "", int(s["id"]))):
        number = int(submission["id"])
        outcome = outcomes.get(number)
        report: dict[str, Any] = json.loads(outcome["report"]) if outcome is not None else {}
        summary = report.get("summary") or {}
        if submission["state"] == "withdrawn":
            status, cause = "withdrawn", None
        elif outcome is None:
            attempt = attempts.get(number)
            status = "pending"
            cause = None if attempt is None else (attempt["cause_zh"] if zh else attempt["cause"])
        else:
            status = outcome["status"]
            cause = outcome["cause_zh"] if zh else outcome["cause"]
        rows.append(
            RecordRow(
                lot=submission["lot"],
                bidder=submission["bidder_name"],
                credit_code=submission["credit_code"],
                submission=number,
                submitted_at=_time(submission["received_at"]),
                receipt_sha256=submission["sha256"],
                size=int(submission["size"]),
                status=status,
                cause=cause,
                seals=_seal_state(report),
                price=summary.get("price"),
                currency=summary.get("currency") if summary.get("price") else None,
                duration=summary.get("duration"),
                items=dict(summary.get("items") or {}),
            )
        )
    bidders = {row["credit_code"]: row["name"] for row in session.bidders()}
    for rejection in session.rejections():
        rows.append(
            RecordRow(
                lot=rejection["lot"],
                bidder=bidders.get(rejection["credit_code"], rejection["credit_code"] or "-"),
                credit_code=rejection["credit_code"],
                submission=None,
                submitted_at=_time(rejection["at"]),
                receipt_sha256=None,
                size=int(rejection["size"]),
                status="rejected",
                cause=rejection["message_zh"] if zh else rejection["message"],
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
        flags=tuple(_flags(settings.lots, rows, outcomes, last_per_bid)),
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
) -> list[Flag]:
    flags = []
    for lot in lots or (None,):
        opened = sum(1 for r in rows if r.lot == lot and r.status == "opened")
        if opened < MINIMUM_BIDS:
            where = pick(f" in lot {lot}", f"（标段 {lot}）") if lot else ""
            flags.append(
                Flag(
                    "fewer-than-three",
                    lot,
                    pick(
                        f"only {opened} bid(s) opened{where}: fewer than three",
                        f"仅 {opened} 家投标文件解密成功{where}，不足三家",
                    ),
                )
            )
    holders: dict[str, dict[str, list[str]]] = {}
    for submission in submissions.values():
        outcome = outcomes.get(int(submission["id"]))
        if outcome is None or outcome["status"] != "opened":
            continue
        for file in json.loads(outcome["report"]).get("files", []):
            if file["size"] > 0:
                holders.setdefault(file["sha256"], {}).setdefault(submission["bidder_name"], []).append(
                    file["path"]
                )
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
                    ),
                )
            )
    return flags


# --- rendering ---------------------------------------------------------------------------------


def _columns() -> list[tuple[str, str]]:
    return [
        ("lot", pick("lot", "标段")),
        ("bidder", pick("bidder", "投标人")),
        ("credit_code", pick("credit code", "统一社会信用代码")),
        ("submitted_at", pick("submitted", "递交时间")),
        ("receipt_sha256", pick("receipt SHA-256", "回执摘要")),
        ("status", pick("status", "解密状态")),
        ("cause", pick("cause", "原因")),
        ("seals", pick("seals", "签章")),
        ("price", pick("price", "投标报价")),
        ("duration", pick("duration", "工期")),
        ("items", pick("other items", "其他")),
    ]


def _cells(row: RecordRow) -> dict[str, str]:
    seals = {"valid": pick("valid", "有效"), "invalid": pick("INVALID", "无效")}.get(row.seals, "-")
    return {
        "lot": row.lot or "-",
        "bidder": row.bidder,
        "credit_code": row.credit_code or "-",
        "submitted_at": row.submitted_at or "-",
        "receipt_sha256": row.receipt_sha256 or "-",
        "status": status_label(row.status),
        "cause": row.cause or "",
        "seals": seals,
        "price": f"{row.price} {row.currency}" if row.price else "-",
        "duration": row.duration or "-",
        "items": "; ".join(f"{k}: {v}" for k, v in row.items.items()),
    }


def render(record: OpeningRecord, form: str) -> str:
    """The record as ``table``, ``json``, ``csv`` or ``html``."""
    if form == "json":
        return json.dumps(record.to_dict(), ensure_ascii=False, indent=2)
    if form == "csv":
        return _csv(record)
    if form == "html":
        return _html(record)
    return _table(record)


def _heading(record: OpeningRecord) -> list[str]:
    lines = [
        f"{pick('tender', '招标项目')}: {record.tender}"
        + (f"   {pick('lots', '标段')}: {', '.join(record.lots)}" if record.lots else ""),
        f"{pick('deadline', '投标截止时间')}: {record.deadline}   "
        f"{pick('opening', '开标时间')}: {record.opening_time}",
    ]
    if record.closed_at:
        lines.append(f"{pick('decryption window closed', '解密截止')}: {record.closed_at}")
    return lines


def _table(record: OpeningRecord) -> str:
    hidden = {"credit_code", "items"} | (set() if record.lots else {"lot"})
    columns = [c for c in _columns() if c[0] not in hidden]
    rows = [_cells(r) for r in record.rows]
    for cells in rows:
        cells["receipt_sha256"] = cells["receipt_sha256"][:16]
    widths = {key: max([_width(title)] + [_width(c[key]) for c in rows]) for key, title in columns}
    out = [pick("Opening record", "开标记录"), *_heading(record), ""]
    out.append("  ".join(_pad(title, widths[key]) for key, title in columns).rstrip())
    for cells in rows:
        out.append("  ".join(_pad(cells[key], widths[key]) for key, _ in columns).rstrip())
    for row in record.rows:
        if row.items:
            out.append(f"  {row.bidder}: " + "; ".join(f"{k}: {v}" for k, v in row.items.items()))
    if record.flags:
        out.append("")
        out.extend(f"! {flag.message}" for flag in record.flags)
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _csv(record: OpeningRecord) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = _columns()
    writer.writerow([title for _, title in columns])
    for row in record.rows:
        cells = _cells(row)
        writer.writerow([cells[key] for key, _ in columns])
    return buffer.getvalue()


_STYLE = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; margin: 2em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
.meta { color: #333; margin: .2em 0; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; font-size: .9em; }
th, td { border: 1px solid #888; padding: .35em .5em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.hash { font-family: monospace; font-size: .8em; word-break: break-all; }
tr.failed td, tr.rejected td, tr.not-decrypted td { background: #fdecea; }
.flags { border: 2px solid #b00; padding: .5em 1em; margin-top: 1em; }
.signatures { margin-top: 3em; display: flex; gap: 6em; }
@media print { body { margin: 1cm; } tr { page-break-inside: avoid; } }
"""


def _html(record: OpeningRecord) -> str:
    esc = html.escape
    columns = _columns()
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    body = []
    for row in record.rows:
        cells = _cells(row)
        tds = "".join(
            f'<td class="hash">{esc(cells[key])}</td>'
            if key == "receipt_sha256"
            else f"<td>{esc(cells[key])}</td>"
            for key, _ in columns
        )
        body.append(f'<tr class="{esc(row.status)}">{tds}</tr>')
    flags = ""
    if record.flags:
        items = "".join(f"<li>{esc(flag.message)}</li>" for flag in record.flags)
        flags = f'<div class="flags"><strong>{esc(pick("Flags", "提示"))}</strong><ul>{items}</ul></div>'
    meta = "".join(f'<p class="meta">{esc(line)}</p>' for line in _heading(record))
    title = pick("Opening record", "开标记录")
    signatures = "".join(
        f"<div>{esc(who)}: ____________</div>"
        for who in (
            pick("Opening official", "开标人"),
            pick("Recorder", "记录人"),
            pick("Supervisor", "监督人"),
        )
    )
    generated = esc(
        pick(f"generated {record.generated_at} by bidcrypt", f"由 bidcrypt 生成于 {record.generated_at}")
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{pick("en", "zh-CN")}"><head><meta charset="utf-8">'
        f"<title>{esc(title)} — {esc(record.tender)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{meta}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f'{flags}<div class="signatures">{signatures}</div><p class="meta"><small>{generated}</small></p>'
        "</body></html>\n"
    )
