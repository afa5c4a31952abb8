"""`bidcrypt doctor`: the seal-assistant check of a UKey, or of a PKCS#12 or PEM key file."""

from __future__ import annotations

import sys

import click

from bidcrypt.certs import Purpose
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    pin_source,
    print_json,
)
from bidcrypt.cli.exit_codes import exit_code_for_code
from bidcrypt.doctor import CertificateCheck, DoctorReport, examine
from bidcrypt.i18n import pick

_MARKS = {"ok": "✓", "warning": "!", "problem": "✗"}
_PATHS = {
    "fast": lambda: pick(
        "fast (the content key is unwrapped, the content decrypted in software)",
        "快速（解出内容密钥，由软件解密内容）",
    ),
    "standard": lambda: pick(
        "standard (the content key is imported into the UKey, the content decrypted on it: slow)",
        "标准（内容密钥导入 U-KEY，在 U-KEY 上解密内容：较慢）",
    ),
}


@click.command()
@keyref_option("--token", help="The UKey or key file to check.")
@click.option("--expect-uscc", metavar="CODE", help="The bidder's unified social credit code.")
@click.option(
    "--login", is_flag=True, help="Also log in once to check the private keys and what the UKey can decrypt."
)
@key_options
@json_option
@handles_errors
def doctor(
    key_ref: str, expect_uscc: str | None, login: bool, module: str | None, pin_env: str, as_json: bool
) -> None:
    """Check that a UKey is ready: driver, token, PIN state, certificates, decryption path, identity.

    For an skf: UKey: the library, the device, its applications (PIN tries
    left) and containers, each container's certificates.

    Exits 0 when healthy, otherwise with the exit code of the first problem.
    """
    report = examine(
        key_ref, module=module, pin_source=pin_source(pin_env), expect_uscc=expect_uscc, login=login
    )
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    sys.exit(exit_code_for_code(report.problems[0].code) if report.problems else 0)


def _key_state(check: CertificateCheck) -> str:
    if not check.private_key:
        return pick("NO PRIVATE KEY", "无私钥")
    parts = [pick("private key present", "私钥存在")]
    if check.signature is not None:
        parts.append(
            pick("test signature verified", "测试签名验证通过")
            if check.signature
            else pick("TEST SIGNATURE FAILED", "测试签名失败")
        )
    if check.key_transports:
        parts.append(f"{pick('decrypts', '可解密')}: {', '.join(check.key_transports)}")
    return "   ".join(parts)


def _print(report: DoctorReport) -> None:
    for finding in report.findings:
        if finding.level == "ok":
            click.echo(f"{_MARKS['ok']} {finding.message}")
    if report.token is not None and report.token["kind"] == "pkcs11":  # SKF: one line per application
        pin = report.token["pin"]
        state = [name for name, on in pin.items() if on]
        click.echo(f"  PIN: {', '.join(state) if state else pick('ok', '正常')}")
    for check in report.certificates:
        s = check.summary
        roles = "/".join(Purpose(p).label() for p in s.purposes) or pick(
            "no usable key usage", "无可用密钥用法"
        )
        click.echo(f"  [{check.label}] {roles}: {s.subject}")
        click.echo(
            f"      {pick('credit code', '信用代码')}: {s.credit_code or '-'}   "
            f"{pick('issuer', '颁发者')}: {s.issuer}   {pick('serial', '序列号')}: {s.serial}"
        )
        validity = pick("valid", "有效") if check.valid_now else pick("NOT VALID NOW", "当前无效")
        click.echo(f"      {s.not_before} — {s.not_after} ({validity})   {s.key}")
        if check.decryption is not None:
            click.echo(f"      {pick('decryption path', '解密方式')}: {_PATHS[check.decryption]()}")
        if check.private_key is not None:
            click.echo(f"      {_key_state(check)}")
    for finding in report.findings:
        if finding.level != "ok":
            line = f"{_MARKS[finding.level]} {finding.message}"
            if finding.hint:
                line += f" — {finding.hint}"
            click.echo(line, err=finding.level == "problem")
    if report.healthy:
        click.echo(pick("healthy: the key source is ready", "检测通过：可以正常使用"))
