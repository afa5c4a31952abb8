"""Hostile backups never crash the session, and a kill while one is taken leaves the ledger consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import BackupRefusedError
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.backup import accept_backup
from bidcrypt.opening.closing import close_window
from bidcrypt.opening.window import start_window

from ..conftest import ROOT, Pki
from .conftest import move_opening_time_back
from .window_helpers import Bids, code_of, make_bids, session_with_bids, window_clock


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Bids:
    return make_bids(pki, tmp_path_factory.mktemp("fault-bids"))


@pytest.fixture(scope="module")
def session(pki: Pki, tmp_path_factory: pytest.TempPathFactory, bids: Bids) -> OpeningSession:
    session = session_with_bids(pki, tmp_path_factory.mktemp("faults") / "s", bids, ("bidder-a",))
    start_window(session, 3600, window_clock(session, 0))
    return session


@settings(max_examples=25)
@given(data=st.data())
def test_a_damaged_backup_is_refused_or_is_the_bid(
    session: OpeningSession,
    bids: Bids,
    pki: Pki,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    original = bids.backups["bidder-a"].read_bytes()
    damaged = bytearray(original)
    if data.draw(st.booleans(), label="cut"):
        damaged = damaged[: data.draw(st.integers(0, len(original) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            where = data.draw(st.integers(0, len(original) - 1), label="offset")
            damaged[where] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    path = tmp_path_factory.mktemp("damaged") / "backup.tar"
    path.write_bytes(bytes(damaged))
    before = len(session.ledger.query("SELECT id FROM releases"))
    try:
        taken = accept_backup(session, code_of(pki, "bidder-a"), path, window_clock(session, 10))
    except BackupRefusedError:
        pass
    else:  # a flip in the tar's padding: still the bid, opened as it is
        assert taken.status == "opened"
        assert (session.directory / "opened" / "1" / "附件" / "说明.bin").read_bytes() == (
            bids.packages["bidder-a"].parent / "src-bidder-a-1-enc" / "附件" / "说明.bin"
        ).read_bytes()
    assert len(session.ledger.query("SELECT id FROM releases")) == before + 1
    assert not [p for p in (session.directory / "opened").iterdir() if p.name.startswith(".run-")]


_KILLED_BACKUP = textwrap.dedent(
    """
    import os, signal, sys
    from bidcrypt.opening import OpeningSession
    from bidcrypt.opening import backup

    def die(*args, **kwargs):  # inside the recording transaction, after opened/N was moved into place
        os.kill(os.getpid(), signal.SIGKILL)

    backup._release_row = die
    backup.accept_backup(OpeningSession.load(sys.argv[1]), sys.argv[2], sys.argv[3])
    """
)


def test_a_kill_while_a_backup_is_recorded(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a", "bidder-b"))
    move_opening_time_back(session)
    start_window(session, 3600)
    code = code_of(pki, "bidder-a")
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_BACKUP, str(session.directory), code, str(bids.backups["bidder-a"])],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    again = OpeningSession.load(session.directory)
    assert again.outcomes() == {} and again.ledger.query("SELECT * FROM releases") == []
    assert (again.directory / "opened" / "1").is_dir()  # killed after the move, before the commit
    # the folder moved into place before the kill is no bid's: the next change removes it
    assert accept_backup(again, code, bids.backups["bidder-a"]).status == "opened"
    assert again.outcomes()[1]["opened_by"] == "backup"
    assert close_window(again).revoked == (2,)
    assert sorted(p.name for p in (again.directory / "opened").iterdir()) == ["1"]
