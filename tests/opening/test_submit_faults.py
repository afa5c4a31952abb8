"""Submissions and session changes under faults: FIFOs, devices, huge inputs, full disks, kills, races."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.errors import InputError, OutputError, PackageTooLargeError, SessionBusyError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, build_record, open_bids
from bidcrypt.opening.lock import SessionLock

from ..conftest import IN_CI, Pki, run_bidcrypt, run_cli
from .conftest import TENDER, make_package, new_session


def _parts(session: Path) -> list[str]:
    return [p.name for p in (session / "submissions").iterdir() if p.name.startswith(".")]


def test_a_fifo_is_refused_without_blocking(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    fifo = tmp_path / "bid.fifo"
    os.mkfifo(fifo)
    result = run_bidcrypt("opening", "submit", session.directory, fifo, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "not a regular file" in result.stderr and str(fifo) in result.stderr
    assert _parts(session.directory) == []


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(pki: Pki, tmp_path: Path, device: str) -> None:
    session = new_session(pki, tmp_path / "s")
    result = run_bidcrypt("opening", "submit", session.directory, device, timeout=60)
    assert result.returncode == 3 and "not a regular file" in result.stderr
    assert _parts(session.directory) == []


def test_a_directory_and_a_missing_file_are_refused(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    for path in (tmp_path, tmp_path / "missing.bid"):
        with pytest.raises(InputError):
            session.submit(path)
    assert _parts(session.directory) == []


def test_a_package_over_the_session_limit_is_refused_and_recorded(pki: Pki, tmp_path: Path) -> None:
    times = ("--deadline", "2099-01-01T09:30", "--opening-time", "2099-01-01T09:30")
    made = run_cli(
        "opening", "create", tmp_path / "s", "--tender", TENDER, "--lot", "1", *times,
        "--max-package-size", "64KiB", "--trust", pki.roots,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    session = OpeningSession.load(tmp_path / "s")
    for bidder in ("bidder-a", "bidder-b"):
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    big = make_package(pki, tmp_path, "bidder-a", size=256 << 10)
    with pytest.raises(PackageTooLargeError) as refused:
        session.submit(str(big))  # a str path is taken as well as a Path
    assert str(64 << 10) in refused.value.message()
    bad_size = run_cli(
        "opening",
        "create",
        tmp_path / "t",
        "--tender",
        "T",
        "--deadline",
        "2099-01-01T09:30",
        "--opening-time",
        "2099-01-01T09:30",
        "--max-package-size",
        "1.5GB",
        "--trust",
        pki.roots,
    )
    assert bad_size.exit_code == 2 and not (tmp_path / "t").exists()
    assert _parts(session.directory) == [] and session.submissions() == []
    assert [row["code"] for row in session.rejections()] == ["package-too-large"]
    small = make_package(pki, tmp_path, "bidder-b", size=8 << 10)
    assert session.submit(str(small)).submission == 1


def test_a_killed_submit_leaves_a_part_the_next_submit_removes(pki: Pki, tmp_path: Path) -> None:
    """A submit killed while it copies (here: blocked reading a slow pipe) leaves its `.part`; the next
    submission removes it, but never the `.part` of a submit that is still running."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from bidcrypt.opening import OpeningSession\n"
        "import bidcrypt.opening.incoming as incoming\n"
        "def slow(self, source):\n"
        "    import os; os.write(self._descriptor, b'partial')\n"
        "    print('copying', flush=True); time.sleep(60)\n"
        "incoming.Incoming._copy = slow\n"
        "OpeningSession.load(Path(sys.argv[1])).submit(Path(sys.argv[2]))\n"
    )
    copier = subprocess.Popen(
        [sys.executable, "-c", script, str(session.directory), str(package)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert copier.stdout is not None and copier.stdout.readline().strip() == "copying"
        assert len(_parts(session.directory)) == 1
        other = make_package(pki, tmp_path, "bidder-b")
        session.submit(other)  # a live copy is not touched
        assert len(_parts(session.directory)) == 1
        copier.send_signal(signal.SIGKILL)
        copier.wait()
        session.submit(make_package(pki, tmp_path, "bidder-c"))
        assert _parts(session.directory) == []
    finally:
        copier.kill()
        copier.wait()


@contextlib.contextmanager
def _small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of *size* mounted at *path* (root only): a disk that really fills up."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        if IN_CI and os.geteuid() == 0:
            pytest.fail(f"cannot mount a tmpfs as root: {mounted.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_session_disk_is_an_output_error(pki: Pki, tmp_path: Path) -> None:
    package = make_package(pki, tmp_path, "bidder-a", size=3 << 20)
    with _small_disk(tmp_path / "disk", "2m") as disk:
        session = new_session(pki, disk / "s")
        session.close_ledger()
        result = run_bidcrypt("opening", "submit", disk / "s", package)
        assert result.returncode == 5, result.stderr
        assert "Traceback" not in result.stderr
        assert _parts(disk / "s") == []
        with pytest.raises(OutputError):
            OpeningSession.load(disk / "s").submit(package)


def test_a_full_disk_during_the_opening_stops_cleanly(pki: Pki, tmp_path: Path) -> None:
    """ENOSPC on the session's own disk: the batch stops (exit 5), the bid stays pending, nothing is left."""
    packages = [make_package(pki, tmp_path, b, size=1 << 20) for b in ("bidder-a", "bidder-b")]
    with _small_disk(tmp_path / "disk", "3m") as disk:
        session = new_session(pki, disk / "s")
        for package in packages:
            session.submit(package)
        now = session.settings.opening_time + dt.timedelta(seconds=1)
        with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
            run = open_bids(session, key, workers=1, now=now)
        assert isinstance(run.stopped, OutputError)
        assert len(run.opened) < 2 and session.attempts()
        assert [p.name for p in (disk / "s" / "opened").iterdir() if not p.name.isdigit()] == []
        for number in run.opened:
            assert (disk / "s" / "opened" / str(number)).is_dir()


def test_close_waits_for_the_lock_and_never_races_an_opening(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`close` during `open` is refused (session busy) instead of recording bids under the opening's feet."""
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-a"))
    monkeypatch.setattr("bidcrypt.opening.session.CHANGE_WAIT", 0.0)  # no waiting out the lock here
    with SessionLock(session.directory):  # an opening runs
        result = run_cli("opening", "close", session.directory)
        assert result.exit_code == 62, result.stderr
        with pytest.raises(SessionBusyError):
            session.register_bidder("某公司", "91420100MA4KXB7Q09")
    assert session.settings.closed_at is None and session.outcomes() == {}
    assert session.close_window() == 1
    assert session.outcomes()[1]["status"] == "not-decrypted"


def test_a_session_is_shared_by_threads(pki: Pki, tmp_path: Path) -> None:
    """Tender software calls one session object from its worker threads."""
    session = new_session(pki, tmp_path / "s")
    packages = [make_package(pki, tmp_path, b) for b in ("bidder-a", "bidder-b", "bidder-c")]
    errors: list[BaseException] = []

    def submit(package: Path) -> None:
        try:
            session.submit(package)
            build_record(session)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(p,)) for p in packages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(session.submissions()) == 3


def test_the_lock_file_is_never_followed_or_truncated(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    lock = session.directory / SessionLock.FILE_NAME
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    result = run_bidcrypt("opening", "close", session.directory)
    assert result.returncode == 63 and "lock" in result.stderr
    assert victim.read_text() == "keep me"
    lock.unlink()
    lock.write_text("someone's notes")
    session.close_window()
    assert lock.read_text() == "someone's notes"


def test_ledger_rows_agree_after_close(pki: Pki, tmp_path: Path) -> None:
    """`close` removes what a killed opening left in opened/ before it records the bids."""
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-a"))
    (session.directory / "opened" / "1").mkdir()  # moved into place by a run killed before its commit
    (session.directory / "opened" / ".run-1-2").mkdir()
    session.close_window()
    assert list((session.directory / "opened").iterdir()) == []
    db = sqlite3.connect(session.directory / "ledger.sqlite")
    assert db.execute("SELECT status FROM outcomes").fetchall() == [("not-decrypted",)]
    db.close()
