"""`bidcrypt opening start|pause|resume|close|accept-backup|window`: the decryption window (解密时间).

The official starts the window at the opening time (``--window 30m``, or
the length the session was created with), pauses it with the reason of a
platform failure and resumes it (the paused time is not counted), takes a
bidder's backup copy (备用文件) within it, and closes it: every bid not
opened is then 视为撤销 (the bidder's cause) or, for the bidders named with
``--not-bidder CREDIT_CODE=REASON``, 视为撤回 (not the bidder's cause).
``opening window`` says the state and the remaining time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from bidcrypt import certs
from bidcrypt.cli.common import handles_errors, json_option, print_json
from bidcrypt.cli.opening_create import parse_duration
from bidcrypt.i18n import pick
from bidcrypt.opening import (
    PLATFORM_OUTAGE,
    OpeningSession,
    WindowState,
    accept_backup,
    close_window,
    pause_window,
    resume_window,
    start_window,
    window_state,
)

__all__ = ["WINDOW_COMMANDS"]

_SESSION = click.argument("session", type=click.Path(path_type=Path, file_okay=False))

_STATES = {
    "not-started": ("not started", "未开始"),
    "running": ("running", "进行中"),
    "paused": ("paused", "已暂停"),
    "closed": ("closed", "已结束"),
}


def _load(session: Path, read_only: bool = False) -> OpeningSession:
    return OpeningSession.load(session, read_only=read_only)


def _remaining(seconds: float) -> str:
    whole = int(seconds + 0.999)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _say(state: WindowState) -> str:
    """The state in one line, in the user's language."""
    en, zh = _STATES[state.state]
    if state.state in ("running", "paused"):
        left = _remaining(state.remaining)
        line = pick(f"decryption window {en}, {left} remaining", f"解密时间{zh}，剩余 {left}")
        if state.state == "paused":
            pause = state.pauses[-1]
            line += pick(f" (paused: {pause.reason})", f"（暂停原因：{pause.reason}）")
        return line
    if state.state == "closed" and state.closed_at is not None:
        return pick(
            f"decryption window closed at {certs.format_time(state.closed_at)}",
            f"解密时间已于 {certs.format_time(state.closed_at)} 结束",
        )
    return pick(f"decryption window {en}", f"解密时间{zh}")


def _report(session: Path, state: WindowState, as_json: bool) -> None:
    if as_json:
        print_json({"session": str(session), **state.to_dict()})
    else:
        click.echo(_say(state))


@click.command("start")
@_SESSION
@click.option(
    "--window",
    "length",
    metavar="LENGTH",
    help="How long bidders have to decrypt: 30m, 1h, 90s (default: the length the session was made with).",
)
@json_option
@handles_errors
def start_command(session: Path, length: str | None, as_json: bool) -> None:
    """Start the decryption window (at or after the opening time; once)."""
    opened = _load(session)
    if length is not None:
        seconds = parse_duration(length)
    else:
        stored = opened.ledger.meta("window_seconds")
        if not stored or not stored.isdigit():
            raise click.UsageError(
                pick("give the window's length: --window 30m", "请给出解密时长：--window 30m")
            )
        seconds = int(stored)
    _report(session, start_window(opened, seconds), as_json)


@click.command("pause")
@_SESSION
@click.option("--reason", required=True, help="Why (a platform failure), as it goes into the record.")
@click.option("--code", "reason_code", default=PLATFORM_OUTAGE, show_default=True, help="The reason's code.")
@json_option
@handles_errors
def pause_command(session: Path, reason: str, reason_code: str, as_json: bool) -> None:
    """Pause the running window; the paused time is not counted."""
    _report(session, pause_window(_load(session), reason, reason_code), as_json)


@click.command("resume")
@_SESSION
@click.option("--reason", help="What the record says of the resumption (the failure fixed, say).")
@json_option
@handles_errors
def resume_command(session: Path, reason: str | None, as_json: bool) -> None:
    """Resume the paused window with the time it had left."""
    _report(session, resume_window(_load(session), reason=reason), as_json)


def _not_bidder(values: tuple[str, ...]) -> dict[str, str]:
    named: dict[str, str] = {}
    for value in values:
        code, sep, reason = value.partition("=")
        if not sep or not code.strip() or not reason.strip():
            raise click.BadParameter(
                pick(f"{value!r} is not CREDIT_CODE=REASON", f"{value!r} 不是 统一社会信用代码=原因 的形式"),
                param_hint="--not-bidder",
            )
        named[code.strip()] = reason.strip()
    return named


@click.command("close")
@_SESSION
@click.option(
    "--not-bidder",
    "not_bidder",
    multiple=True,
    metavar="CREDIT_CODE=REASON",
    help="A bid not decrypted by no fault of its bidder (视为撤回), with the reason. Repeatable.",
)
@click.option(
    "--reason-code",
    default=PLATFORM_OUTAGE,
    show_default=True,
    help="The reason code recorded with the --not-bidder bids.",
)
@json_option
@handles_errors
def close_command(session: Path, not_bidder: tuple[str, ...], reason_code: str, as_json: bool) -> None:
    """End the decryption window: every bid not opened is 视为撤销, or 视为撤回 for --not-bidder."""
    closed = close_window(_load(session), _not_bidder(not_bidder), reason_code=reason_code)
    if as_json:
        print_json({"session": str(session), **closed.to_dict()})
        return
    line = pick(
        f"decryption window closed; {closed.count} bid(s) not decrypted",
        f"解密窗口已关闭；{closed.count} 份投标文件未解密",
    )
    if closed.revoked or closed.withdrawn:
        line += pick(
            f" ({len(closed.revoked)} deemed revoked, {len(closed.withdrawn)} deemed withdrawn)",
            f"（视为撤销 {len(closed.revoked)} 份，视为撤回 {len(closed.withdrawn)} 份）",
        )
    click.echo(line)


@click.command("accept-backup")
@_SESSION
@click.argument("backup", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--submission", "sha256", metavar="SHA256", help="The bid, by its receipt's SHA-256.")
@click.option("--uscc", metavar="CODE", help="The bid, by its bidder's credit code (one current bid).")
@json_option
@handles_errors
def accept_backup_command(
    session: Path, backup: Path, sha256: str | None, uscc: str | None, as_json: bool
) -> None:
    """Take a bidder's backup copy (备用文件) within the window: proven against the bid, then opened."""
    if (sha256 is None) == (uscc is None):
        raise click.UsageError(
            pick("give one of --submission and --uscc", "请给出 --submission 或 --uscc 之一")
        )
    taken = accept_backup(_load(session), str(sha256 or uscc), backup)
    if as_json:
        print_json({"session": str(session), **taken.to_dict()})
        return
    if taken.status == "opened":
        click.echo(
            pick(
                f"bid {taken.submission} of {taken.bidder} opened from the backup into {taken.output}",
                f"{taken.bidder} 的投标文件 {taken.submission} 已以备用文件开启：{taken.output}",
            )
        )
    else:
        cause = "" if taken.cause is None else taken.cause.message()
        click.echo(
            pick(
                f"bid {taken.submission} of {taken.bidder}: the backup is its own, and failed: {cause}",
                f"{taken.bidder} 的投标文件 {taken.submission}：备用文件属实，但验证未通过：{cause}",
            )
        )


@click.command("window")
@_SESSION
@json_option
@handles_errors
def window_command(session: Path, as_json: bool) -> None:
    """The window's state and the time remaining, by this machine's clock."""
    opened = _load(session, read_only=True)
    try:
        _report(session, window_state(opened, dt.datetime.now(dt.UTC)), as_json)
    finally:
        opened.close_ledger()


#: The commands this module adds to ``bidcrypt opening``.
WINDOW_COMMANDS = (
    start_command,
    pause_command,
    resume_command,
    close_command,
    accept_backup_command,
    window_command,
)
