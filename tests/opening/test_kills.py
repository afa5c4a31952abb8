"""An opening killed at any moment: no process is left behind, and the next run finishes the work.

`opening open` runs as a real process tree (the command, its worker
processes, multiprocessing's resource tracker). Every process of the tree
carries a marker in its environment, so the tests can find any that
outlive the command.
"""

from __future__ import annotations

import os
import pty
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..conftest import Pki
from .conftest import make_package, move_opening_time_back, new_session

MARK = "BIDCRYPT_TEST_PROCESS_MARK"
LOTS = ("1", "2")


def marked_processes(marker: str) -> list[int]:
    """The pids of live processes whose environment carries *marker*."""
    needle = f"{MARK}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environment.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for_no_processes(marker: str, limit: float = 20.0) -> list[int]:
    """Wait until no marked process is alive (at most *limit* seconds); return those still alive."""
    give_up = time.monotonic() + limit
    while (alive := marked_processes(marker)) and time.monotonic() < give_up:
        time.sleep(0.05)
    return alive


def _template(pki: Pki, directory: Path, size: int, bidders: tuple[str, ...]) -> Path:
    """A session with a bid of *size* bytes per bidder and lot, whose opening time has come."""
    packages = [make_package(pki, directory, b, lot=lot, size=size) for lot in LOTS for b in bidders]
    session = new_session(pki, directory / "template", lots=LOTS)
    for package in packages:
        session.submit(package)
    move_opening_time_back(session)
    session.close_ledger()
    return session.directory


def _command(pki: Pki, session: Path, workers: int = 2) -> list[str]:
    key = str(pki.p12("authority/enc"))
    return [sys.executable, "-m", "bidcrypt", "opening", "open", str(session), "--key", key,
            "--workers", str(workers)]  # fmt: skip


def _environment(pki: Pki, marker: str) -> dict[str, str]:
    return dict(os.environ, BIDCRYPT_PIN=pki.pin, **{MARK: marker})


def assert_ledger_and_folder_agree(session: Path, expect_all_opened: bool) -> None:
    """After a finished run, ``opened/N`` exists exactly for the bids the ledger calls opened.

    After a kill, every bid the ledger calls opened has its folder; what the
    killed run left besides (its run folder, a folder moved into place just
    before its commit) is the next run's to remove.
    """
    db = sqlite3.connect(session / "ledger.sqlite")
    try:
        outcomes = dict(db.execute("SELECT submission_id, status FROM outcomes").fetchall())
        current = {n for (n,) in db.execute("SELECT id FROM submissions WHERE state = 'current'")}
    finally:
        db.close()
    on_disk = {p.name for p in (session / "opened").iterdir()}
    opened = {str(n) for n, status in outcomes.items() if status == "opened"}
    if expect_all_opened:
        assert on_disk == opened
        assert set(outcomes) == current and set(outcomes.values()) == {"opened"}
    else:
        assert opened <= on_disk
    assert not list((session / "submissions").glob(".incoming*"))


@pytest.fixture(scope="module")
def kill_template(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """Four bids of 256 KiB: two bidders, two lots."""
    return _template(pki, tmp_path_factory.mktemp("kills"), 256 << 10, ("bidder-a", "bidder-c"))


@pytest.mark.slow
def test_kill_9_at_30_random_moments(pki: Pki, tmp_path: Path, kill_template: Path) -> None:
    """Each kill leaves no process and no pipe held; the next run finishes; ledger and disk agree."""
    rng = random.Random(20261130)
    reference = tmp_path / "reference"
    shutil.copytree(kill_template, reference)
    started = time.monotonic()
    subprocess.run(
        _command(pki, reference), env=_environment(pki, "reference"), check=True, capture_output=True
    )
    span = time.monotonic() - started  # only to spread the kills over a run; nothing is asserted on it
    assert_ledger_and_folder_agree(reference, expect_all_opened=True)

    for round_number in range(30):
        session = tmp_path / f"s{round_number}"
        shutil.copytree(kill_template, session)
        marker = uuid.uuid4().hex
        process = subprocess.Popen(
            _command(pki, session),
            env=_environment(pki, marker),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.0, span))
        process.kill()
        # a pipe held by a surviving worker would keep this from ever seeing the end of the output
        process.communicate(timeout=30)
        assert wait_for_no_processes(marker) == [], f"round {round_number}: processes left behind"
        assert_ledger_and_folder_agree(session, expect_all_opened=False)

        finish = subprocess.run(
            _command(pki, session, workers=1),
            env=_environment(pki, marker),
            capture_output=True,
            text=True,
            check=False,
        )
        assert finish.returncode == 0, f"round {round_number}: {finish.stderr}"
        assert wait_for_no_processes(marker) == []
        assert_ledger_and_folder_agree(session, expect_all_opened=True)
        shutil.rmtree(session)


def _wait_for_outcomes(session: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the ledger holds *count* outcomes (an event of the run, not a time)."""
    give_up = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < give_up:
        db = sqlite3.connect(session / "ledger.sqlite")
        try:
            done = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        finally:
            db.close()
        if done >= count:
            return
        time.sleep(0.02)


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """Six bids of 8 MiB, so that a run is still busy when it is stopped."""
    return _template(pki, tmp_path_factory.mktemp("big"), 8 << 20, ("bidder-a", "bidder-b", "bidder-c"))


def _assert_stopped_cleanly(pki: Pki, session: Path, marker: str) -> None:
    """After a polite stop: no process, no run folder, ledger and disk agree; a new run finishes."""
    assert wait_for_no_processes(marker) == []
    assert not [p for p in (session / "opened").iterdir() if p.name.startswith(".")]  # no run folder
    assert_ledger_and_folder_agree(session, expect_all_opened=False)
    finish = subprocess.run(
        _command(pki, session), env=_environment(pki, marker), capture_output=True, check=False
    )
    assert finish.returncode == 0
    assert_ledger_and_folder_agree(session, expect_all_opened=True)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_during_open_leave_nothing(
    pki: Pki, tmp_path: Path, big_template: Path, stop: signal.Signals
) -> None:
    """A polite stop: exit 130 (Ctrl-C) or 143 (SIGTERM), no plaintext, no process; a new run finishes."""
    session = tmp_path / "s"
    shutil.copytree(big_template, session)
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        _command(pki, session, workers=1), env=_environment(pki, marker), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    _wait_for_outcomes(session, 1, process)
    assert process.poll() is None, "the run ended before it could be stopped"
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (143 if stop == signal.SIGTERM else 130), stderr
    assert b"Traceback" not in stderr
    _assert_stopped_cleanly(pki, session, marker)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups, terminals and SIGHUP are POSIX")
@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGHUP, 129), (signal.SIGTERM, 143)], ids=["terminal-closed", "group-sigterm"]
)
def test_a_signal_to_the_whole_group_during_open_leaves_nothing(
    pki: Pki, tmp_path: Path, big_template: Path, stop: signal.Signals, code: int
) -> None:
    """The opening runs on a terminal, its progress bar drawn there, and the signal goes to the whole
    process group: the command, its workers, the fork server, the resource tracker.

    SIGHUP is a closed terminal: the shell passes it to the group, and every
    write to the terminal fails from then on. SIGTERM to the group is what a
    service manager sends. Either way: the exit code, no plaintext, no
    process; a new run finishes.
    """
    session = tmp_path / "s"
    shutil.copytree(big_template, session)
    marker = uuid.uuid4().hex
    master, slave = pty.openpty()
    process = subprocess.Popen(
        _command(pki, session, workers=1), env=_environment(pki, marker), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=slave, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    try:
        _wait_for_outcomes(session, 1, process)
        assert process.poll() is None, "the run ended before it could be stopped"
        assert b"%" in os.read(master, 65536)  # the bar is on the terminal
        if stop == signal.SIGHUP:
            os.close(master)  # the terminal is gone
            master = -1
        os.killpg(process.pid, stop)
        process.communicate(timeout=60)
    finally:
        if master != -1:
            os.close(master)
    assert process.returncode == code
    _assert_stopped_cleanly(pki, session, marker)
