"""The PIN rules on an SKF UKey, for real: the soft token's retry counter locks, and its counters
prove that bidcrypt never used a try it was not given (3 tries: a wrong environment PIN fails once
and says 2 left; with 1 left an environment PIN is refused; after a lock, no login at all)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt import certs, errors
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.keys import PinSource, open_key_source
from tests.conftest import Pki, run_bidcrypt, run_cli
from tests.skf.softskf import SoftSkf

Factory = Callable[..., SoftSkf]
DEVICE, APPLICATION = "sm2-bidder-a", "BIDCRYPT"


@pytest.fixture
def token(softskf_factory: Factory) -> SoftSkf:
    return softskf_factory(["sm2/bidder-a"])


@pytest.fixture
def envelope(pki: Pki, tmp_path: Path) -> Path:
    source = tmp_path / "投标文件.txt"
    source.write_bytes("标书".encode() * 100)
    out = tmp_path / "bid.p7m"
    result = run_cli("envelope", "encrypt", source, "-o", out, "--recipient", pki.cert("sm2/bidder-a/enc"))
    assert result.exit_code == 0, result.output
    return out


def decrypt(token: SoftSkf, envelope: Path, pin: str, *, subprocess: bool = False) -> tuple[int, str]:
    args = (
        "envelope",
        "decrypt",
        envelope,
        "-o",
        envelope.with_suffix(".out"),
        "--force",
        "--key",
        token.bidder_uri("sm2/bidder-a"),
    )
    env = {**token.env(), "BIDCRYPT_PIN": pin}
    if subprocess:
        done = run_bidcrypt(*args, env=env)
        return done.returncode, done.stderr + done.stdout
    result = run_cli(*args, env=env)
    return result.exit_code, result.stderr + result.stdout


def test_wrong_environment_pin_fails_once_and_says_two_left(token: SoftSkf, envelope: Path, pki: Pki) -> None:
    code, output = decrypt(token, envelope, "00000000", subprocess=True)
    assert code == exit_code_for(errors.PinIncorrectError) == 13
    assert "error[pin-incorrect]" in output and "2 tries left" in output
    assert "00000000" not in output
    counted = token.counters(DEVICE)
    assert counted["verify_pin"] == 1 and counted["verify_pin_failed"] == 1 and counted["key_operations"] == 0
    assert token.retries_left(DEVICE, APPLICATION) == 2


def test_a_wrong_pin_is_never_retried_by_the_source(token: SoftSkf, pki: Pki) -> None:
    with open_key_source(token.bidder_uri("sm2/bidder-a"), PinSource.of_value("00000000")) as source:
        signer = source.entry(certs.Purpose.SIGNING)
        for _ in range(3):
            with pytest.raises(errors.PinIncorrectError, match="2 tries left"):
                signer.sign(b"x", "sm3")
    assert token.counters(DEVICE)["verify_pin"] == 1
    assert token.retries_left(DEVICE, APPLICATION) == 2


def test_final_try_refuses_an_environment_pin(token: SoftSkf, envelope: Path, pki: Pki) -> None:
    token.set_retries(DEVICE, APPLICATION, 1)
    code, output = decrypt(token, envelope, pki.pin, subprocess=True)  # even the right PIN
    assert code == exit_code_for(errors.PinFinalTryError) == 15
    assert "error[pin-final-try]" in output and "type the PIN yourself" in output
    assert token.counters(DEVICE)["verify_pin"] == 0
    assert token.retries_left(DEVICE, APPLICATION) == 1


def test_final_try_with_a_pin_a_person_types(
    token: SoftSkf, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    token.set_retries(DEVICE, APPLICATION, 1)
    monkeypatch.setenv("BIDCRYPT_PIN", "00000000")  # passed over on the final try: the person is asked
    monkeypatch.setattr(PinSource, "can_ask_person", lambda self: True)
    asked: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or pki.pin)
    warnings: list[str] = []
    pins = PinSource(warn=warnings.append)
    with open_key_source(token.bidder_uri("sm2/bidder-a"), pins) as source:
        source.entry(certs.Purpose.SIGNING).sign(b"x", "sm3")
    assert len(asked) == 1 and "one try left" in asked[0]
    assert any("one more wrong PIN locks" in w for w in warnings)
    assert token.counters(DEVICE)["verify_pin"] == 1
    assert token.retries_left(DEVICE, APPLICATION) == 3  # a good PIN restores the count


def test_locked_pin_no_login_attempt(token: SoftSkf, envelope: Path, pki: Pki) -> None:
    token.set_retries(DEVICE, APPLICATION, 0)
    code, output = decrypt(token, envelope, pki.pin)
    assert code == exit_code_for(errors.PinLockedError) == 14
    assert "error[pin-locked]" in output
    assert token.counters(DEVICE)["verify_pin"] == 0


def test_three_wrong_commands_lock_and_the_fourth_does_not_try(
    token: SoftSkf, envelope: Path, pki: Pki
) -> None:
    assert decrypt(token, envelope, "00000000")[0] == 13  # 2 left
    assert decrypt(token, envelope, "00000000")[0] == 13  # 1 left
    assert decrypt(token, envelope, "00000000")[0] == 15  # 1 left: an environment PIN is refused
    assert token.counters(DEVICE)["verify_pin"] == 2
    token.set_retries(DEVICE, APPLICATION, 0)
    assert decrypt(token, envelope, pki.pin)[0] == 14
    assert token.counters(DEVICE)["verify_pin"] == 2


def test_right_pin_decrypts(token: SoftSkf, envelope: Path, pki: Pki) -> None:
    code, output = decrypt(token, envelope, pki.pin)
    assert code == 0, output
    assert envelope.with_suffix(".out").read_bytes() == "标书".encode() * 100
    assert pki.pin not in output
    counted = token.counters(DEVICE)
    assert counted["verify_pin"] == 1 and counted["private_decrypt"] == 1


@pytest.mark.parametrize("right", [True, False])
def test_the_pin_is_in_no_output_even_verbose(token: SoftSkf, envelope: Path, pki: Pki, right: bool) -> None:
    pin = pki.pin if right else "98765432"
    args = (
        "-v",
        "envelope",
        "decrypt",
        envelope,
        "-o",
        envelope.with_suffix(".out"),
        "--force",
        "--key",
        token.bidder_uri("sm2/bidder-a"),
    )
    done = run_bidcrypt(*args, env={**token.env(), "BIDCRYPT_PIN": pin})
    assert done.returncode == (0 if right else 13), done.stderr
    assert pin not in done.stdout + done.stderr
