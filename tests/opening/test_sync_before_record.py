"""An opened bid is recorded only once its files are on the disk, though the workers no longer sync.

The batch's process syncs each opened bid's files (threads beside the
workers); the ledger says "opened" only after that sync returned, and a
sync that fails stops the batch with the bid still pending.
"""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
from pathlib import Path

import pytest

from bidcrypt.errors import OutputError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, open_bids
from bidcrypt.opening import worker as worker_module

from ..conftest import Pki
from .conftest import make_package, new_session


def _later(session: OpeningSession) -> dt.datetime:
    return session.settings.opening_time + dt.timedelta(seconds=1)


def _outcomes(directory: Path) -> dict[int, str]:
    with sqlite3.connect(directory / "ledger.sqlite") as db:
        return dict(db.execute("SELECT submission_id, status FROM outcomes").fetchall())


def test_the_ledger_says_opened_only_after_the_files_were_synced(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = new_session(pki, tmp_path / "s")
    for bidder in ("bidder-a", "bidder-b", "bidder-c"):
        session.submit(make_package(pki, tmp_path, bidder))
    synced: list[tuple[int, dict[int, str], list[str]]] = []
    real = worker_module.sync_tree

    def watched(root: Path) -> None:
        number = int(root.name)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        synced.append((number, _outcomes(session.directory), files))
        real(root)

    monkeypatch.setattr(worker_module, "sync_tree", watched)  # the batch's threads call it here
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=2, now=_later(session))
    assert sorted(run.opened) == [1, 2, 3] and run.stopped is None
    assert sorted(number for number, _, _ in synced) == [1, 2, 3]  # each synced once, by this process
    for number, outcomes_then, files in synced:
        assert number not in outcomes_then  # not yet recorded when its sync began
        assert files  # the files the worker wrote were all there
    assert _outcomes(session.directory) == {1: "opened", 2: "opened", 3: "opened"}
    assert "sync" in run.phases


def test_a_sync_that_fails_stops_the_batch_and_the_bid_stays_pending(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-a"))

    def failing(root: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(worker_module, "sync_tree", failing)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=1, now=_later(session))
    assert isinstance(run.stopped, OutputError) and run.opened == []
    assert _outcomes(session.directory) == {}
    assert session.attempts()  # the cause is recorded against the bid
    assert [p.name for p in (session.directory / "opened").iterdir()] == []
