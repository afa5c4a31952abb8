"""The national-algorithms benchmark runs end to end at tiny sizes (the real run is by hand: bench/gm.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

pytestmark = pytest.mark.openssl


def test_bench_gm_tiny(tmp_path: Path) -> None:
    require_tool("openssl")
    report_path = tmp_path / "gm.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gm.py"), "--tiny", "--json", str(report_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "key operations per bid" in result.stdout
    report = json.loads(report_path.read_text())
    sm2 = report["sm2"]
    assert sm2["openssl_signs_per_second"] > 0 and sm2["bidcrypt_unwraps_per_second"] > 0
    assert sm2["unwraps_measured"] > 0
    sm4 = report["sm4_cbc"]
    assert sm4["limit_mb_s"] == min(
        sm4["openssl_speed_mb_s_times_workers"], sm4["cryptography_in_memory_mb_s_times_workers"]
    )
    large = sm4["large_envelope"]
    assert large["seconds"] > 0 and 0 < large["peak_rss_mib"] < large["rss_target_mib"]
    bulk = sm4["bulk"]
    assert bulk["key_operations"] == bulk["bids"] > 0
    assert bulk["key_operations_per_bid"] == 1  # exactly one SM2 unwrap per bid
