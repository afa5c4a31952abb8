"""The envelope benchmark runs end to end at tiny sizes (the real run is by hand: see bench/envelope.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

pytestmark = pytest.mark.openssl


def test_bench_tiny(tmp_path: Path) -> None:
    require_tool("openssl")
    report_path = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "envelope.py"), "--tiny", "--json", str(report_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "speedup" in result.stdout
    report = json.loads(report_path.read_text())
    measured = {(r["workload"], r["operation"], r["tool"]) for r in report["runs"]}
    for workload in ("large file", "small files"):
        for operation in ("encrypt", "decrypt"):
            assert (workload, operation, "bidcrypt") in measured
            assert (workload, operation, "openssl") in measured
    assert all(r["seconds"] > 0 and r["peak_rss_mib"] > 0 for r in report["runs"])
    assert len(report["ratios"]) == 5
    small = next(r for r in report["runs"] if r["workload"] == "small files" and r["tool"] == "openssl")
    assert small["processes"] == report["sizes"]["small_files"]
