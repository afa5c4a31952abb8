"""`bidcrypt doctor`, the seal-assistant check: healthy UKeys pass, each problem is one clear line."""

from __future__ import annotations

import json

import pytest

from bidcrypt.cli.exit_codes import EXIT_CODES
from bidcrypt.doctor import examine
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateMissingError,
    IdentityMismatchError,
    ModuleLoadError,
    TokenAbsentError,
)
from bidcrypt.keys import PinSource

from .conftest import Pki, SoftHsm, run_bidcrypt, run_cli


def _problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("✗")]


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b", "bidder-c"])
def test_healthy_bidder_token(softhsm: SoftHsm, pki: Pki, bidder: str) -> None:
    code = pki.company(bidder)["credit_code"]
    result = run_cli("doctor", "--token", softhsm.uri(bidder), "--expect-uscc", code)
    assert result.exit_code == 0, result.output
    assert "healthy" in result.stdout
    assert code in result.stdout
    assert _problem_lines(result.stderr) == []


def test_login_checks_keys_and_transports(softhsm: SoftHsm, pin_env: str) -> None:
    result = run_cli("doctor", "--token", softhsm.uri("bidder-a"), "--login", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["healthy"]
    by_label = {c["label"]: c for c in report["certificates"]}
    assert all(c["private_key"] for c in by_label.values())
    assert by_label["enc"]["key_transports"] == ["oaep-sha1", "pkcs1v15"]


def test_pkcs12_file(pki: Pki, pin_env: str) -> None:
    result = run_cli("doctor", "--token", str(pki.p12("bidder-b/enc")), "--json")
    report = json.loads(result.stdout)
    # a PKCS#12 file holds one certificate: the signing one is missing
    assert [f["code"] for f in report["findings"] if f["level"] == "problem"] == ["certificate-missing"]
    assert report["certificates"][0]["summary"]["credit_code"] == pki.company("bidder-b")["credit_code"]


@pytest.mark.parametrize(
    ("token", "args", "error", "phrase"),
    [
        ("bidder-a-signonly", [], CertificateMissingError, "no valid encryption certificate"),
        ("bidder-a-expired", [], CertificateExpiredError, "expired on 2024-12-31"),
        (
            "bidder-a",
            ["--expect-uscc", "91350100MA2YHT3R8H"],
            IdentityMismatchError,
            "does not match unit name",
        ),
        ("no-such-ukey", [], TokenAbsentError, "is the UKey inserted"),
    ],
)
def test_one_clear_line_per_problem(
    softhsm: SoftHsm, token: str, args: list[str], error: type, phrase: str
) -> None:
    result = run_cli("doctor", "--token", softhsm.uri(token), *args)
    assert result.exit_code == EXIT_CODES[error]
    lines = _problem_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert phrase in lines[0]
    assert " — " in lines[0]  # the line says what to do


def test_no_module(softhsm: SoftHsm) -> None:
    result = run_cli("doctor", "--token", "pkcs11:token=bidder-a", "--module", "/usr/lib/none/libnone.so")
    assert result.exit_code == EXIT_CODES[ModuleLoadError] == 10
    assert len(_problem_lines(result.stderr)) == 1
    assert "/usr/lib/none/libnone.so" in result.stderr


def test_invalid_expected_code(softhsm: SoftHsm) -> None:
    result = run_cli("doctor", "--token", softhsm.uri("bidder-a"), "--expect-uscc", "91420100MA4KXB7Q00")
    assert result.exit_code == 25
    assert "check character" in result.stderr


def test_chinese_locale(softhsm: SoftHsm) -> None:
    result = run_cli("doctor", "--token", softhsm.uri("bidder-a-expired"), env={"LANG": "zh_CN.UTF-8"})
    assert result.exit_code == 20
    assert "已于 2024-12-31" in result.stderr and "过期" in result.stderr
    assert "请到 CA 办理续期" in result.stderr


def test_library_api_never_raises(softhsm: SoftHsm) -> None:
    report = examine(
        "pkcs11:token=bidder-a;object=nothing", module=softhsm.module, pin_source=PinSource(interactive=False)
    )
    assert not report.healthy
    assert report.problems[0].code == "key-not-found"


def test_as_a_user_runs_it(softhsm: SoftHsm) -> None:
    """A real process: the exit code and no traceback."""
    result = run_bidcrypt("doctor", "--token", "pkcs11:token=no-such-ukey", "--module", softhsm.module)
    assert result.returncode == 11
    assert "Traceback" not in result.stderr


def test_each_key_source_failure_has_its_own_exit_code(softhsm: SoftHsm) -> None:
    cases = {
        "pkcs11:token=no-such-ukey": 11,
        "pkcs11:token=bidder-a?module-path=/usr/lib/none/libnone.so": 10,
        "pkcs11:token=bidder-a;object=nothing": 12,
        "pkcs11:token=bidder-a?pin-value=1234": 18,
    }
    for reference, exit_code in cases.items():
        result = run_cli("doctor", "--token", reference, "--module", softhsm.module)
        assert result.exit_code == exit_code, (reference, result.stderr)
        assert "1234" not in result.stderr
