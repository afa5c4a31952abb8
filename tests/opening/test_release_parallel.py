"""Releases checked and opened outside the session lock, in parallel; ledger checks and writes under it."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bidcrypt.errors import ReleaseNoSubmissionError, WindowClosedError
from bidcrypt.opening import OpeningProcesses, OpeningSession, accept_release
from bidcrypt.opening.closing import close_window
from bidcrypt.opening.disk import reconcile_opened, staging_folder
from bidcrypt.opening.lock import SessionLock

from ..conftest import Pki
from ..release_support import in_window
from .test_kills import assert_ledger_and_folder_agree
from .test_release import BIDDERS, Template, number_of, refused, release_of, session, template

__all__ = ["session", "template"]  # the fixtures, shared with test_release


def _stages(session: OpeningSession) -> list[Path]:
    return sorted((session.directory / "opened").glob(".stage-*"))


def test_a_release_after_the_close_is_window_closed(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    """After the close the bid has its 视为撤销 outcome: the release is refused for the window."""
    body = release_of(pki, template, session, "bidder-a")
    close_window(session, clock=in_window(session, 100))
    row = refused(session, body, WindowClosedError, seconds=110)
    assert row["submission_id"] == number_of(session, "bidder-a")
    # still the window's refusal, for the moment: no replay, the same answer again
    refused(session, body, WindowClosedError, seconds=120)


def test_an_opened_bid_is_no_submission_inside_the_window(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    """Inside the window, a second release of a bid already opened is still ``release-no-submission``."""
    assert accept_release(session, release_of(pki, template, session, "bidder-a"), in_window(session, 60))
    again = release_of(pki, template, session, "bidder-a", 61)
    refused(session, again, ReleaseNoSubmissionError, seconds=70)


def test_the_bid_is_opened_before_the_lock_is_taken(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    """While another holds the session lock, the release is checked and its bid opened into a staging
    folder; once the lock is free, it is recorded and moved to ``opened/N``."""
    body = release_of(pki, template, session, "bidder-a")
    number = number_of(session, "bidder-a")
    results: list[object] = []
    with session.release_keys() as keys, SessionLock(session.directory):
        worker = threading.Thread(
            target=lambda: results.append(
                accept_release(session, body, in_window(session, 60), release_keys=keys, in_process=True)
            )
        )
        worker.start()
        staged = None
        for _ in range(600):  # the condition, not a deadline: the staged bid appears while we hold the lock
            found = [s / str(number) for s in _stages(session) if (s / str(number)).is_dir()]
            if found and any(found[0].iterdir()):
                staged = found[0]
                break
            time.sleep(0.1)
        assert staged is not None, "the bid was not opened outside the lock"
        assert not (session.directory / "opened" / str(number)).exists()
        assert session.ledger.query("SELECT * FROM releases") == []
        assert worker.is_alive()  # waiting for the lock
    worker.join(60)
    assert [getattr(r, "status", r) for r in results] == ["opened"]
    assert (session.directory / "opened" / str(number)).is_dir()
    assert _stages(session) == []


def test_releases_of_different_bids_from_several_threads(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    bodies = [release_of(pki, template, session, bidder) for bidder in BIDDERS]
    processes = OpeningProcesses(2)  # as the service keeps them: the bids open in worker processes
    try:
        with session.release_keys() as keys, ThreadPoolExecutor(len(bodies)) as pool:
            futures = [
                pool.submit(
                    accept_release,
                    session,
                    body,
                    in_window(session, 60 + i),
                    release_keys=keys,
                    processes=processes,
                )
                for i, body in enumerate(bodies)
            ]
            statuses = sorted(f.result(timeout=120).status for f in futures)
    finally:
        processes.close()
    assert statuses == ["opened"] * len(BIDDERS)
    session.close_ledger()
    assert_ledger_and_folder_agree(session.directory, expect_all_opened=True)
    db = sqlite3.connect(session.directory / "ledger.sqlite")
    try:
        verdicts = db.execute("SELECT verdict, count(*) FROM releases GROUP BY verdict").fetchall()
    finally:
        db.close()
    assert verdicts == [("accepted", len(BIDDERS))]


def test_reconcile_keeps_a_live_staging_folder_and_removes_a_dead_one(tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    opened.mkdir()
    dead = opened / ".stage-1-dead"
    (dead / "3").mkdir(parents=True)
    with staging_folder(opened) as live:
        assert not dead.exists()  # the first stager alive removes what dead ones left
        (live / "4").mkdir()
        (opened / ".stage-2-dead").mkdir()
        reconcile_opened(opened, [])
        assert (live / "4").is_dir() and (opened / ".stage-2-dead").is_dir()
    assert not live.exists()
    reconcile_opened(opened, [])
    assert list(opened.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="a staging process killed: needs fork")
def test_a_killed_stagers_folder_goes_at_the_next_reconcile(tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    opened.mkdir()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        with staging_folder(opened) as folder:
            (folder / "5").mkdir()
            os._exit(0)  # dies holding its folder: no cleanup
    os.waitpid(child, 0)
    assert [p.name.startswith(".stage-") for p in opened.iterdir()] == [True]
    reconcile_opened(opened, [])
    assert list(opened.iterdir()) == []
