"""The remote-opening benchmark runs end to end at tiny sizes (real runs are by hand: bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT


@pytest.mark.slow
def test_remote_open_tiny(tmp_path: Path) -> None:
    report = tmp_path / "remote.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remote_open.py"), "--tiny", "--json", str(report)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["bids"] == 6
    assert data["local_seconds"] > 0 and data["remote_seconds"] > 0
    assert 0 < data["remote_last_release_to_record_seconds"] <= data["remote_seconds"]
