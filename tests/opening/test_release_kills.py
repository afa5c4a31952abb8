"""`opening accept` killed at any moment: ledger and ``opened/`` agree, and the release can be sent again."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bidcrypt.opening import OpeningSession
from bidcrypt.opening.window import start_window
from bidcrypt.package import make_release

from ..conftest import Pki
from ..release_support import bidder_ukey, remote_session
from .conftest import make_package, move_opening_time_back
from .test_kills import _environment, assert_ledger_and_folder_agree, wait_for_no_processes


def _accept(session: Path, release: Path) -> list[str]:
    return [sys.executable, "-m", "bidcrypt", "opening", "accept", str(session), str(release), "--json"]


def _agree(session: Path) -> None:
    """Every accepted release has its bid's outcome (opened by release), and no refused one has."""
    db = sqlite3.connect(session / "ledger.sqlite")
    try:
        accepted = {n for (n,) in db.execute("SELECT submission_id FROM releases WHERE verdict = 'accepted'")}
        by_release = {
            n for (n,) in db.execute("SELECT submission_id FROM outcomes WHERE opened_by = 'release'")
        }
    finally:
        db.close()
    assert accepted == by_release


@pytest.fixture(scope="module")
def kill_template(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> tuple[Path, Path]:
    """A session whose window runs now (the command's clock), with a 2 MiB bid and its release."""
    directory = tmp_path_factory.mktemp("release-kills")
    package = make_package(pki, directory, "bidder-a", authority=False, size=2 << 20)
    session = remote_session(
        pki, directory / "session", ("bidder-a",), deadline=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    session.submit(package)
    move_opening_time_back(session)
    start_window(session, 3600)
    with bidder_ukey(pki, "bidder-a") as ukey:
        body = make_release(package, ukey, session.profile)
    session.close_ledger()
    release = directory / "a.release"
    release.write_bytes(body)
    return directory / "session", release


@pytest.mark.slow
def test_a_kill_at_random_moments_leaves_ledger_and_folder_agreeing(
    pki: Pki, tmp_path: Path, kill_template: tuple[Path, Path]
) -> None:
    template, release = kill_template
    rng = random.Random(20261130)
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    started = time.monotonic()
    done = subprocess.run(_accept(reference, release), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    span = time.monotonic() - started  # only to spread the kills over a run
    assert_ledger_and_folder_agree(reference, expect_all_opened=True)
    for round_number in range(3):
        session = tmp_path / f"s{round_number}"
        shutil.copytree(template, session)
        marker = uuid.uuid4().hex
        process = subprocess.Popen(
            _accept(session, release),
            env=_environment(pki, marker),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.0, span))
        process.kill()
        process.communicate(timeout=30)
        assert wait_for_no_processes(marker) == [], f"round {round_number}: processes left behind"
        assert_ledger_and_folder_agree(session, expect_all_opened=False)
        _agree(session)
        again = subprocess.run(_accept(session, release), capture_output=True, text=True, check=False)
        # the killed run either committed (the body is then a replay) or left nothing (accepted now)
        assert again.returncode in (0, 84), f"round {round_number}: {again.stderr}"
        assert wait_for_no_processes(marker) == []
        assert_ledger_and_folder_agree(session, expect_all_opened=True)
        _agree(session)
        assert OpeningSession.load(session).outcomes()[1]["opened_by"] == "release"
        shutil.rmtree(session)
