"""The whole bid flow on SKF UKeys (the soft token), through the command line: seal, pack, submit,
open, record.

Each flow has one bidder on an SKF UKey (it seals and packs on it), two bidders with PKCS#12 files,
and an opening authority whose UKey is SKF too; SM2 containers (GM/T 0010 packages, SM4-CBC) and RSA
containers (CMS, AES-CBC: what a token without a private-key decryption can open), with the
library's fast path and with the standard path. The mixed session adds a PKCS#11 (SoftHSM2)
bidder. The opening logs in once and costs one key operation per bid, which the token counts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import Pki, SoftHsm, run_bidcrypt, run_cli
from ..seal.conftest import document, seal_image
from .softskf import BIDDERS, SoftSkf

Factory = Callable[..., SoftSkf]
TENDER = "HBGP-2026-SKF"
PRICES = {
    "bidder-a": "1234567.80",
    "bidder-b": "1180000.00",
    "bidder-c": "1205300.50",
    "sm2/bidder-a": "1196000.00",
    "sm2/bidder-b": "1210000.00",
    "sm2/bidder-c": "1175500.00",
}


@dataclass(frozen=True)
class Bid:
    """A bidder of the flow and its key: an skf: or pkcs11: reference, or a PKCS#12 file."""

    bidder: str
    key: str | Path
    sealed: Path | None = None  # already sealed (PKCS#12 and PKCS#11 bidders); else sealed on the key


def trust(pki: Pki) -> list[str | Path]:
    """Both hierarchies, RSA/EC and SM2, with their vendors' CRLs."""
    root = pki.root
    return [
        *("--trust", root / "trust/roots.pem", "--trust", root / "trust/intermediates.pem"),
        *("--trust", root / "trust/sm2-roots.pem", "--trust", root / "trust/sm2-intermediates.pem"),
        *("--crl", root / "ca/vendor-rsa.crl", "--crl", root / "sm2/ca/vendor.crl"),
    ]


def ok(*args: str | Path, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, env=env)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def pack_bid(pki: Pki, bid: Bid, authority: str, tmp_path: Path, cipher: str | None) -> Path:
    """Seal (on the key, unless sealed already) and pack *bid* to itself and the *authority*'s certificate.

    *cipher* is the platform's for RSA and EC bidders; an SM2 bidder's package is SM4-CBC.
    """
    if bid.bidder.startswith("sm2/"):
        cipher = None
    slug = bid.bidder.replace("/", "-")
    folder = tmp_path / slug / "投标文件"
    (folder / "附件").mkdir(parents=True)
    if bid.sealed is not None:
        (folder / "投标函.pdf").write_bytes(bid.sealed.read_bytes())
    else:
        ok(
            "seal", "apply", document(), "-o", folder / "投标函.pdf", "--key", bid.key,
            "--kind", "company", "--image", seal_image("bidder-a", "company"),
        )  # fmt: skip
    (folder / "附件" / "资质证书清单.txt").write_text(f"{slug}：建筑工程施工总承包一级\n", encoding="utf-8")
    summary = tmp_path / slug / "summary.toml"
    summary.write_text(
        f'[summary]\nprice = "{PRICES[bid.bidder]}"\ncurrency = "CNY"\nduration = "180日历天"\n',
        encoding="utf-8",
    )
    package = tmp_path / slug / f"{slug}.bid"
    output = ok(
        "pack", folder, "-o", package, "--tender", TENDER, "--key", bid.key,
        "--encrypt-to", pki.cert(f"{bid.bidder}/enc"), "--encrypt-to", pki.cert(f"{authority}/enc"),
        "--authority-transport", "pkcs1v15", *(("--cipher", cipher) if cipher else ()),
        "--summary", summary, *trust(pki), "--json",
    )  # fmt: skip
    packed = json.loads(output)
    # a UKey holds the encryption key too and test-opens the package; a signing .p12 file cannot
    assert packed["test_opened"] is isinstance(bid.key, str)
    return package


def run_session(
    pki: Pki, bids: list[Bid], authority: str, authority_key: str, tmp_path: Path, cipher: str | None
) -> tuple[dict[str, object], dict[str, object]]:
    """Pack every bid, create the session, register and submit, open on the authority's key; the
    opening's and the record's JSON."""
    packages = {bid.bidder: pack_bid(pki, bid, authority, tmp_path, cipher) for bid in bids}
    session = tmp_path / "session"
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=10)
    opening_time = deadline + dt.timedelta(seconds=1)
    ok(
        "opening", "create", session, "--tender", TENDER, "--deadline", deadline.isoformat(),
        "--opening-time", opening_time.isoformat(), *trust(pki),
    )  # fmt: skip
    for bid in bids:
        company = pki.company(bid.bidder)
        ok(
            "opening", "register", session, "--name", company["name"], "--uscc", company["credit_code"],
            "--cert", pki.cert(f"{bid.bidder}/enc"),
        )  # fmt: skip
    for bid in bids:
        ok("opening", "submit", session, packages[bid.bidder])
    early = run_cli("opening", "open", session, "--key", authority_key)
    assert early.exit_code == 61  # not before the opening time: no login either
    later = opening_time + dt.timedelta(seconds=5)
    opened = run_bidcrypt(
        "opening", "open", session, "--key", authority_key, "--json",
        env={"BIDCRYPT_PIN": pki.pin}, clock_at=later,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert "Traceback" not in opened.stderr
    record = json.loads(ok("opening", "report", session, "--format", "json"))
    for number in json.loads(opened.stdout)["opened"]:
        assert (session / "opened" / str(number) / "投标函.pdf").is_file()
    return json.loads(opened.stdout), record


def check_record(pki: Pki, bids: list[Bid], opened: dict[str, object], record: dict[str, object]) -> None:
    """Every bid opened, with its price, its seals valid; one key operation per bid."""
    assert len(opened["opened"]) == len(bids) and opened["failed"] == []  # type: ignore[arg-type]
    assert opened["unwraps"] == len(bids)
    rows = {row["credit_code"]: row for row in record["rows"]}  # type: ignore[attr-defined]
    for bid in bids:
        row = rows[pki.company(bid.bidder)["credit_code"]]
        assert row["status"] == "opened", row
        assert row["price"] == PRICES[bid.bidder] and row["seals"] == "valid"
    assert record["flags"] == []  # type: ignore[index]


def check_token(token: SoftSkf, device: str, bids: int, fast: bool) -> None:
    """One login, one key operation per bid, on the path the library offers; no PIN try lost."""
    counters = token.counters(device)
    assert counters["verify_pin"] == 1
    assert counters["key_operations"] == bids
    assert counters["private_decrypt" if fast else "import_session_key"] == bids
    assert counters["import_session_key" if fast else "private_decrypt"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
@pytest.mark.parametrize("kind", ["sm2", "rsa"])
def test_bid_flow_on_skf_ukeys(
    softskf_factory: Factory,
    pki: Pki,
    pin_env: str,
    tmp_path: Path,
    sealed_pdfs: dict[str, Path],
    sm2_sealed_pdfs: dict[str, Path],
    kind: str,
    fast: bool,
) -> None:
    prefix = "sm2/" if kind == "sm2" else ""
    authority = f"{prefix}authority"
    token = softskf_factory([f"{prefix}bidder-a", authority])
    sealed = sm2_sealed_pdfs if kind == "sm2" else sealed_pdfs
    bids = [
        Bid(f"{prefix}bidder-a", token.bidder_uri(f"{prefix}bidder-a", fast=fast)),
        *(
            Bid(f"{prefix}{b}", pki.p12(f"{prefix}{b}/sign"), sealed[f"{prefix}{b}"])
            for b in ("bidder-b", "bidder-c")
        ),
    ]
    # a token without the private-key decryption opens CBC only (SM2 packages are SM4-CBC already)
    cipher = "aes-256-cbc" if kind == "rsa" and not fast else None
    opened, record = run_session(
        pki, bids, authority, token.bidder_uri(authority, fast=fast), tmp_path, cipher
    )
    check_record(pki, bids, opened, record)
    check_token(token, BIDDERS[authority][0], len(bids), fast)
    bidder_device = BIDDERS[f"{prefix}bidder-a"][0]
    assert token.counters(bidder_device)["verify_pin"] == 2  # the seal, the pack: one login each


@pytest.mark.slow
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
def test_mixed_session_pkcs11_skf_pkcs12_bidders_and_an_skf_authority(
    softskf_factory: Factory,
    softhsm: SoftHsm,
    pki: Pki,
    pin_env: str,
    tmp_path: Path,
    sealed_pdfs: dict[str, Path],
    fast: bool,
) -> None:
    token = softskf_factory(["sm2/bidder-a", "authority"])
    bids = [
        Bid("bidder-a", softhsm.uri("bidder-a"), sealed_pdfs["bidder-a"]),  # PKCS#11 (SoftHSM2)
        Bid("sm2/bidder-a", token.bidder_uri("sm2/bidder-a", fast=fast)),  # SKF, SM2
        Bid("bidder-c", pki.p12("bidder-c/sign"), sealed_pdfs["bidder-c"]),  # PKCS#12, EC keys
    ]
    # the authority's SKF UKey holds an RSA key: every bid wraps its key for it with PKCS#1 v1.5
    cipher = None if fast else "aes-256-cbc"
    key = token.bidder_uri("authority", fast=fast)
    opened, record = run_session(pki, bids, "authority", key, tmp_path, cipher)
    check_record(pki, bids, opened, record)
    check_token(token, "authority", len(bids), fast)
