"""Every command that takes a KEYREF takes an ``skf:`` reference: seal apply, pack (signer and
test-open), check, envelope decrypt, unpack, reencrypt; SM2 and RSA containers, fast and standard
path, one login per command (the soft token counts them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt.cli.exit_codes import EXIT_CODES
from bidcrypt.errors import MechanismUnsupportedError

from ..conftest import Pki, run_cli
from ..seal.conftest import document, seal_image
from .softskf import BIDDERS, SoftSkf

Factory = Callable[..., SoftSkf]
TENDER = "HBGP-2026-SKF"


def trust_args(pki: Pki, bidder: str) -> list[str | Path]:
    """``--trust`` for the bidder's hierarchy (SM2 or RSA)."""
    prefix = "sm2-" if bidder.startswith("sm2/") else ""
    trust = pki.root / "trust"
    return ["--trust", trust / f"{prefix}roots.pem", "--trust", trust / f"{prefix}intermediates.pem"]


def new_certificate(pki: Pki, bidder: str) -> Path:
    """A certificate of the bidder with another encryption key (变更 / 补办)."""
    return pki.cert(f"{bidder}/enc-changed" if bidder.startswith("sm2/") else f"{bidder}/enc-replaced")


def sealed_folder(ref: str, tmp_path: Path) -> Path:
    """A bid folder with a response sealed on the UKey *ref* (`seal apply --key skf:...`)."""
    folder = tmp_path / "投标文件"
    (folder / "附件").mkdir(parents=True)
    result = run_cli(
        "seal", "apply", document(), "-o", folder / "投标函.pdf", "--key", ref,
        "--kind", "company", "--image", seal_image("bidder-a", "company"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder / "附件" / "说明.txt").write_text("资质证书清单\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("bidder", ["sm2/bidder-a", "bidder-a"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
def test_every_command_takes_an_skf_reference(
    softskf_factory: Factory, pki: Pki, pin_env: str, tmp_path: Path, bidder: str, fast: bool
) -> None:
    token = softskf_factory([bidder])
    device = BIDDERS[bidder][0]
    ref = token.bidder_uri(bidder, fast=fast)
    sm2 = bidder.startswith("sm2/")

    def logins() -> int:
        return token.counters(device)["verify_pin"]

    folder = sealed_folder(ref, tmp_path)
    assert logins() == 1 and token.counters(device)["sign"] == 1

    package = tmp_path / "bid.bid"
    packed = run_cli(
        "pack", folder, "-o", package, "--tender", TENDER, "--key", ref,
        "--encrypt-to", pki.cert(f"{bidder}/enc"), *trust_args(pki, bidder), "--json",
    )  # fmt: skip
    assert packed.exit_code == 0, packed.output
    result = json.loads(packed.stdout)
    assert result["test_opened"] is True  # on the UKey, by the path it offers
    # the standard path decrypts CBC only: an RSA bidder's package is AES-256-CBC then, and says why
    assert result["cipher"] == ("sm4-cbc" if sm2 else "aes-256-gcm" if fast else "aes-256-cbc")
    assert any("AES-256-CBC" in w for w in result["warnings"]) == (not sm2 and not fast)
    assert logins() == 2  # one login: the manifest signature and the test-open

    checked = run_cli("check", package, "--key", ref)
    assert checked.exit_code == 0, checked.output
    assert "no re-encryption needed" in checked.stdout
    assert logins() == 2  # the certificate is read without a login
    stale = run_cli("check", package, "--current-cert", new_certificate(pki, bidder))
    assert stale.exit_code == 50
    assert run_cli("check", package).exit_code == 2  # one of --current-cert and --key
    both = run_cli("check", package, "--key", ref, "--current-cert", new_certificate(pki, bidder))
    assert both.exit_code == 2

    decrypted = run_cli("envelope", "decrypt", package, "-o", tmp_path / "bundle.tar", "--key", ref)
    assert decrypted.exit_code == 0, decrypted.output
    assert (tmp_path / "bundle.tar").stat().st_size > 100_000

    unpacked = run_cli("unpack", package, "-o", tmp_path / "out", "--key", ref, *trust_args(pki, bidder))
    assert unpacked.exit_code == 0, unpacked.output
    assert (tmp_path / "out" / "投标函.pdf").read_bytes() == (folder / "投标函.pdf").read_bytes()
    assert logins() == 4

    renewed = tmp_path / "reencrypted.bid"
    new = new_certificate(pki, bidder)
    rewrapped = run_cli("reencrypt", package, "-o", renewed, "--key", ref, "--to", new)
    if fast:
        assert rewrapped.exit_code == 0, rewrapped.output
    else:  # the key never leaves the token: it cannot be wrapped again, only replaced
        assert rewrapped.exit_code == EXIT_CODES[MechanismUnsupportedError]
        assert "--fresh-key" in rewrapped.stderr and "Traceback" not in rewrapped.output
        fresh = run_cli("reencrypt", package, "-o", renewed, "--key", ref, "--to", new, "--fresh-key")
        assert fresh.exit_code == 0, fresh.output
    assert run_cli("check", renewed, "--current-cert", new).exit_code == 0

    counters = token.counters(device)
    if fast:
        assert counters["private_decrypt"] >= 4 and counters["import_session_key"] == 0
    else:
        assert counters["private_decrypt"] == 0 and counters["import_session_key"] >= 4
    assert token.retries_left(device, BIDDERS[bidder][1]) == 3


def test_the_module_option_and_environment_name_the_skf_library(
    softskf_factory: Factory, pki: Pki, pin_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    library = str(token.library())
    ref = "skf:device=sm2-bidder-a"
    # --module names the SKF library of a reference that names none
    assert run_cli("doctor", "--key", ref, "--module", library).exit_code == 0
    # BIDCRYPT_SKF_MODULE too, while BIDCRYPT_PKCS11_MODULE (the --module default) is left to pkcs11:
    monkeypatch.setenv("BIDCRYPT_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
    monkeypatch.setenv("BIDCRYPT_SKF_MODULE", library)
    folder = sealed_folder(ref, tmp_path)
    assert (folder / "投标函.pdf").is_file()
    monkeypatch.delenv("BIDCRYPT_SKF_MODULE")
    missing = run_cli("doctor", "--key", ref)
    assert missing.exit_code == 10 and "BIDCRYPT_SKF_MODULE" in missing.stderr


def test_help_names_the_skf_reference() -> None:
    for command in ("seal apply", "pack", "check", "envelope decrypt", "unpack", "reencrypt", "opening open"):
        text = run_cli(*command.split(), "--help").stdout
        assert "skf:device=" in text.replace("\n", "").replace(" ", ""), command
    assert "SKF library" in " ".join(run_cli("unpack", "--help").stdout.split())


def test_sealing_on_a_container_without_signing_certificate_says_so(
    softskf_factory: Factory, pki: Pki, pin_env: str, tmp_path: Path
) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.seed_failure("sm2-bidder-a", "no-signing-certificate")
    result = run_cli(
        "seal", "apply", document(), "-o", tmp_path / "s.pdf", "--key", token.bidder_uri("sm2/bidder-a"),
        "--kind", "company", "--image", seal_image("bidder-a", "company"),
        env={"BIDCRYPT_LANG": "zh"},
    )  # fmt: skip
    assert result.exit_code == 12
    assert "未获取到签名证书" in result.stderr
