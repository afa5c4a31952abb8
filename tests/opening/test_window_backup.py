"""The backup copy (备用文件) within the window: proven against the stored bid and opened, or refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bidcrypt.errors import BackupRefusedError, WindowClosedError, WindowNotOpenError, WindowPausedError
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.backup import accept_backup
from bidcrypt.opening.closing import close_window
from bidcrypt.opening.ledger import parse_time
from bidcrypt.opening.window import pause_window, start_window

from ..conftest import Pki
from .window_helpers import Bids, code_of, make_bids, session_with_bids, window_clock


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Bids:
    return make_bids(pki, tmp_path_factory.mktemp("backup-bids"))


@pytest.fixture
def session(pki: Pki, tmp_path: Path, bids: Bids) -> OpeningSession:
    session = session_with_bids(pki, tmp_path / "s", bids)
    start_window(session, 1800, window_clock(session, 0))
    return session


def _releases(session: OpeningSession) -> list[tuple]:
    rows = session.ledger.query("SELECT kind, submission_id, verdict, code, body FROM releases ORDER BY id")
    return [(r["kind"], r["submission_id"], r["verdict"], r["code"], r["body"]) for r in rows]


def test_a_proven_backup_opens_the_bid(session: OpeningSession, bids: Bids, pki: Pki) -> None:
    taken = accept_backup(
        session, code_of(pki, "bidder-a"), bids.backups["bidder-a"], window_clock(session, 100)
    )
    assert (taken.submission, taken.status, taken.output) == (1, "opened", "opened/1")
    outcome = session.outcomes()[1]
    assert (outcome["status"], outcome["opened_by"]) == ("opened", "backup")
    assert parse_time(outcome["released_at"]) == window_clock(session, 100).moment
    assert (session.directory / "opened" / "1" / "附件" / "说明.bin").is_file()
    assert not [p for p in (session.directory / "opened").iterdir() if p.name.startswith(".run-")]
    assert _releases(session) == [("backup", 1, "accepted", None, None)]
    # by the receipt's digest too; a second backup for an opened bid is refused and recorded
    sha = session.submissions()[1]["sha256"]
    accept_backup(session, sha, bids.backups["bidder-b"], window_clock(session, 110))
    with pytest.raises(BackupRefusedError):
        accept_backup(session, sha, bids.backups["bidder-b"], window_clock(session, 120))
    assert [r[2] for r in _releases(session)] == ["accepted", "accepted", "refused"]
    closed = close_window(session, clock=window_clock(session, 1900))
    assert closed.revoked == (3,)


def test_another_bids_backup_is_refused(session: OpeningSession, bids: Bids, pki: Pki) -> None:
    with pytest.raises(BackupRefusedError) as caught:
        accept_backup(session, code_of(pki, "bidder-a"), bids.backups["bidder-b"], window_clock(session, 100))
    assert "签名清单" in caught.value.message("zh")
    assert session.outcomes() == {}
    assert _releases(session) == [("backup", 1, "refused", "backup-refused", None)]
    assert not [p for p in (session.directory / "opened").iterdir()]


def test_a_tampered_backup_is_refused(session: OpeningSession, bids: Bids, pki: Pki, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.tar"
    data = bytearray(bids.backups["bidder-c"].read_bytes())
    marker = data.find(b"bidder-c-1-enc:")
    assert marker > 0
    data[marker] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(BackupRefusedError):
        accept_backup(session, code_of(pki, "bidder-c"), tampered, window_clock(session, 100))
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(BackupRefusedError):
        accept_backup(session, code_of(pki, "bidder-c"), garbage, window_clock(session, 101))
    assert session.outcomes() == {}
    assert [r[2:4] for r in _releases(session)] == [("refused", "backup-refused")] * 2
    # the real one still opens the bid
    assert (
        accept_backup(
            session, code_of(pki, "bidder-c"), bids.backups["bidder-c"], window_clock(session, 102)
        ).status
        == "opened"
    )


def test_outside_the_running_window_is_refused(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    code, backup = code_of(pki, "bidder-a"), bids.backups["bidder-a"]
    with pytest.raises(WindowNotOpenError):
        accept_backup(session, code, backup, window_clock(session, 0))
    start_window(session, 600, window_clock(session, 10))
    pause_window(session, "outage", "platform-outage", window_clock(session, 20))
    with pytest.raises(WindowPausedError):
        accept_backup(session, code, backup, window_clock(session, 30))
    copy = tmp_path / "copy.tar"
    shutil.copy(backup, copy)
    with pytest.raises(BackupRefusedError):  # no such bid
        accept_backup(session, code_of(pki, "bidder-b"), copy, window_clock(session, 40))
    assert [r[2:4] for r in _releases(session)] == [
        ("refused", "window-not-open"),
        ("refused", "window-paused"),
        ("refused", "backup-refused"),
    ]
    assert session.outcomes() == {}


def test_after_the_window_is_refused(session: OpeningSession, bids: Bids, pki: Pki) -> None:
    with pytest.raises(WindowClosedError):
        accept_backup(
            session, code_of(pki, "bidder-a"), bids.backups["bidder-a"], window_clock(session, 1800)
        )
    assert _releases(session) == [("backup", 1, "refused", "window-closed", None)]
