"""The opening record in its four forms: a text table, JSON, CSV and a printable HTML page.

Every text in the record may come from a bidder, so each form escapes all of
it on the way out (see :mod:`bidcrypt.opening.escape`): the table and the
page show hidden characters as escapes, CSV cells never start a formula,
the page is HTML-escaped throughout, and JSON keeps the values as they are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING

from bidcrypt.i18n import Language, pick
from bidcrypt.opening.escape import csv_cell, html_text, visible, width
from bidcrypt.opening.record_remote import remote_lines

if TYPE_CHECKING:
    from bidcrypt.opening.record import OpeningRecord, RecordRow

_STATUS = {
    "opened": ("opened", "已解密"),
    "failed": ("failed", "解密失败"),
    "not-decrypted": ("not decrypted", "未解密"),
    "pending": ("not yet opened", "待解密"),
    "withdrawn": ("withdrawn", "已撤回"),
    "rejected": ("refused at submission", "递交被拒"),
}


def status_label(status: str, language: Language | None = None) -> str:
    """A status in *language* (default: the user's)."""
    en, zh = _STATUS.get(status, (status, status))
    return pick(en, zh, language)


def render(record: OpeningRecord, form: str, language: Language | None = None) -> str:
    """The record as ``table``, ``json``, ``csv`` or ``html``, in *language* (default: the user's).

    Give the language the record was built in (see
    :func:`~bidcrypt.opening.record.build_record`), so that its causes and
    flags are in the same language as its titles.
    """
    if form == "json":
        return _json(record)
    if form == "csv":
        return _csv(record, language)
    if form == "html":
        return _html(record, language)
    return _table(record, language)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _json(record: OpeningRecord) -> str:
    """The values as they are; only a lone surrogate (from a hand-edited ledger), which no UTF-8 output
    can carry, is written as its JSON escape (it can only stand inside a JSON string)."""
    text = json.dumps(record.to_dict(), ensure_ascii=False, indent=2)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _columns(language: Language | None) -> list[tuple[str, str]]:
    return [
        ("lot", pick("lot", "标段", language)),
        ("bidder", pick("bidder", "投标人", language)),
        ("credit_code", pick("credit code", "统一社会信用代码", language)),
        ("submitted_at", pick("submitted", "递交时间", language)),
        ("receipt_sha256", pick("receipt SHA-256", "回执摘要", language)),
        ("status", pick("status", "解密状态", language)),
        ("cause", pick("cause", "原因", language)),
        ("seals", pick("seals", "签章", language)),
        ("price", pick("price", "投标报价", language)),
        ("duration", pick("duration", "工期", language)),
        ("items", pick("other items", "其他", language)),
    ]


def _items(row: RecordRow) -> str:
    return "; ".join(f"{key}: {value}" for key, value in row.items.items())


def _cells(row: RecordRow, missing: str, language: Language | None) -> dict[str, str]:
    """The row's cells as raw text (escaped by each form), *missing* for an empty value."""
    seals = {"valid": pick("valid", "有效", language), "invalid": pick("INVALID", "无效", language)}.get(
        row.seals, missing
    )
    return {
        "lot": row.lot or missing,
        "bidder": row.bidder,
        "credit_code": row.credit_code or missing,
        "submitted_at": row.submitted_at or missing,
        "receipt_sha256": row.receipt_sha256 or missing,
        "status": status_label(row.status, language),
        "cause": row.cause or row.opened_how or "",
        "seals": seals,
        "price": f"{row.price} {row.currency or ''}".rstrip() if row.price else missing,
        "duration": row.duration or missing,
        "items": _items(row),
    }


def _heading(record: OpeningRecord, language: Language | None) -> list[str]:
    lines = [
        f"{pick('tender', '招标项目', language)}: {record.tender}"
        + (f"   {pick('lots', '标段', language)}: {', '.join(record.lots)}" if record.lots else ""),
        f"{pick('deadline', '投标截止时间', language)}: {record.deadline}   "
        f"{pick('opening', '开标时间', language)}: {record.opening_time}",
    ]
    if record.closed_at:
        lines.append(f"{pick('decryption window closed', '解密截止', language)}: {record.closed_at}")
    return lines


# --- the text table ------------------------------------------------------------------------------


def _table(record: OpeningRecord, language: Language | None) -> str:
    """One line per bid, columns aligned by display width; every text shown with :func:`visible`."""
    hidden = {"credit_code", "items"} | (set() if record.lots else {"lot"})
    columns = [c for c in _columns(language) if c[0] not in hidden]
    rows = []
    for row in record.rows:
        cells = _cells(row, "-", language)
        cells["receipt_sha256"] = cells["receipt_sha256"][:16]
        rows.append({key: visible(text) for key, text in cells.items()})
    widths = {key: max([width(title)] + [width(c[key]) for c in rows]) for key, title in columns}
    out = [
        pick("Opening record", "开标记录", language),
        *(visible(line) for line in _heading(record, language)),
        "",
    ]
    out.append("  ".join(_pad(title, widths[key]) for key, title in columns).rstrip())
    for cells in rows:
        out.append("  ".join(_pad(cells[key], widths[key]) for key, _ in columns).rstrip())
    for row in record.rows:
        if row.items:
            out.append(f"  {visible(row.bidder)}: {visible(_items(row))}")
    remote = _remote(record, language)
    if remote:
        out.append("")
        out.extend(visible(line) for line in remote)
    if record.flags:
        out.append("")
        out.extend(f"! {visible(flag.message)}" for flag in record.flags)
    return "\n".join(out) + "\n"


def _remote(record: OpeningRecord, language: Language | None) -> list[str]:
    """The window, sign-ins, shares and the rule's decision, as lines (see record_remote)."""
    return remote_lines(record.window, record.signins, record.committee, record.decisions, language)


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


# --- CSV ----------------------------------------------------------------------------------------


def _csv(record: OpeningRecord, language: Language | None) -> str:
    """Every column, one row per bid; empty cells for missing values, no cell a spreadsheet would run."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = _columns(language)
    writer.writerow([csv_cell(title) for _, title in columns])
    for row in record.rows:
        cells = _cells(row, "", language)
        writer.writerow([csv_cell(cells[key]) for key, _ in columns])
    return buffer.getvalue()


# --- HTML ---------------------------------------------------------------------------------------

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


def _html(record: OpeningRecord, language: Language | None) -> str:
    """A printable page; every text and attribute value goes through :func:`html_text`."""
    esc = html_text
    columns = _columns(language)
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    body = []
    for row in record.rows:
        cells = _cells(row, "-", language)
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
        heading = esc(pick("Flags", "提示", language))
        flags = f'<div class="flags"><strong>{heading}</strong><ul>{items}</ul></div>'
    meta = "".join(f'<p class="meta">{esc(line)}</p>' for line in _heading(record, language))
    remote = "".join(f'<p class="meta remote">{esc(line)}</p>' for line in _remote(record, language))
    title = pick("Opening record", "开标记录", language)
    signatures = "".join(
        f"<div>{esc(who)}: ____________</div>"
        for who in (
            pick("Opening official", "开标人", language),
            pick("Recorder", "记录人", language),
            pick("Supervisor", "监督人", language),
        )
    )
    generated = esc(
        pick(
            f"generated {record.generated_at} by bidcrypt",
            f"由 bidcrypt 生成于 {record.generated_at}",
            language,
        )
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(pick("en", "zh-CN", language))}"><head><meta charset="utf-8">'
        f"<title>{esc(title)} — {esc(record.tender)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{meta}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"{remote}"
        f'{flags}<div class="signatures">{signatures}</div><p class="meta"><small>{generated}</small></p>'
        "</body></html>\n"
    )
