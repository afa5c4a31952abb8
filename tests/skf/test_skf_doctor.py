"""`bidcrypt doctor` on SKF UKeys (the soft token): the tree, the PIN's tries, the decryption path, the
login checks, and each seed failure as one line with its own error code and exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bidcrypt.cli.exit_codes import EXIT_CODES
from bidcrypt.doctor import examine
from bidcrypt.errors import (
    PinFinalTryError,
    PinIncorrectError,
    PinLockedError,
    SkfApplicationMissingError,
    SkfCertificateMissingError,
    SkfContainerMissingError,
    SkfLibraryLoadError,
    TokenAbsentError,
    TokenError,
    TokenRemovedError,
)
from bidcrypt.keys import PinSource

from ..conftest import Pki, run_bidcrypt, run_cli
from .softskf import BIDDERS, SAR_UNKNOWN, SEED_FAILURES, SoftSkf

Factory = Callable[..., SoftSkf]


def _problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("✗")]


def _doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = run_cli("doctor", *args, "--json", env=env)
    return result.exit_code, json.loads(result.stdout)


def _problems(report: dict[str, Any]) -> list[str]:
    return [f["code"] for f in report["findings"] if f["level"] == "problem"]


@pytest.mark.parametrize("bidder", ["sm2/bidder-a", "bidder-a"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
def test_login_checks_both_keys_on_the_path_the_token_offers(
    softskf_factory: Factory, pki: Pki, pin_env: str, bidder: str, fast: bool
) -> None:
    token = softskf_factory([bidder])
    device, application, container, _ = BIDDERS[bidder]
    code = pki.company(bidder)["credit_code"]
    exit_code, report = _doctor(
        "--key", token.bidder_uri(bidder, fast=fast, full=False), "--login", "--expect-uscc", code
    )
    assert exit_code == 0, report["findings"]
    assert report["healthy"]
    tree = report["token"]
    assert tree["kind"] == "skf"
    assert tree["exports"] == {"SKF_ECCDecrypt": fast, "SKF_RSAPriKeyDecrypt": fast}
    [dev] = tree["devices"]
    [app] = dev["applications"]
    [box] = app["containers"]
    assert (dev["name"], app["name"], box["name"]) == (device, application, container)
    assert app["pin"] == {"max_retries": 3, "retries_left": 3, "default_pin": False, "locked": False}
    path = "fast" if fast else "standard"
    kind = "SM2" if bidder.startswith("sm2") else "RSA"
    assert box == {"name": container, "kind": kind, "decryption_path": path}
    sign, enc = report["certificates"]
    assert sign["label"] == f"{container}/sign" and sign["signature"] is True and sign["decryption"] is None
    assert enc["label"] == f"{container}/enc" and enc["decryption"] == path
    assert enc["key_transports"] == (["sm2"] if bidder.startswith("sm2") else ["pkcs1v15"])
    counters = token.counters(device)
    assert counters["verify_pin"] == 1  # one login for both keys
    assert counters["sign"] == 1
    if fast:
        assert counters["private_decrypt"] == 1 and counters["import_session_key"] == 0
    else:
        assert counters["private_decrypt"] == 0 and counters["import_session_key"] == 1
        assert counters["decrypt_update_bytes"] > 0  # the test block was decrypted on the token


def test_without_login_nothing_is_logged_in(softskf: SoftSkf, pin_env: str) -> None:
    exit_code, report = _doctor("--key", softskf.bidder_uri("sm2/bidder-c", full=False))
    assert exit_code == 0
    assert softskf.counters("sm2-bidder-c")["verify_pin"] == 0
    # the GBK container name is read as Chinese
    assert report["token"]["devices"][0]["applications"][0]["containers"][0]["name"] == "蜀道工程"
    assert [c["label"] for c in report["certificates"]] == ["蜀道工程/sign", "蜀道工程/enc"]
    assert all(c["private_key"] is None and c["signature"] is None for c in report["certificates"])


def test_the_reference_can_turn_the_fast_path_off(softskf: SoftSkf) -> None:
    reference = softskf.bidder_uri("sm2/bidder-b").replace("?", "?fast-path=no&")
    result = run_cli("doctor", "--key", reference)
    assert result.exit_code == 0, result.output
    assert "decryption path standard" in result.stdout
    assert "电子投标" in result.stdout  # the Chinese application name


def test_text_report_lists_the_tree_and_the_tries(softskf_factory: Factory) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.set_retries("sm2-bidder-a", "BIDCRYPT", 2)
    result = run_cli("doctor", "--key", token.uri("sm2-bidder-a"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "SKF library loaded" in out and "SKF_ECCDecrypt" in out
    assert "UKey sm2-bidder-a present" in out
    assert "application BIDCRYPT: PIN 2 of 3 tries left" in out
    assert "container sm2-bidder-a (SM2): decryption path fast" in out
    assert "! a wrong PIN was entered before" in out  # a warning, not a problem
    chinese = run_cli("doctor", "--key", token.uri("sm2-bidder-a"), env={"LANG": "zh_CN.UTF-8"})
    assert "应用 BIDCRYPT：PIN 码剩余 2 次（共 3 次）" in chinese.stdout
    assert "解密方式 快速" in chinese.stdout


SEEDS: dict[str, tuple[type, str, str]] = {
    # seed: (error, the English words, the seed's own Chinese words)
    "no-device": (TokenAbsentError, "no token", "未找到 U-KEY"),
    "no-application": (SkfApplicationMissingError, "has no application", "当前 UKey 不存在应用："),
    "no-container": (SkfContainerMissingError, "no container", "没有获取到容器："),
    "no-signing-certificate": (
        SkfCertificateMissingError,
        "holds no signing certificate",
        "未获取到签名证书：",
    ),
    "locked-pin": (PinLockedError, "is locked", "PIN 码已被锁定"),
}


@pytest.mark.parametrize("seed", list(SEEDS))
def test_each_seed_failure_is_one_line_with_its_code(
    softskf_factory: Factory, pin_env: str, seed: str
) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.seed_failure("sm2-bidder-a", seed)
    error, english, chinese = SEEDS[seed]
    reference = token.uri()  # the UKey plugged in, whatever it holds
    result = run_cli("doctor", "--key", reference, "--login")
    assert result.exit_code == EXIT_CODES[error], result.output
    [line] = _problem_lines(result.stderr)
    assert english in line and " — " in line  # says what to do
    zh = run_cli("doctor", "--key", reference, "--login", env={"LANG": "zh_CN.UTF-8"})
    [zh_line] = _problem_lines(zh.stderr)
    assert chinese in zh_line, zh_line
    exit_code, report = _doctor("--key", reference, "--login")
    assert _problems(report) == [error.code] and exit_code == EXIT_CODES[error]
    if seed != "no-device":
        # no login without a key to check, none on a locked PIN; the encryption key of a container
        # without a signing certificate is still checked: one login in each of the three runs
        logins = token.counters("sm2-bidder-a")["verify_pin"]
        assert logins == (3 if seed == "no-signing-certificate" else 0)


def test_seed_codes_are_distinct() -> None:
    codes = {error.code for error, _, _ in SEEDS.values()}
    assert len(codes) == len(SEEDS) and set(SEEDS) == set(SEED_FAILURES)


def test_a_wrong_pin_is_tried_once_and_says_the_tries_left(
    softskf_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    monkeypatch.setenv("BIDCRYPT_PIN", "00000000")
    result = run_cli("doctor", "--key", token.uri("sm2-bidder-a"), "--login")
    assert result.exit_code == EXIT_CODES[PinIncorrectError]
    [line] = _problem_lines(result.stderr)
    assert "2 tries left" in line and "00000000" not in result.output
    assert token.counters("sm2-bidder-a")["verify_pin"] == 1
    assert token.retries_left("sm2-bidder-a", "BIDCRYPT") == 2
    # with one try left, a PIN from the environment is not used at all
    token.set_retries("sm2-bidder-a", "BIDCRYPT", 1)
    again = run_cli("doctor", "--key", token.uri("sm2-bidder-a"), "--login")
    assert again.exit_code == EXIT_CODES[PinFinalTryError]
    assert token.counters("sm2-bidder-a")["verify_pin"] == 1
    assert token.retries_left("sm2-bidder-a", "BIDCRYPT") == 1


def test_every_container_of_the_ukey_is_examined(softskf: SoftSkf) -> None:
    exit_code, report = _doctor("--key", softskf.uri())
    names = [d["name"] for d in report["token"]["devices"]]
    assert names == sorted(BIDDER[0] for BIDDER in BIDDERS.values())
    # the authorities' tokens hold only an encryption pair: that is the one problem, said for each
    assert set(_problems(report)) == {SkfCertificateMissingError.code}
    assert exit_code == EXIT_CODES[SkfCertificateMissingError]
    assert len(report["certificates"]) == 2 * len(BIDDERS) - 2


def test_library_problems(softskf: SoftSkf, tmp_path: Any) -> None:
    result = run_cli("doctor", "--key", "skf:?module-path=/usr/lib/none/libskf.so")
    assert result.exit_code == EXIT_CODES[SkfLibraryLoadError] == 10
    [line] = _problem_lines(result.stderr)
    assert "/usr/lib/none/libskf.so" in line
    not_skf = run_cli("doctor", "--key", "skf:?module-path=/usr/lib/softhsm/libsofthsm2.so")
    assert not_skf.exit_code == 10
    assert "not an SKF" in not_skf.stderr
    unset = run_cli("doctor", "--key", "skf:device=x", env={"BIDCRYPT_SKF_MODULE": ""})
    assert unset.exit_code == 10 and "no SKF library given" in unset.stderr


def test_a_truncated_certificate_is_a_clean_line(softskf_factory: Factory) -> None:
    token = softskf_factory(["bidder-a"])
    token.truncate_certificates("bidder-a", 100)
    result = run_bidcrypt("doctor", "--key", token.uri("bidder-a"), env=token.env())
    assert result.returncode == EXIT_CODES[TokenError]
    assert "Traceback" not in result.stderr and "unreadable" in result.stderr


def test_library_api_never_raises(softskf: SoftSkf) -> None:
    report = examine(softskf.uri("no-such-device"), pin_source=PinSource(interactive=False))
    assert report.problems[0].code == TokenAbsentError.code
    assert "sm2-bidder-a" in report.problems[0].hint  # the devices present are listed


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"sar": {"SKF_ExportCertificate": SAR_UNKNOWN}}, TokenError),
        ({"sar": {"SKF_GetPINInfo": SAR_UNKNOWN}}, TokenError),
        ({"size_lie": {"SKF_EnumContainer": 16}}, TokenError),
        ({"size_lie": {"SKF_EnumApplication": 16}}, TokenError),
        ({"removed_after": 1}, TokenRemovedError),  # removed after the test signature
    ],
    ids=["sar-certificate", "sar-pin", "size-lie-containers", "size-lie-applications", "removed"],
)
def test_hostile_library_answers_are_one_clean_line(
    softskf_factory: Factory, pin_env: str, fault: dict[str, Any], error: type
) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.inject("sm2-bidder-a", **fault)
    result = run_bidcrypt("doctor", "--key", token.uri("sm2-bidder-a"), "--login", env=token.env())
    assert result.returncode == EXIT_CODES[error], result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(_problem_lines(result.stderr)) == 1, result.stderr
    assert pin_env not in result.stderr
