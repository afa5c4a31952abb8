"""`bidcrypt opening start|pause|resume|close|accept-backup|window`: the window from the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import (
    WindowClosedError,
    WindowNotPausedError,
    WindowPausedError,
    WindowStartedError,
)

from ..conftest import Pki, run_bidcrypt, run_cli
from .conftest import move_opening_time_back
from .window_helpers import Bids, code_of, make_bids, session_with_bids


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Bids:
    return make_bids(pki, tmp_path_factory.mktemp("cli-bids"))


def _json(*args: object) -> dict:
    result = run_cli(*[str(a) for a in args], "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def test_the_window_from_start_to_close(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids)
    folder = session.directory
    assert _json("opening", "window", folder)["state"] == "not-started"
    assert run_cli("opening", "start", folder, "--window", "30m").exit_code != 0  # before the opening time
    move_opening_time_back(session)
    assert run_cli("opening", "start", folder, "--window", "thirty").exit_code == 2
    started = _json("opening", "start", folder, "--window", "30m")
    assert (started["state"], started["seconds"]) == ("running", 1800)
    again = run_cli("opening", "start", folder, "--window", "1h")
    assert again.exit_code == exit_code_for(WindowStartedError)
    paused = _json("opening", "pause", folder, "--reason", "平台故障：CA 服务不可用")
    assert paused["state"] == "paused" and paused["pauses"][0]["reason_code"] == "platform-outage"
    assert run_cli("opening", "pause", folder, "--reason", "x").exit_code == exit_code_for(WindowPausedError)
    text = run_cli("opening", "window", folder, env={"LANG": "zh_CN.UTF-8"})
    assert "已暂停" in text.stdout and "平台故障" in text.stdout
    assert _json("opening", "resume", folder)["state"] == "running"
    assert run_cli("opening", "resume", folder).exit_code == exit_code_for(WindowNotPausedError)
    # the backup, named by the credit code or the receipt's digest (one of them)
    assert run_cli("opening", "accept-backup", folder, bids.backups["bidder-a"]).exit_code == 2
    taken = _json(
        "opening", "accept-backup", folder, bids.backups["bidder-a"], "--uscc", code_of(pki, "bidder-a")
    )
    assert (taken["status"], taken["opened_by"], taken["submission"]) == ("opened", "backup", 1)
    refused = run_cli(
        "opening",
        "accept-backup",
        folder,
        bids.backups["bidder-a"],
        "--submission",
        session.submissions()[2]["sha256"],
    )
    assert refused.exit_code != 0 and "backup" in refused.stderr.lower() + refused.stdout.lower()
    # the close: bidder-b's bid not its fault, bidder-c's its own
    assert run_cli("opening", "close", folder, "--not-bidder", "no-equals-sign").exit_code == 2
    closed = _json(
        "opening", "close", folder, "--not-bidder", f"{code_of(pki, 'bidder-b')}=平台故障，无法解密"
    )
    assert (closed["deemed_withdrawn"], closed["deemed_revoked"], closed["not_decrypted"]) == ([2], [3], 2)
    assert run_cli("opening", "close", folder).exit_code == exit_code_for(WindowClosedError)
    record = _json("opening", "report", folder)
    assert record["window"]["state"] == "closed" and record["window"]["pauses"][0]["resumed_at"]
    assert [r["attribution"] for r in record["rows"]] == [None, "not-bidder", "bidder"]
    table = run_cli("opening", "report", folder, env={"LANG": "zh_CN.UTF-8"}).stdout
    assert "视为撤回" in table and "视为撤销" in table and "以备用文件开启" in table


def test_the_window_closes_by_itself(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    move_opening_time_back(session)
    assert _json("opening", "start", session.directory, "--window", "90s")["seconds"] == 90
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    state = run_bidcrypt("opening", "window", str(session.directory), "--json", clock_at=later)
    assert state.returncode == 0, state.stderr
    assert (json.loads(state.stdout)["state"], json.loads(state.stdout)["closed_by"]) == ("closed", "expired")
    late = run_bidcrypt(
        "opening",
        "accept-backup",
        str(session.directory),
        str(bids.backups["bidder-a"]),
        "--uscc",
        code_of(pki, "bidder-a"),
        clock_at=later,
    )
    assert late.returncode == exit_code_for(WindowClosedError), late.stderr
    rows = session.ledger.query("SELECT verdict, code FROM releases")
    assert [(r["verdict"], r["code"]) for r in rows] == [("refused", "window-closed")]
