"""Every seed failure on an SKF UKey through the CLI: its own error code, its exit code, and the
seeds' own words in Chinese (no device, no application, no container, no signing certificate,
a locked PIN; and a device removed, which stops a batch)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt import errors
from bidcrypt.cli.exit_codes import exit_code_for
from tests.conftest import Pki, run_cli
from tests.seal.conftest import document, seal_image
from tests.skf.softskf import Application, Device, SoftSkf

Factory = Callable[..., SoftSkf]


@pytest.fixture
def token(softskf_factory: Factory) -> SoftSkf:
    return softskf_factory(["sm2/bidder-a"])


def sign_with(token: SoftSkf, ref: str, pki: Pki, tmp_path: Path, language: str = "zh") -> tuple[int, str]:
    result = run_cli(
        "seal", "apply", document(), "-o", tmp_path / "sealed.pdf", "--key", ref,
        "--kind", "company", "--image", seal_image("bidder-a", "company"),
        env={**token.env(), "BIDCRYPT_PIN": pki.pin, "BIDCRYPT_LANG": language},
    )  # fmt: skip
    return result.exit_code, result.stderr


def assert_failure(code: int, stderr: str, cls: type[errors.BidcryptError], words: str) -> None:
    assert code == exit_code_for(cls), stderr
    assert f"[{cls.code}]" in stderr, stderr
    assert words in stderr, stderr
    assert code != 70


def test_no_device(softskf_factory: Factory, pki: Pki, tmp_path: Path) -> None:
    token = softskf_factory([])
    code, stderr = sign_with(token, token.uri(), pki, tmp_path)
    assert_failure(code, stderr, errors.TokenAbsentError, "请插入 U-KEY")


def test_no_application(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    token.add_device(Device("empty-ukey", []))
    code, stderr = sign_with(token, token.uri("empty-ukey"), pki, tmp_path)
    assert_failure(code, stderr, errors.SkfApplicationMissingError, "当前 UKey 不存在应用")
    code, stderr = sign_with(token, token.uri("sm2-bidder-a", "招标"), pki, tmp_path)
    assert_failure(code, stderr, errors.SkfApplicationMissingError, "当前 UKey 不存在应用 招标")
    assert "BIDCRYPT" in stderr  # the applications there are listed


def test_no_container(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    token.add_device(Device("no-container", [Application("BIDCRYPT", pki.pin)]))
    code, stderr = sign_with(token, token.uri("no-container"), pki, tmp_path)
    assert_failure(code, stderr, errors.SkfContainerMissingError, "没有获取到容器")
    code, stderr = sign_with(token, token.uri("sm2-bidder-a", container="other"), pki, tmp_path, "en")
    assert_failure(code, stderr, errors.SkfContainerMissingError, "no container other")


def test_no_signing_certificate(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    device = copy.deepcopy(token.devices["sm2-bidder-a"])
    device.name = "no-sign-cert"
    container = device.applications[0].containers[0]
    container.sign_cert = container.sign_key = None
    token.add_device(device)
    code, stderr = sign_with(token, token.uri("no-sign-cert"), pki, tmp_path)
    assert_failure(code, stderr, errors.SkfCertificateMissingError, "未获取到签名证书")
    assert token.counters("no-sign-cert")["verify_pin"] == 0


def test_locked_pin(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    token.set_retries("sm2-bidder-a", "BIDCRYPT", 0)
    code, stderr = sign_with(token, token.bidder_uri("sm2/bidder-a"), pki, tmp_path)
    assert_failure(code, stderr, errors.PinLockedError, "PIN 码已被锁定")
    assert token.counters("sm2-bidder-a")["verify_pin"] == 0


def test_signing_works_and_the_device_removed_is_clean(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    code, stderr = sign_with(token, token.bidder_uri("sm2/bidder-a"), pki, tmp_path)
    assert code == 0, stderr
    token.inject("sm2-bidder-a", removed_after=0)
    (tmp_path / "sealed.pdf").unlink()
    code, stderr = sign_with(token, token.bidder_uri("sm2/bidder-a"), pki, tmp_path)
    assert_failure(code, stderr, errors.TokenRemovedError, "被拔出")


@pytest.mark.parametrize(
    "fault",
    [
        {"size_lie": {"SKF_ExportCertificate": 64}},
        {"size_lie": {"SKF_EnumApplication": 8}},
        {"sar": {"SKF_ECCSignData": 0x0A0000FF}},
        {"sar": {"SKF_GetPINInfo": 0x0A0000FE}},
        {"sar": {"SKF_ConnectDev": 0x0A000023}},
    ],
)
def test_hostile_answers_are_clean_errors(
    token: SoftSkf, pki: Pki, tmp_path: Path, fault: dict[str, dict[str, int]]
) -> None:
    token.inject("sm2-bidder-a", **fault)  # type: ignore[arg-type]
    code, stderr = sign_with(token, token.bidder_uri("sm2/bidder-a"), pki, tmp_path, "en")
    assert code in (exit_code_for(errors.TokenError), exit_code_for(errors.TokenRemovedError)), stderr
    assert "error[token-" in stderr and "internal error" not in stderr


def test_truncated_certificate_through_the_cli(token: SoftSkf, pki: Pki, tmp_path: Path) -> None:
    token.truncate_certificates("sm2-bidder-a", 200)
    code, stderr = sign_with(token, token.bidder_uri("sm2/bidder-a"), pki, tmp_path, "en")
    assert code == exit_code_for(errors.TokenError) and "unreadable" in stderr, stderr
