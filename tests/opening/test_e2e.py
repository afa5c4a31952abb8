"""The whole opening as the officials run it, on SoftHSM UKeys, through the command line.

Three bidders pack on their UKeys and submit two lots. Lot 1 is clean. In lot 2:
bidder A's package is encrypted only to A's old key after A's certificate
was replaced (refused at the door), bidder B's package is altered after its
receipt, bidder C's arrives late. The record must say each, and show the
summary fields of the bids that opened.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ..conftest import Pki, SoftHsm, run_bidcrypt
from .conftest import TENDER, make_package

A, B, C = "91420100MA4KXB7Q09", "91350100MA2YHT3R8H", "91330106MA27XK9L4F"


def _ok(*args: object, clock_at: dt.datetime | None = None, **env: str) -> str:
    result = run_bidcrypt(*[str(a) for a in args], env=env, clock_at=clock_at)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.slow
def test_end_to_end(pki: Pki, softhsm: SoftHsm, tmp_path: Path, sealed_pdfs: dict[str, Path]) -> None:
    env = {
        "BIDCRYPT_PIN": pki.pin,
        "BIDCRYPT_PKCS11_MODULE": softhsm.module,
        "SOFTHSM2_CONF": str(softhsm.config),
    }
    packages = tmp_path / "packages"
    packages.mkdir()
    lot1 = {
        "bidder-a": make_package(
            pki,
            packages,
            "bidder-a",
            enc="enc-replaced",
            price="1234567.80",
            sealed_pdf=sealed_pdfs["bidder-a"],
            name="a1",
        ),
        "bidder-b": make_package(
            pki, packages, "bidder-b", price="1100000.00", sealed_pdf=sealed_pdfs["bidder-b"], name="b1"
        ),
        "bidder-c": make_package(
            pki, packages, "bidder-c", price="998000.50", sealed_pdf=sealed_pdfs["bidder-c"], name="c1"
        ),
    }
    stale = make_package(pki, packages, "bidder-a", lot="2", authority=False, name="a2-old-key")
    tampered = make_package(pki, packages, "bidder-b", lot="2", name="b2")
    late = make_package(pki, packages, "bidder-c", lot="2", name="c2")

    session = tmp_path / "session"
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    opening_time = deadline + dt.timedelta(seconds=1)
    _ok(
        "opening",
        "create",
        session,
        "--tender",
        TENDER,
        "--lot",
        "1",
        "--lot",
        "2",
        "--deadline",
        deadline.isoformat(),
        "--opening-time",
        opening_time.isoformat(),
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
        "--crl",
        pki.crl,
        **env,
    )
    _ok(
        "opening",
        "register",
        session,
        "--name",
        pki.company("bidder-a")["name"],
        "--uscc",
        A,
        "--cert",
        pki.cert("bidder-a/enc-replaced"),
        **env,
    )  # A's UKey was replaced (补办) before the tender
    _ok(
        "opening",
        "register",
        session,
        "--name",
        pki.company("bidder-b")["name"],
        "--uscc",
        B,
        "--cert",
        pki.cert("bidder-b/enc"),
        **env,
    )
    _ok(
        "opening",
        "register",
        session,
        "--name",
        pki.company("bidder-c")["name"],
        "--uscc",
        C,
        "--cert",
        pki.cert("bidder-c/enc"),
        **env,
    )

    receipts = {}
    for bidder, package in lot1.items():
        receipts[bidder] = json.loads(_ok("opening", "submit", session, package, "--json", **env))
    refused = run_bidcrypt("opening", "submit", str(session), str(stale), env=env)
    assert refused.returncode == 50 and "replaced" in refused.stderr
    b2 = json.loads(_ok("opening", "submit", session, tampered, "--json", **env))
    early = run_bidcrypt("opening", "open", str(session), "--key", "pkcs11:token=authority", env=env)
    assert early.returncode == 61  # no opening before the opening time

    # after its receipt, B's lot-2 bid is altered in storage
    stored = session / "submissions" / f"{b2['receipt']}.bid"
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    later = opening_time + dt.timedelta(seconds=5)  # the clock of the next commands
    late_result = run_bidcrypt("opening", "submit", str(session), str(late), env=env, clock_at=later)
    assert late_result.returncode == 60 and "deadline" in late_result.stderr

    opened = json.loads(
        _ok("opening", "open", session, "--key", "pkcs11:token=authority", "--json", clock_at=later, **env)
    )
    assert sorted(opened["opened"]) == sorted(r["receipt"] for r in receipts.values())
    assert opened["failed"] == [b2["receipt"]]
    assert opened["unwraps"] == 4  # exactly one token operation per bid

    record = json.loads(_ok("opening", "report", session, "--format", "json", **env))
    rows = {(row["lot"], row["credit_code"], row["status"]): row for row in record["rows"]}
    for bidder, price in (("bidder-a", "1234567.80"), ("bidder-b", "1100000.00"), ("bidder-c", "998000.50")):
        row = rows[("1", pki.company(bidder)["credit_code"], "opened")]
        assert row["price"] == price and row["currency"] == "CNY" and row["duration"] == "90日历天"
        assert row["seals"] == "valid"
        assert row["receipt_sha256"] == receipts[bidder]["sha256"]
    assert "replaced" in rows[("2", A, "rejected")]["cause"]
    assert "receipt" in rows[("2", B, "failed")]["cause"]
    assert "deadline" in rows[("2", C, "rejected")]["cause"]
    assert [flag["code"] for flag in record["flags"]] == ["fewer-than-three"]
    assert record["flags"][0]["lot"] == "2"

    table = _ok("opening", "report", session, **env)
    assert "1234567.80 CNY" in table and "fewer than three" in table
    html = session.parent / "record.html"
    _ok("opening", "report", session, "--format", "html", "-o", html, **env)
    assert "开标记录" not in html.read_text() and "Opening record" in html.read_text()
    chinese = run_bidcrypt("opening", "report", str(session), env={**env, "LANG": "zh_CN.UTF-8"})
    assert "开标记录" in chinese.stdout and "已解密" in chinese.stdout and "递交被拒" in chinese.stdout
    # the files of every opened bid are there and whole
    for number in opened["opened"]:
        assert (session / "opened" / str(number) / "投标函.pdf").is_file()
