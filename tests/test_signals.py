"""SIGTERM and a closed terminal (SIGHUP) clean up like Ctrl-C; after SIGKILL the next run removes
what the dead process left.

The decryption runs in a real ``python -m bidcrypt`` process. A prelude
stops it after the first megabyte of plaintext and one more chunk are written (it prints
``paused`` and waits for a signal), so the signal always arrives mid-way,
with no timing involved.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder

from .conftest import Pki, run_bidcrypt

PAUSE_AFTER_FIRST_WRITE = """
import os, runpy, signal, sys
import bidcrypt.files as files
real_write = files.OutputFile.write
writes_past_1_mib = 0
def write(self, data):
    global writes_past_1_mib
    done = real_write(self, data)
    if self.temporary.exists() and os.fstat(self.fileno()).st_size >= 1 << 20:
        writes_past_1_mib += 1
        if writes_past_1_mib == 2:  # the progress was told of the first (the bar drawn, on a terminal)
            print("paused", flush=True)
            signal.pause()
    return done
files.OutputFile.write = write
sys.argv = ["bidcrypt", *sys.argv[1:]]
runpy.run_module("bidcrypt", run_name="__main__")
"""


@pytest.fixture(scope="module")
def envelope(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """A 24 MiB envelope to bidder-a's encryption certificate."""
    directory = tmp_path_factory.mktemp("signals")
    source = directory / "bid.tar"
    source.write_bytes(os.urandom(1 << 20) * 24)
    builder = EnvelopeBuilder().set_chunk_size(1 << 16)
    builder = builder.add_recipient(load_certificate(pki.cert("bidder-a/enc")))
    builder.encrypt_file(source, directory / "bid.p7m")
    return directory / "bid.p7m"


def _decrypt_command(envelope: Path, output: Path, pki: Pki) -> list[str]:
    return [sys.executable, "-c", PAUSE_AFTER_FIRST_WRITE, "envelope", "decrypt", str(envelope),
            "-o", str(output), "--key", str(pki.p12("bidder-a/enc"))]  # fmt: skip


def _paused_decrypt(envelope: Path, output: Path, pki: Pki) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        _decrypt_command(envelope, output, pki),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BIDCRYPT_PIN": pki.pin},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "paused\n"
    return process


def _take_the_terminal() -> None:  # in the child: the pty on its standard streams is its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.skipif(sys.platform == "win32", reason="terminals and SIGHUP are POSIX")
def test_a_terminal_closed_during_decrypt_leaves_nothing_and_exits_129(
    envelope: Path, pki: Pki, tmp_path: Path
) -> None:
    """The command runs on a terminal (its progress bar drawn there), which is closed midway: the kernel
    sends SIGHUP, and every write to the terminal fails from then on. Still a clean stop."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        _decrypt_command(envelope, tmp_path / "bid.tar", pki),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "BIDCRYPT_PIN": pki.pin},
        start_new_session=True,
        preexec_fn=_take_the_terminal,  # a test's child: no threads to deadlock on
    )
    os.close(slave)
    seen = b""
    try:
        while b"paused" not in seen:
            chunk = os.read(master, 4096)
            assert chunk, "the command ended before it paused"
            seen += chunk
        assert b"%" in seen  # the progress bar was drawn on the terminal
        assert len(_left(tmp_path)) == 1  # the plaintext, still a .part
    finally:
        os.close(master)  # the terminal goes away
    assert process.wait(timeout=120) == 129
    assert _left(tmp_path) == []


def _left(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_sigterm_during_decrypt_leaves_nothing_and_exits_143(
    envelope: Path, pki: Pki, tmp_path: Path
) -> None:
    process = _paused_decrypt(envelope, tmp_path / "bid.tar", pki)
    assert len(_left(tmp_path)) == 1  # the plaintext, still a .part
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143
    assert stderr.strip() == "terminated"
    assert _left(tmp_path) == []


def test_ctrl_c_during_decrypt_leaves_nothing_and_exits_130(envelope: Path, pki: Pki, tmp_path: Path) -> None:
    process = _paused_decrypt(envelope, tmp_path / "bid.tar", pki)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip() == "interrupted"
    assert _left(tmp_path) == []


def test_after_sigkill_the_next_run_removes_the_stale_plaintext(
    envelope: Path, pki: Pki, tmp_path: Path
) -> None:
    process = _paused_decrypt(envelope, tmp_path / "bid.tar", pki)
    process.kill()
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    (stale,) = _left(tmp_path)
    assert stale.startswith(".bid.tar.bidcrypt-") and stale.endswith(".part")
    result = run_bidcrypt(
        "envelope",
        "decrypt",
        envelope,
        "-o",
        tmp_path / "bid-again.tar",
        "--key",
        pki.p12("bidder-a/enc"),
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert result.returncode == 0, result.stderr
    assert _left(tmp_path) == ["bid-again.tar"]
    assert (tmp_path / "bid-again.tar").stat().st_size == 24 << 20


def test_the_stop_handlers_are_only_installed_while_a_command_runs() -> None:
    from bidcrypt.cli.common import stop_signals_as_interrupt

    stops = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    before = {number: signal.getsignal(number) for number in stops}
    with stop_signals_as_interrupt():
        assert all(signal.getsignal(number) is not before[number] for number in stops)
    assert {number: signal.getsignal(number) for number in stops} == before
