"""Faults during the opening: killed mid-batch, two openings at once, the token pulled, the disk full."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bidcrypt.errors import TokenAbsentError
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningSession, open_bids

from ..conftest import Pki, SoftHsm, run_bidcrypt
from .conftest import make_package, move_opening_time_back, new_session

LOTS = tuple(str(n) for n in range(1, 7))


@pytest.fixture(scope="module")
def many_packages(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> list[Path]:
    """18 packages of 1 MiB: three bidders, six lots."""
    directory = tmp_path_factory.mktemp("many")
    return [
        make_package(pki, directory, bidder, lot=lot, size=1 << 20)
        for lot in LOTS
        for bidder in ("bidder-a", "bidder-b", "bidder-c")
    ]


def _session_with(pki: Pki, directory: Path, packages: list[Path]) -> OpeningSession:
    now = dt.datetime.now(dt.UTC)
    session = new_session(
        pki,
        directory,
        lots=LOTS,
        deadline=now + dt.timedelta(seconds=30),
        opening=now + dt.timedelta(seconds=30),
    )
    for package in packages:
        session.submit(package)
    move_opening_time_back(session)
    return session


def _outcomes(session_dir: Path) -> dict[int, str]:
    db = sqlite3.connect(session_dir / "ledger.sqlite")
    try:
        return {int(n): s for n, s in db.execute("SELECT submission_id, status FROM outcomes")}
    finally:
        db.close()


def _whole(session_dir: Path, number: int) -> bool:
    """The opened files of bid *number* are all there with their manifest sizes and hashes."""
    report = json.loads(
        sqlite3.connect(session_dir / "ledger.sqlite")
        .execute("SELECT report FROM outcomes WHERE submission_id = ?", (number,))
        .fetchone()[0]
    )
    for entry in report["files"]:
        path = session_dir / "opened" / str(number) / entry["path"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            return False
    return True


def _open_command(pki: Pki, session_dir: Path) -> list[str]:
    """`bidcrypt opening open` with the authority's PKCS#12 key and one worker, as a process."""
    return [
        sys.executable,
        "-m",
        "bidcrypt",
        "opening",
        "open",
        str(session_dir),
        "--key",
        str(pki.p12("authority/enc")),
        "--workers",
        "1",
    ]


@pytest.mark.slow
def test_kill_and_resume(pki: Pki, tmp_path: Path, many_packages: list[Path]) -> None:
    session = _session_with(pki, tmp_path / "s", many_packages)
    env = dict(os.environ, BIDCRYPT_PIN=pki.pin)
    command = _open_command(pki, session.directory)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(_outcomes(session.directory)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the opening finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = _outcomes(session.directory)
    assert 3 <= len(partial) < len(many_packages)
    before = {n: (session.directory / "opened" / str(n)).stat().st_mtime_ns for n in partial}

    result = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    final = _outcomes(session.directory)
    assert set(final) == {int(r["id"]) for r in session.submissions()}  # every bid, exactly one outcome
    assert set(final.values()) == {"opened"}
    assert set(run["opened"]) == set(final) - set(partial)  # finished ones were not redone
    for number in partial:
        assert (session.directory / "opened" / str(number)).stat().st_mtime_ns == before[number]
    assert all(_whole(session.directory, n) for n in final)
    assert [p.name for p in (session.directory / "opened").iterdir() if p.name.startswith(".")] == []


def test_two_openings_at_once(pki: Pki, tmp_path: Path, many_packages: list[Path]) -> None:
    session = _session_with(pki, tmp_path / "s", many_packages[:2])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from bidcrypt.opening.lock import SessionLock\n"
            "with SessionLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)\n",
            str(session.directory),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = run_bidcrypt(
            "opening",
            "open",
            session.directory,
            "--key",
            pki.p12("authority/enc"),
            env={"BIDCRYPT_PIN": pki.pin},
        )
        assert second.returncode == 62
        assert "another bidcrypt process" in second.stderr
    finally:
        holder.kill()
        holder.wait()
    assert _outcomes(session.directory) == {}


class PulledToken(KeySource):
    """A UKey that is pulled out after *allowed* key unwraps."""

    def __init__(self, inner: KeySource, allowed: int) -> None:
        self.description = inner.description
        self.allowed = allowed
        self._entries = inner.entries()
        for entry in self._entries:
            entry.rsa_decrypt = self._guard(entry.rsa_decrypt)  # type: ignore[method-assign]

    def _guard(self, operation):  # type: ignore[no-untyped-def]
        def guarded(*args, **kwargs):  # type: ignore[no-untyped-def]
            if self.allowed <= 0:
                raise TokenAbsentError(token=self.description, available="-")
            self.allowed -= 1
            return operation(*args, **kwargs)

        return guarded

    def entries(self):  # type: ignore[no-untyped-def]
        return list(self._entries)


def test_token_pulled_mid_batch_stops_cleanly_and_resumes(
    pki: Pki, softhsm: SoftHsm, tmp_path: Path, many_packages: list[Path]
) -> None:
    session = _session_with(pki, tmp_path / "s", many_packages[:6])
    with open_key_source(softhsm.uri("authority"), PinSource.of_value(pki.pin)) as ukey:
        run = open_bids(session, PulledToken(ukey, allowed=3), workers=1)
    assert isinstance(run.stopped, TokenAbsentError)
    assert len(run.opened) == 3
    pending = session.pending()
    assert len(pending) == 3
    attempts = session.attempts()
    assert attempts[int(pending[0]["id"])]["cause_code"] == "token-absent"  # recorded as that bid's cause
    with open_key_source(softhsm.uri("authority"), PinSource.of_value(pki.pin)) as ukey:
        again = open_bids(session, ukey, workers=2)
    assert again.stopped is None and len(again.opened) == 3
    assert len(session.outcomes()) == 6


def test_full_disk_stops_cleanly_and_resumes(pki: Pki, tmp_path: Path, many_packages: list[Path]) -> None:
    """Files larger than the process may write (RLIMIT_FSIZE) stand in for a full disk."""
    session = _session_with(pki, tmp_path / "s", many_packages[:3])
    env = dict(os.environ, BIDCRYPT_PIN=pki.pin)
    command = _open_command(pki, session.directory)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, 512 * 1024))

    full = subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, preexec_fn=small_files
    )
    assert full.returncode == 5, full.stderr
    assert "Traceback" not in full.stderr
    assert _outcomes(session.directory) == {}
    assert session.attempts()  # the cause is recorded against the bid
    assert [p.name for p in (session.directory / "opened").iterdir()] == []
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    outcomes = _outcomes(session.directory)
    assert set(outcomes.values()) == {"opened"}
    assert all(_whole(session.directory, n) for n in outcomes)


def test_a_package_that_trips_a_library_fails_alone(
    pki: Pki, tmp_path: Path, many_packages: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no check foresaw is that bid's failure with its cause, not a stop of the batch."""
    import importlib

    from bidcrypt.envelope import unwrap_content_key
    from bidcrypt.package import read_package_info

    worker = importlib.import_module("bidcrypt.opening.worker")
    package = many_packages[0]
    info = read_package_info(package)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        content_key = unwrap_content_key(info.header, key)

    def trips(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(worker, "open_content", trips)
    job = worker.Job(
        7, str(package), worker.file_sha256(package), info.header, content_key, info.attributes,
        str(tmp_path / "7"), ((str(pki.roots),), ()), None,
    )  # fmt: skip
    result = worker.work(job)
    assert result.status == "failed" and result.error is not None
    assert "RecursionError" in result.error.message("en")
