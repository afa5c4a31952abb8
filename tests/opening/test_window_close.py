"""The close of a started window: 视为撤销 (the bidder's cause), 视为撤回 (not the bidder's), at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bidcrypt.errors import AttributionError, InputError, OpeningError, UnknownBidderError, WindowClosedError
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.closing import close_window
from bidcrypt.opening.window import pause_window, resume_window, start_window, window_state

from ..conftest import ROOT, Pki
from .window_helpers import Bids, code_of, make_bids, session_with_bids, window_clock


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Bids:
    return make_bids(pki, tmp_path_factory.mktemp("close-bids"))


def _ledger(session: OpeningSession, sql: str) -> list[tuple]:
    return [tuple(row.data.values()) for row in session.ledger.query(sql)]


def test_each_unopened_bid_is_deemed_revoked_or_withdrawn(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids)
    start_window(session, 1800, window_clock(session, 0))
    pause_window(session, "平台解密服务故障", "platform-outage", window_clock(session, 60))
    resume_window(session, window_clock(session, 360))
    closed = close_window(
        session,
        {code_of(pki, "bidder-b"): "平台解密服务故障（09:01-09:06）"},
        clock=window_clock(session, 2000),
    )
    assert (closed.revoked, closed.withdrawn, closed.count) == ((1, 3), (2,), 3)
    assert closed.closed_at == window_clock(session, 2000).moment  # before its end (1800 s + 300 s paused)
    outcomes = {n: row for n, row in session.outcomes().items()}
    assert {n: (r["status"], r["cause_code"]) for n, r in outcomes.items()} == {
        1: ("not-decrypted", "deemed-revoked"),
        2: ("not-decrypted", "deemed-withdrawn"),
        3: ("not-decrypted", "deemed-revoked"),
    }
    assert "视为撤回" in outcomes[2]["cause_zh"] and "平台解密服务故障" in outcomes[2]["cause_zh"]
    assert "视为撤销" in outcomes[1]["cause_zh"]
    assert _ledger(
        session, "SELECT submission_id, cause, reason_code, reason FROM attributions ORDER BY 1"
    ) == [
        (1, "bidder", "not-released", None),
        (2, "not-bidder", "platform-outage", "平台解密服务故障（09:01-09:06）"),
        (3, "bidder", "not-released", None),
    ]
    assert [k for (k,) in _ledger(session, "SELECT kind FROM window_events ORDER BY id")] == [
        "start",
        "pause",
        "resume",
        "close",
    ]
    assert window_state(session, window_clock(session, 2200).moment).closed_by == "official"
    with pytest.raises(WindowClosedError):
        close_window(session, clock=window_clock(session, 2300))


def test_an_expired_window_closes_at_its_end(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    start_window(session, 600, window_clock(session, 0))
    closed = close_window(session, clock=window_clock(session, 5000))
    assert closed.closed_at == window_clock(session, 600).moment and closed.revoked == (1,)
    assert session.settings.closed_at == window_clock(session, 600).moment


def test_a_wrong_naming_writes_nothing(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a", "bidder-b"))
    start_window(session, 600, window_clock(session, 0))
    with pytest.raises(AttributionError):  # bidder-c has no bid
        close_window(session, {code_of(pki, "bidder-c"): "outage"}, clock=window_clock(session, 700))
    with pytest.raises(UnknownBidderError):
        close_window(session, {"91350100M000100Y43": "outage"}, clock=window_clock(session, 700))
    with pytest.raises(InputError):
        close_window(session, {code_of(pki, "bidder-a"): "  "}, clock=window_clock(session, 700))
    assert session.outcomes() == {} and session.settings.closed_at is None
    assert _ledger(session, "SELECT * FROM attributions") == []


def test_a_local_close_is_as_before(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    with pytest.raises(OpeningError):
        close_window(session, {code_of(pki, "bidder-a"): "outage"})
    assert session.close_window() == 1
    outcome = session.outcomes()[1]
    assert (outcome["status"], outcome["cause_code"]) == ("not-decrypted", "not-decrypted")
    assert _ledger(session, "SELECT * FROM attributions") == []
    assert window_state(session).state == "closed" and window_state(session).closed_by == "local"


_KILLED_CLOSE = textwrap.dedent(
    """
    import os, signal, sys
    from bidcrypt.opening import OpeningSession
    from bidcrypt.opening.closing import close_window
    from bidcrypt.opening.ledger import Ledger

    def die(*args, **kwargs):  # inside the close's transaction, after the outcomes were written
        os.kill(os.getpid(), signal.SIGKILL)

    Ledger.set_meta = die
    close_window(OpeningSession.load(sys.argv[1]), {sys.argv[2]: "outage"})
    """
)


def test_a_kill_during_the_close_leaves_the_ledger_as_before(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids)
    start_window(session, 1800, window_clock(session, 0))
    # the child closes by the system clock: put the window's start before it
    with session.ledger.transaction() as db:
        db.execute("UPDATE window_events SET at = '2000-01-01T00:00:00.000000Z'")
        db.execute(
            "UPDATE meta SET value = '2000-01-01T00:00:00.000000Z' WHERE key IN ('deadline', 'opening_time')"
        )
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CLOSE, str(session.directory), code_of(pki, "bidder-b")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    again = OpeningSession.load(session.directory)
    assert again.outcomes() == {} and again.settings.closed_at is None
    assert _ledger(again, "SELECT * FROM attributions") == []
    assert [k for (k,) in _ledger(again, "SELECT kind FROM window_events")] == ["start"]
    closed = close_window(again, {code_of(pki, "bidder-b"): "outage"})
    assert closed.withdrawn == (2,) and closed.revoked == (1, 3)
