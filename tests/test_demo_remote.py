"""The demo's remote opening (scripts/demo_remote.py) runs end to end and leaves no process behind.

It runs on the session's SoftHSM2 tokens and small bid folders made here (the whole demo,
``scripts/demo.sh``, adds the local opening before it). Nothing here reads or asserts a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Pki, SoftHsm, require_tool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import demo_remote  # noqa: E402


def processes_naming(text: str) -> list[str]:
    """The command lines of the running processes that contain *text*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


@pytest.mark.slow
@pytest.mark.softhsm
def test_the_demo_runs_a_remote_opening(
    pki: Pki, softhsm: SoftHsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("faketime")
    bids: dict[str, tuple[Path, Path | None]] = {}
    for bidder in demo_remote.BIDDERS:
        folder = tmp_path / "bids" / bidder
        folder.mkdir(parents=True)
        (folder / "投标函.txt").write_text(f"{bidder} 投标函\n", encoding="utf-8")
        bids[bidder] = (folder, None)
    env = {
        **os.environ,
        "BIDCRYPT_PIN": pki.pin,
        "BIDCRYPT_PKCS11_MODULE": softhsm.module,
        "SOFTHSM2_CONF": str(softhsm.config),
        "BIDCRYPT_LANG": "en",
    }
    trust = ["--trust", str(pki.roots), "--trust", str(pki.intermediates)]
    trust += [
        "--trust",
        str(pki.root / "trust/sm2-roots.pem"),
        "--trust",
        str(pki.root / "trust/sm2-intermediates.pem"),
    ]

    session = demo_remote.remote_opening(tmp_path / "remote", env, bids, trust)

    printed = capsys.readouterr().out
    assert "/hall" in printed and "https://127.0.0.1:" in printed  # the hall page's URL, while it ran
    assert "exit 143" in printed  # SIGTERM: the service's graceful shutdown
    assert processes_naming(str(session)) == []  # neither the service nor faketime's wrapper is left
    log = (tmp_path / "remote" / "serve.log").read_text()
    assert "Traceback" not in log, log
    assert (tmp_path / "remote" / "remote-record.html").stat().st_size > 0

    report = subprocess.run(
        [sys.executable, "-m", "bidcrypt", "opening", "report", str(session), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(report.stdout)
    names = {pki.company(b)["credit_code"]: b for b in demo_remote.BIDDERS}
    rows = {names[r["credit_code"]]: r for r in record["rows"]}
    for bidder in ("bidder-a", "bidder-b"):
        assert rows[bidder]["status"] == "opened" and rows[bidder]["opened_by"] == "release"
    never = rows["bidder-c"]
    assert never["status"] == "not-decrypted" and never["attribution"] == "bidder"
    assert "deemed revoked" in never["cause"]
    assert all(r["signed_in_at"] for r in rows.values())
    window = record["window"]
    assert window["state"] == "closed" and window["closed_by"] == "official"
    assert [p["reason"] for p in window["pauses"]] == [demo_remote.OUTAGE]
    assert window["pauses"][0]["resumed_at"] is not None
    assert record["committee"] == {"quorum": 2, "released": 1, "members": 3}
    assert [d["proceeds"] for d in record["decisions"]] == [True]
