"""Commands with an ``skf:`` KEYREF on the fast path: pack (sign, test-open) and unpack, SM2 and RSA,
one login per command (the token counts them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PKI, Pki, run_cli
from tests.skf.softskf import SoftSkf

TRUST = {
    "sm2/bidder-a": [PKI / "sm2/ca/root.pem", PKI / "sm2/ca/vendor.pem"],
    "bidder-a": [PKI / "trust/roots.pem", PKI / "trust/intermediates.pem"],
}


@pytest.mark.parametrize("bidder", ["sm2/bidder-a", "bidder-a"])
def test_pack_and_unpack_with_an_skf_ukey(
    softskf_factory: Callable[..., SoftSkf], pki: Pki, tmp_path: Path, bidder: str
) -> None:
    token = softskf_factory([bidder])
    device = token.bidder_uri(bidder).split("device=")[1].split(";")[0]
    source = tmp_path / "标书"
    source.mkdir()
    (source / "报价.txt").write_text("报价 100 万元", encoding="utf-8")
    trust = [arg for path in TRUST[bidder] for arg in ("--trust", path)]
    env = {**token.env(), "BIDCRYPT_PIN": pki.pin}
    packed = run_cli(
        "pack", source, "-o", tmp_path / "bid.bid", "--tender", "T-1", "--key", token.bidder_uri(bidder),
        "--encrypt-to", pki.cert(f"{bidder}/enc"), "--allow-unsealed", *trust, env=env,
    )  # fmt: skip
    assert packed.exit_code == 0, packed.stderr
    assert "test-opened on the UKey: OK" in packed.stdout
    assert token.counters(device)["verify_pin"] == 1
    unpacked = run_cli(
        "unpack", tmp_path / "bid.bid", "-o", tmp_path / "out", "--key", token.bidder_uri(bidder),
        *trust, env=env,
    )  # fmt: skip
    assert unpacked.exit_code == 0, unpacked.stderr
    assert (tmp_path / "out" / "报价.txt").read_text(encoding="utf-8") == "报价 100 万元"
    counted = token.counters(device)
    # pack test-opens (and, for RSA, probes which key transport the UKey decrypts: one more); unpack opens
    probes = 0 if bidder.startswith("sm2/") else 1
    assert counted["verify_pin"] == 2 and counted["sign"] == 1 and counted["private_decrypt"] == 2 + probes
    assert pki.pin not in packed.output + unpacked.output
