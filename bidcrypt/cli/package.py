"""`bidcrypt inspect | check | reencrypt | unpack`: bid packages and the re-encrypt rule.

`bidcrypt pack` is in :mod:`bidcrypt.cli.pack`.
"""

from __future__ import annotations

from pathlib import Path

import click

from bidcrypt import certs
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    open_source,
    print_json,
    trust_options,
    trust_store,
)
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.cli.pack import TRANSPORTS
from bidcrypt.cli.progress import byte_progress
from bidcrypt.errors import ReencryptionRequiredError
from bidcrypt.i18n import pick
from bidcrypt.package import (
    UnpackReport,
    check_package,
    read_package_info,
    reencrypt_package,
    unpack,
    verify_backup,
)

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command("inspect")
@click.argument("package", type=_FILE)
@json_option
@handles_errors
def inspect_command(package: Path, as_json: bool) -> None:
    """Show a package's readable attributes and recipients (no key needed)."""
    info = read_package_info(package)
    if as_json:
        print_json(info.to_dict())
        return
    data = info.attributes.to_json()
    labels = {
        "tender": pick("tender", "招标项目"),
        "lot": pick("lot", "标段"),
        "bidder_name": pick("bidder", "投标人"),
        "credit_code": pick("credit code", "信用代码"),
        "created": pick("created", "生成时间"),
        "manifest_sha256": pick("manifest SHA-256", "清单摘要"),
        "format_version": pick("format", "格式版本"),
    }
    for key, value in data.items():
        click.echo(f"{labels[key]}: {value if value is not None else '-'}")
    if info.authenticated:
        state = pick("authenticated", "已认证")
    else:
        state = pick(
            "readable only, bound by the signed manifest (checked at the opening)",
            "仅可读，由签名清单约束（开标时核对）",
        )
    click.echo(f"{pick('suite', '算法套件')}: {info.header.suite}")
    keys = " + ".join(info.key_algorithms)
    cipher = info.header.cipher.cipher.value
    click.echo(f"{pick('keys', '密钥算法')}: {keys}; {pick('cipher', '加密算法')}: {cipher}")
    click.echo(f"{pick('attributes', '属性')}: {state}")
    for recipient in info.header.recipients:
        listed = info.listed_for(recipient)
        who = (
            f"{certs.display_name(listed)} ({pick('serial', '序列号')} {listed.serial_number:x})"
            if listed
            else "-"
        )
        click.echo(
            f"{pick('recipient', '收件人')} {recipient.index}: {recipient.algorithm_name}, "
            f"{recipient.rid.describe() if recipient.rid else '-'}: {who}"
        )


@click.command("check")
@click.argument("package", type=_FILE)
@click.option("--current-cert", type=_FILE, help="The bidder's current encryption certificate.")
@keyref_option(
    required=False,
    help="Or the bidder's current UKey: its encryption certificate is read (no login, no PIN).",
)
@key_options
@json_option
@handles_errors
def check_command(
    package: Path,
    current_cert: Path | None,
    key_ref: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Can the package be opened with the key behind the current certificate? (the re-encrypt rule)"""
    if (current_cert is None) == (key_ref is None):
        raise click.UsageError("give one of --current-cert and --key")
    info = read_package_info(package)
    if current_cert is not None:
        certificate = certs.load_certificate(current_cert)
    else:
        assert key_ref is not None
        with open_source(key_ref, module, pin_env) as source:
            certificate = source.entry(certs.Purpose.ENCRYPTION).certificate
    verdict = check_package(info, certificate)
    if as_json:
        print_json(verdict.to_dict())
        if not verdict.ok:
            raise SystemExit(exit_code_for(ReencryptionRequiredError))
        return
    if verdict.ok:
        click.echo(verdict.message())
        return
    verdict.raise_if_stale()


@click.command("reencrypt")
@click.argument("package", type=_FILE)
@click.option("-o", "--output", type=_FILE, help="The re-encrypted package to write.")
@click.option(
    "--in-place",
    is_flag=True,
    help="Rewrite PACKAGE itself (only its front and tail; journalled, undone if interrupted).",
)
@keyref_option(metavar="OLDKEYREF", help="The old key (the UKey or key file the package opens with).")
@click.option("--to", "new_cert", required=True, type=_FILE, help="The new encryption certificate.")
@click.option(
    "--key-transport",
    type=click.Choice(list(TRANSPORTS)),
    help="RSA key transport for the new certificate (default: as before).",
)
@click.option(
    "--fresh-key",
    is_flag=True,
    help="After a lost or compromised key: encrypt the content again under a new content key, so the "
    "old key and an old copy no longer open it (a full decryption and encryption; needs --trust to "
    "check the other recipients' certificates). Without it only the content key is rewrapped.",
)
@trust_options()
@key_options
@json_option
@handles_errors
def reencrypt_command(
    package: Path,
    output: Path | None,
    in_place: bool,
    key_ref: str,
    new_cert: Path,
    key_transport: str | None,
    fresh_key: bool,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Re-encrypt the package to a new certificate: rewrap its content key, or (--fresh-key) all of it.

    A rewrap keeps the content key and the ciphertext: whoever holds the old key and an old copy can
    still read the result. After a lost or compromised UKey, use --fresh-key. A package already
    encrypted to the new certificate is left as it is (exit 0).
    """
    if (output is None) == (not in_place):
        raise click.UsageError(
            pick("give -o NEW or --in-place (one of them)", "请指定 -o 新文件 或 --in-place（二选一）")
        )
    store = trust_store(trust, crls)
    with open_source(key_ref, module, pin_env) as source:
        result = reencrypt_package(
            package,
            output,
            source,
            certs.load_certificate(new_cert),
            key_transport=TRANSPORTS[key_transport] if key_transport else None,
            trust=store,
            fresh_key=fresh_key,
        )
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(result.message())
    if not result.already:
        click.echo(f"  {result.verdict.message()}")
    if not result.fresh_key and not result.already:
        click.echo(
            "  "
            + pick(
                "the content key is unchanged: if the old UKey was lost or stolen, use --fresh-key",
                "内容密钥未变：若原 U-KEY 丢失或被盗，请使用 --fresh-key",
            )
        )


@click.command("unpack")
@click.argument("package", type=_FILE)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Folder to create.")
@keyref_option(required=False, help="The key to decrypt with.")
@click.option(
    "--backup",
    "backup",
    type=_FILE,
    help="Unpack this backup copy (备用文件) instead, proven against PACKAGE; no key needed.",
)
@trust_options(required=True)
@key_options
@json_option
@handles_errors
def unpack_command(
    package: Path,
    output: Path,
    key_ref: str | None,
    backup: Path | None,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Decrypt and verify a package into a new folder: signature, identity, hashes, seals."""
    store = trust_store(trust, crls)
    assert store is not None  # --trust is required
    if backup is not None:
        report = verify_backup(backup, package, output, store)
    elif key_ref is None:
        raise click.UsageError(pick("give --key (or --backup)", "请指定 --key（或 --backup）"))
    else:
        with (
            open_source(key_ref, module, pin_env) as source,
            byte_progress(pick("decrypting", "解密中"), as_json=as_json) as progress,
        ):
            report = unpack(package, output, source, store, progress=progress)
    _print_report(report, as_json)
    report.raise_for_failure()


def _print_report(report: UnpackReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    for check in report.checks:
        click.echo(f"{'✓' if check.ok else '✗'} {check.label()}: {check.detail}", err=not check.ok)
    if report.manifest is not None and report.ok:
        summary = report.manifest.summary
        if summary.price is not None:
            click.echo(f"{pick('bid price', '投标报价')}: {summary.price} {summary.currency}")
        if summary.duration:
            click.echo(f"{pick('duration', '工期')}: {summary.duration}")
        for key, value in summary.items.items():
            click.echo(f"{key}: {value}")
    if report.output is not None:
        click.echo(pick(f"unpacked into {report.output}", f"已解包到 {report.output}"))
    elif report.error is not None:
        click.echo(
            pick(
                f"{report.package} was not unpacked; nothing was written",
                f"{report.package} 未解包，未写入任何文件",
            ),
            err=True,
        )
