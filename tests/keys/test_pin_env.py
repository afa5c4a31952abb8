"""BIDCRYPT_PIN is taken out of the environment while a command runs: no child inherits it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder

from ..conftest import Pki, run_cli

CHILD = "import os; print(os.environ.get('BIDCRYPT_PIN', '-'), os.environ.get('OTHER_PIN', '-'))"


@pytest.fixture
def envelope(tmp_path: Path, pki: Pki) -> Path:
    builder = EnvelopeBuilder().add_recipient(load_certificate(pki.cert("bidder-a/enc")))
    (tmp_path / "plain").write_bytes(b"the bid")
    builder.encrypt_file(tmp_path / "plain", tmp_path / "bid.p7m")
    return tmp_path / "bid.p7m"


@pytest.mark.parametrize("variable", ["BIDCRYPT_PIN", "OTHER_PIN"])
def test_the_pin_variable_is_withheld_from_children(
    envelope: Path, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    cli_envelope = importlib.import_module("bidcrypt.cli.envelope")  # (the package's `envelope` is the group)
    seen: list[str] = []
    real_decrypt = cli_envelope.decrypt_file

    def decrypt_file(*args: Any, **kwargs: Any) -> Any:
        result = real_decrypt(*args, **kwargs)  # the PIN has been used by now
        seen.append(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True).stdout)
        seen.append(str(os.environ.get(variable)))
        return result

    monkeypatch.setattr(cli_envelope, "decrypt_file", decrypt_file)
    monkeypatch.setenv(variable, pki.pin)
    for attempt in ("first", "second"):  # the same process runs commands again: the PIN is back for them
        out = tmp_path / f"{attempt}.txt"
        args = ["envelope", "decrypt", envelope, "-o", out, "--key", pki.p12("bidder-a/enc")]
        result = run_cli(*args, *(["--pin-env", variable] if variable != "BIDCRYPT_PIN" else []))
        assert result.exit_code == 0, result.stderr
        assert out.read_bytes() == b"the bid"
        assert os.environ[variable] == pki.pin
    assert seen == ["- -\n", "None"] * 2


def test_without_the_variable_nothing_changes(envelope: Path, pki: Pki, tmp_path: Path) -> None:
    result = run_cli(
        "envelope", "decrypt", envelope, "-o", tmp_path / "out", "--key", pki.p12("bidder-a/enc")
    )
    assert result.exit_code == 16  # no PIN, no terminal
    assert "BIDCRYPT_PIN" in result.stderr
    assert "BIDCRYPT_PIN" not in os.environ
