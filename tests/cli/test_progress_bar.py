"""Long single-file work shows a progress bar on a terminal, and nothing else anywhere else.

The commands run in a subprocess whose stderr is a pseudo-terminal (pty), as
a user's would be; the same commands with stderr a pipe, or with ``--json``,
must print exactly what they print without a bar.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import Pki

if sys.platform == "win32":  # pragma: no cover - no pseudo-terminals there
    pytest.skip("pseudo-terminals are POSIX", allow_module_level=True)
from ..package.conftest import make_folder

MIB = 1 << 20
#: What every bar draws, whatever its label: click's percentage.
DONE = "100%"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def _env(pki: Pki) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"BIDCRYPT_PIN": pki.pin, "LANG": "C.UTF-8", "COLUMNS": "100"})
    for name in ("BIDCRYPT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "BIDCRYPT_DEBUG"):
        env.pop(name, None)
    return env


def on_terminal(pki: Pki, *args: str | Path) -> Outcome:
    """Run bidcrypt with stderr on a pseudo-terminal (stdout a pipe); what each received."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bidcrypt", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(pki),
    )
    os.close(slave)
    received = bytearray()
    deadline = time.monotonic() + 300  # a hung command fails the test rather than the suite
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has gone
                break
            if not data:
                break
            received += data
        assert process.stdout is not None
        stdout = process.stdout.read()
        code = process.wait(timeout=60)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return Outcome(code, stdout.decode(), received.decode(errors="replace").replace("\r\n", "\n"))


def off_terminal(pki: Pki, *args: str | Path) -> Outcome:
    """Run bidcrypt with stdout and stderr pipes."""
    done = subprocess.run(
        [sys.executable, "-m", "bidcrypt", *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(pki),
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def _without_bar(outcome: Outcome, label: str) -> None:
    assert label not in outcome.stderr and "%" not in outcome.stderr, outcome.stderr


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "投标文件.bin"
    path.write_bytes(os.urandom(64) * (3 * MIB // 64) + b"tail")
    return path


def test_envelope_encrypt_and_decrypt_show_a_bar_on_a_terminal(pki: Pki, big: Path, tmp_path: Path) -> None:
    recipient = ("--recipient", str(pki.cert("authority/enc")), "--key-transport", "oaep")
    shown = on_terminal(pki, "envelope", "encrypt", big, "-o", tmp_path / "a.p7m", *recipient)
    assert shown.code == 0, shown
    assert "encrypting" in shown.stderr and DONE in shown.stderr
    assert shown.stdout.startswith(f"encrypted {big} -> ")

    key = ("--key", str(pki.p12("authority/enc")))
    opened = on_terminal(pki, "envelope", "decrypt", tmp_path / "a.p7m", "-o", tmp_path / "a.out", *key)
    assert opened.code == 0, opened
    assert "decrypting" in opened.stderr and DONE in opened.stderr
    assert (tmp_path / "a.out").read_bytes() == big.read_bytes()

    # The same commands off a terminal: the report as ever, and no bar.
    plain = off_terminal(pki, "envelope", "encrypt", big, "-o", tmp_path / "b.p7m", *recipient)
    assert plain.code == 0 and plain.stderr == ""
    assert plain.stdout == shown.stdout.replace(str(tmp_path / "a.p7m"), str(tmp_path / "b.p7m")).replace(
        _size(tmp_path / "a.p7m"), _size(tmp_path / "b.p7m")
    )
    plain = off_terminal(pki, "envelope", "decrypt", tmp_path / "b.p7m", "-o", tmp_path / "b.out", *key)
    assert plain.code == 0 and plain.stderr == ""
    assert "decrypted" in plain.stdout

    # With --json on a terminal: the JSON and no bar.
    quiet = on_terminal(
        pki, "envelope", "decrypt", tmp_path / "a.p7m", "-o", tmp_path / "c.out", *key, "--json"
    )
    assert quiet.code == 0
    _without_bar(quiet, "decrypting")
    assert json.loads(quiet.stdout)["plaintext_size"] == big.stat().st_size
    quiet = on_terminal(pki, "envelope", "encrypt", big, "-o", tmp_path / "c.p7m", *recipient, "--json")
    assert quiet.code == 0
    _without_bar(quiet, "encrypting")
    assert json.loads(quiet.stdout)["plaintext_size"] == big.stat().st_size


def _size(path: Path) -> str:
    return f"{path.stat().st_size} bytes"


def test_a_pipe_of_unknown_size_gets_no_bar(pki: Pki, tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "bidcrypt",
                "envelope",
                "encrypt",
                str(fifo),
                "-o",
                str(tmp_path / "p.p7m"),
            ),
            *("--recipient", str(pki.cert("authority/enc")), "--key-transport", "oaep"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(pki),
    )
    os.close(slave)
    try:
        with fifo.open("wb") as writer:
            writer.write(b"x" * (2 * MIB))
        assert process.wait(timeout=300) == 0
        received = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert b"encrypting" not in received and b"%" not in received


def test_pack_and_unpack_show_a_bar_on_a_terminal(
    pki: Pki, sealed_pdfs: dict[str, Path], tmp_path: Path
) -> None:
    folder, summary = make_folder(tmp_path, sealed_pdfs["bidder-a"])
    shutil.copy(tmp_path / "src" / "投标函.pdf", folder / "附件" / "copy.pdf")
    (folder / "附件" / "drawings.bin").write_bytes(os.urandom(2 * MIB))
    trust = ("--trust", str(pki.roots), "--trust", str(pki.intermediates))
    pack = [
        "pack", folder, "--tender", "HBGP-2026-001", "--key", str(pki.p12("bidder-a/sign")),
        "--encrypt-to", str(pki.cert("bidder-a/enc")), "--encrypt-to", str(pki.cert("authority/enc")),
        "--summary", summary, *trust,
    ]  # fmt: skip
    shown = on_terminal(pki, *pack, "-o", tmp_path / "a.bid")
    assert shown.code == 0, shown
    assert "packing" in shown.stderr and DONE in shown.stderr
    assert shown.stdout.startswith("packed ")
    plain = off_terminal(pki, *pack, "-o", tmp_path / "b.bid")
    assert plain.code == 0, plain
    # Only the warning that the PKCS#12 file holds no encryption key to test-open with.
    assert [line.split(":")[0] for line in plain.stderr.splitlines()] == ["warning"]
    _without_bar(plain, "packing")
    assert plain.stdout.splitlines()[1:3] == shown.stdout.splitlines()[1:3]

    unpack = ["unpack", tmp_path / "a.bid", "--key", str(pki.p12("bidder-a/enc")), *trust]
    opened = on_terminal(pki, *unpack, "-o", tmp_path / "a")
    assert opened.code == 0, opened
    assert "decrypting" in opened.stderr and DONE in opened.stderr
    assert (tmp_path / "a" / "附件" / "drawings.bin").stat().st_size == 2 * MIB
    plain = off_terminal(pki, *unpack, "-o", tmp_path / "b")
    assert plain.code == 0 and plain.stderr == "", plain
    assert plain.stdout.replace(str(tmp_path / "b"), "OUT") == opened.stdout.replace(
        str(tmp_path / "a"), "OUT"
    )
    quiet = on_terminal(pki, *unpack, "-o", tmp_path / "c", "--json")
    assert quiet.code == 0
    _without_bar(quiet, "decrypting")
    assert json.loads(quiet.stdout)["ok"] is True
