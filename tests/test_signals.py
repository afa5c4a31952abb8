"""SIGTERM cleans up like Ctrl-C; after SIGKILL the next run removes what the dead process left.

The decryption runs in a real ``python -m bidcrypt`` process. A prelude
stops it after the first megabyte of plaintext is written (it prints
``paused`` and waits for a signal), so the signal always arrives mid-way,
with no timing involved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder

from .conftest import Pki, run_bidcrypt

PAUSE_AFTER_FIRST_WRITE = """
import os, runpy, signal, sys
import bidcrypt.files as files
real_write = files.OutputFile.write
def write(self, data):
    done = real_write(self, data)
    if self.temporary.exists() and os.fstat(self.fileno()).st_size >= 1 << 20:
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


def _paused_decrypt(envelope: Path, output: Path, pki: Pki) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSE_AFTER_FIRST_WRITE,
            "envelope",
            "decrypt",
            str(envelope),
            "-o",
            str(output),
            "--key",
            str(pki.p12("bidder-a/enc")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BIDCRYPT_PIN": pki.pin},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "paused\n"
    return process


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


def test_the_sigterm_handler_is_only_installed_while_a_command_runs() -> None:
    from bidcrypt.cli.common import sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
