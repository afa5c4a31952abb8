"""The bulk-opening and re-encryption benchmarks run end to end at tiny sizes (real runs are by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT, SoftHsm, require_tool


@pytest.mark.slow
def test_bulk_open_tiny(tmp_path: Path, softhsm: SoftHsm) -> None:
    require_tool("openssl")
    report = tmp_path / "bulk.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bulk_open.py"), "--tiny", "--json", str(report)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    jobs = {row["job"] for row in data["rows"]}
    assert "openssl cms -decrypt loop (aes-256-cbc)" in jobs
    assert any(job.startswith("bidcrypt opening open, full checks, SoftHSM") for job in jobs)
    for row in data["rows"]:
        assert row["seconds"] > 0
        if row["job"].startswith("bidcrypt"):
            assert row["unwraps_per_bid"] == 1.0  # one token operation per bid
            assert row["peak_rss_mib"] < 256
    assert data["ratios"]


def test_reencrypt_tiny(tmp_path: Path) -> None:
    report = tmp_path / "reencrypt.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "reencrypt.py"),
            "--tiny",
            "--repeat",
            "2",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["content_bytes"]["large"] > data["content_bytes"]["small"]
    assert data["reencrypt_seconds"]["small"] > 0
    assert data["in_place_seconds"]["large"] > 0
