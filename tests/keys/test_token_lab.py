"""UKeys as real ones come: EC keys without CKA_DERIVE, keys that ask for the PIN before each use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder, KeyTransport

from ..conftest import SOFTHSM_MODULE, Pki, SoftHsm, run_bidcrypt
from . import token_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, softhsm: SoftHsm) -> Path:
    """The lab tokens' softhsm2.conf (``softhsm`` only to skip, or fail in CI, without SoftHSM2)."""
    return token_lab.provision(tmp_path_factory.mktemp("token-lab"))


def _envelope(tmp_path: Path, pki: Pki, certificate: str, **options: Any) -> Path:
    (tmp_path / "bid.tar").write_bytes(os.urandom(5000))
    builder = EnvelopeBuilder().add_recipient(load_certificate(pki.cert(certificate)), **options)
    builder.encrypt_file(tmp_path / "bid.tar", tmp_path / "bid.p7m")
    (tmp_path / "bid.tar").unlink()
    return tmp_path / "bid.p7m"


def _decrypt(lab: Path, pki: Pki, envelope: Path, token: str) -> Any:
    uri = f"pkcs11:token={token};object=enc?module-path={SOFTHSM_MODULE}"
    return run_bidcrypt(
        "envelope",
        "decrypt",
        envelope,
        "-o",
        envelope.parent / "bid.tar",
        "--key",
        uri,
        env={"SOFTHSM2_CONF": str(lab), "BIDCRYPT_PIN": pki.pin},
    )


def test_an_ec_key_without_derive_says_so(lab: Path, pki: Pki, tmp_path: Path) -> None:
    envelope = _envelope(tmp_path, pki, "bidder-b/enc")
    result = _decrypt(lab, pki, envelope, "no-derive")
    assert result.returncode == 17, result.stderr
    assert "does not allow key agreement (CKA_DERIVE is not set)" in result.stderr
    assert "'enc'" in result.stderr and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bid.p7m"]


def test_an_always_authenticate_key_decrypts_from_the_command_line(
    lab: Path, pki: Pki, tmp_path: Path
) -> None:
    envelope = _envelope(tmp_path, pki, "bidder-a/enc", key_transport=KeyTransport.OAEP_SHA1)
    result = _decrypt(lab, pki, envelope, "always-rsa")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "bid.tar").stat().st_size == 5000


def test_the_pin_is_asked_once_and_kept_only_while_the_source_is_open(lab: Path) -> None:
    found = token_lab.run_scenario(lab, "always-authenticate")
    assert found["always_authenticate"] is True
    assert found["plain_sign"] == "refused"  # the token really demands the per-operation login
    assert found["unwrapped"] is True and found["ecdh"] is True
    assert found["pin_kept_while_open"] is True and found["pin_dropped_after_close"] is True
    assert found["asked"] == ["always-rsa", "always-ec"]  # once per token, for many operations


def test_a_refused_context_pin_is_never_tried_again(lab: Path) -> None:
    found = token_lab.run_scenario(lab, "wrong-context-pin")
    assert found["outcomes"] == ["pin-incorrect"] * 3
    assert found["calls"] == ["sign+pin"]  # only the first reached the token
    assert found["asked"] == 1 and found["kept"] is None


def test_a_final_try_or_a_lock_during_a_batch_stops_before_the_token(lab: Path) -> None:
    found = token_lab.run_scenario(lab, "final-try-mid-batch")
    assert found["outcomes"] == ["pin-final-try", "pin-locked"]
    assert found["calls"] == []
