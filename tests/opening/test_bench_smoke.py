"""The bulk-opening and re-encryption benchmarks run end to end at tiny sizes (real runs are by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.skf import softskf as softskf_api

from ..conftest import IN_CI, ROOT, SoftHsm, require_tool


@pytest.mark.slow
def test_bulk_open_tiny(tmp_path: Path, softhsm: SoftHsm) -> None:
    require_tool("openssl")
    report = tmp_path / "bulk.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bulk_open.py"),
            "--tiny",
            "--rounds",
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
    jobs = {row["job"] for row in data["rows"]}
    assert "openssl cms -decrypt loop (aes-256-cbc)" in jobs
    assert any(job.startswith("bidcrypt opening open, full checks, SoftHSM") for job in jobs)
    for row in data["rows"]:
        assert row["seconds"] > 0
        if row["job"].startswith("bidcrypt"):
            assert row["unwraps_per_bid"] == 1.0  # one token operation per bid
            assert row["peak_rss_mib"] < 256
    assert data["ratios"]
    loops = {row["set"]: row["rounds_seconds"] for row in data["rows"] if row["job"].startswith("openssl")}
    for item in data["ratios"]:  # the full openings: two rounds, alternated with the loop's, paired
        if item["job"].startswith("bidcrypt opening open") and "SKF" not in item["job"]:
            row = next(r for r in data["rows"] if r["set"] == item["set"] and r["job"] == item["job"])
            assert len(row["rounds_seconds"]) == 2 and row["seconds"] in row["rounds_seconds"]
            paired = [
                theirs / ours for theirs, ours in zip(loops[item["set"]], row["rounds_seconds"], strict=True)
            ]
            assert item["speedup_per_round"] == pytest.approx(paired)
            assert item["speedup_vs_openssl_loop"] == pytest.approx(sum(paired) / 2)
    skf = [row for row in data["rows"] if "SKF" in row["job"]]
    if softskf_api.built() or IN_CI:  # the SKF part: the soft token counted one key operation per bid
        assert len(skf) == 8 and all(row["token_operations_per_bid"] == 1.0 for row in skf)
        assert {row["bids"] for row in skf} == {12, 3}
        for found in data["skf"].values():
            assert found["decrypt only, one process: standard / fast throughput"] > 0
            assert found["opening open, full checks: standard path MB/s"] > 0


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
