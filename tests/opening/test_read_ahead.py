"""The headers are read while the worker processes start, and the rest as their bids are given out.

Whether a bid's header was read ahead or read as its bid was given to a
worker changes nothing a user sees: the same outcomes, the same causes,
and a progress count that ends at its total.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, Progress, build_record, open_bids, render
from bidcrypt.opening.batch import _Batch
from bidcrypt.opening.pool import WorkerPool
from bidcrypt.opening.worker import work

from ..conftest import Pki
from . import hostile
from .conftest import make_package, new_session


def _session(pki: Pki, directory: Path, tmp_path: Path) -> OpeningSession:
    garbled = make_package(pki, tmp_path, "bidder-a", lot="1", name="garbled")
    hostile.garble_wrapped_key(garbled, pki.cert("authority/enc"))
    own_only = make_package(pki, tmp_path, "bidder-b", lot="2", name="own", authority=False)
    truncated = make_package(pki, tmp_path, "bidder-c", lot="3", name="truncated")
    honest = [make_package(pki, tmp_path, b, lot="4", name=f"h-{b}") for b in ("bidder-a", "bidder-b")]
    session = new_session(pki, directory, lots=("1", "2", "3", "4"))
    for package in (garbled, own_only, truncated, *honest):
        session.submit(package)
    stored = session.directory / "submissions" / "3.bid"
    stored.write_bytes(stored.read_bytes()[:200])  # the header itself is cut
    return session


@pytest.mark.parametrize("read_ahead", [True, False], ids=["all-read-ahead", "none-read-ahead"])
def test_outcomes_and_progress_do_not_depend_on_when_a_header_is_read(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_ahead: bool
) -> None:
    # True: every header is read before the first bid is given out (the workers start slowly);
    # False: none is (the workers were up at once), each is read as its bid is given out.
    monkeypatch.setattr(WorkerPool, "starting", property(lambda self: read_ahead))
    session = _session(pki, tmp_path / "s", tmp_path)
    steps: list[Progress] = []
    now = session.settings.opening_time + dt.timedelta(seconds=1)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=2, now=now, progress=steps.append)
    assert run.stopped is None
    assert sorted(run.opened) == [4, 5] and sorted(run.failed) == [1, 3] and run.skipped == [2]
    causes = {n: (row["status"], row["cause_code"]) for n, row in session.outcomes().items()}
    assert causes[1] == ("failed", "wrong-key") and causes[3][0] == "failed"
    assert 2 not in causes  # pending: the bidder's own key may open it
    assert run.unwraps == 3  # the garbled bid's and the honest ones': none for the others
    assert steps[-1].done == steps[-1].total == 4  # the bar ends full: the skipped bid is not counted
    assert sorted(p.name for p in (session.directory / "opened").iterdir()) == ["4", "5"]


def test_a_bids_stored_report_is_the_same_whatever_the_officials_locale(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report kept in the ledger is written in one language (English, as the ``cause`` column),
    not in the locale of the process that opened the bid; the record renders in the reader's."""
    monkeypatch.setenv("BIDCRYPT_LANG", "zh")
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-a", name="a"))
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        batch = _Batch(session, key, 1, None, dt.datetime.now(dt.UTC))
        batch.reconcile()
        batch.run_dir.mkdir()
        (row,) = session.pending()
        job = batch.prepare(row)
        assert job is not None
        result = work(job)  # in this process, whose locale is Chinese
        batch.record(result)
    assert result.status == "opened"
    report = json.loads(session.outcomes()[1]["report"])
    details = {check["check"]: check["detail"] for check in report["checks"]}
    assert (
        details["decryption"].startswith("decrypted with ") and "integrity verified" in details["decryption"]
    )
    assert details["files"].endswith("all as listed") and "个文件" not in details["files"]
    english = render(build_record(session, "en"), "table", "en")
    chinese = render(build_record(session, "zh"), "table", "zh")
    assert "status" in english and "解密状态" not in english and "解密状态" in chinese
