"""`bidcrypt pack | inspect | check | reencrypt | unpack`: bid packages and the re-encrypt rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from bidcrypt import certs
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    open_source,
    pin_source,
    print_json,
    trust_options,
    trust_store,
)
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.envelope import ContentCipher
from bidcrypt.errors import ReencryptionRequiredError
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource, KeyTransport, Pkcs11Uri
from bidcrypt.keys.uri import is_pkcs11_uri
from bidcrypt.package import (
    UnpackReport,
    check_package,
    load_summary_file,
    pack,
    read_package_info,
    reencrypt_package,
    unpack,
    verify_backup,
)
from bidcrypt.package.manifest import Summary
from bidcrypt.package.summary_file import SummaryFile
from bidcrypt.seal.kind import SealKind

_FILE = click.Path(path_type=Path, dir_okay=False)
_CIPHERS = {c.value: c for c in ContentCipher}
_TRANSPORTS = {t.value: t for t in KeyTransport}


def _warn(text: str) -> None:
    click.echo(f"{pick('warning', '警告')}: {text}", err=True)


class _Named(KeySource):
    """The entries of a key source that a reference names (``object=``, ``id=``), for choosing the signer."""

    def __init__(self, source: KeySource, entries: list[KeyEntry]) -> None:
        self.description = source.description
        self._entries = entries

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


def _whole_token(ref: str, module: str | None, pin_env: str) -> tuple[KeySource, list[KeyEntry] | None]:
    """The key source of *ref* as a whole token, and the entries *ref* names (None: all of them).

    ``pkcs11:token=X;object=sign`` names the signing certificate, but the
    encryption certificate on the same UKey must be asked what it decrypts
    and must test-open the package: the token is opened without the filter.
    """
    if not is_pkcs11_uri(ref):
        return open_source(ref, module, pin_env), None
    from bidcrypt.errors import KeyNotFoundError
    from bidcrypt.keys.pkcs11_token import Pkcs11Source

    uri = Pkcs11Uri.parse(ref)
    if uri.object is None and uri.id is None and uri.type is None:
        return open_source(ref, module, pin_env), None
    source = Pkcs11Source(
        dataclasses.replace(uri, object=None, id=None, type=None), pin_source(pin_env), module
    )
    try:
        named = [e for e in source.entries() if uri.object in (None, e.label) and uri.id in (None, e.key_id)]
        if not named:
            raise KeyNotFoundError(
                what=Text("certificate", "证书"), ref=f"{source.description}:{uri.object or ''}"
            )
    except BaseException:
        source.close()
        raise
    return source, named


@click.command("pack")
@click.argument("source_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("-o", "--output", required=True, type=_FILE, help="The package to write (.bid).")
@click.option("--tender", required=True, help="Tender (招标项目) identifier.")
@click.option("--lot", help="Lot (标段) identifier.")
@click.option(
    "--signer",
    "signer_ref",
    required=True,
    metavar="KEYREF",
    help="The company signing certificate's key: pkcs11: URI or PKCS#12 file.",
)
@click.option(
    "--encrypt-to",
    "encrypt_to",
    required=True,
    multiple=True,
    type=_FILE,
    help="Encryption certificate: the bidder's own, and any opening authority's. Repeatable.",
)
@click.option("--summary", "summary_path", type=_FILE, help="Opening-summary TOML (price, duration, roles).")
@click.option("--backup", type=_FILE, help="Also write the signed bundle unencrypted (备用文件).")
@click.option(
    "--cipher", type=click.Choice(list(_CIPHERS)), default=ContentCipher.AES_256_GCM.value, show_default=True
)
@click.option(
    "--key-transport",
    type=click.Choice(list(_TRANSPORTS)),
    help="RSA key transport for the bidder's own certificate (default: the strongest the UKey decrypts, "
    "else pkcs1v15).",
)
@click.option(
    "--authority-transport",
    type=click.Choice(list(_TRANSPORTS)),
    default=KeyTransport.OAEP_SHA256.value,
    show_default=True,
    help="RSA key transport for the opening authority's certificate: the one the authority declares its "
    "UKey decrypts (oaep = OAEP-SHA256).",
)
@click.option(
    "--names-from",
    type=click.Choice(["utf-8", "gbk"]),
    default="utf-8",
    show_default=True,
    help="Read source file names that are not UTF-8 as GBK (folders unzipped on Chinese Windows); "
    "they go into the package as UTF-8.",
)
@click.option(
    "--allow-unsealed", is_flag=True, help="Only warn about PDFs without the bidder's company seal."
)
@trust_options()
@key_options
@json_option
@handles_errors
def pack_command(
    source_dir: Path,
    output: Path,
    tender: str,
    lot: str | None,
    signer_ref: str,
    encrypt_to: tuple[Path, ...],
    summary_path: Path | None,
    backup: Path | None,
    cipher: str,
    key_transport: str | None,
    authority_transport: str,
    names_from: str,
    allow_unsealed: bool,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Seal-check, sign and encrypt SOURCE_DIR into a bid package (the bidder comes from --signer)."""
    from bidcrypt.seal.apply import choose_entry  # imports pyHanko: only when packing

    summary = load_summary_file(summary_path) if summary_path else SummaryFile(Summary())
    certificates = [c for path in encrypt_to for c in certs.load_certificates(path)[:1]]
    store = trust_store(trust, crls)
    source, named = _whole_token(signer_ref, module, pin_env)
    with source:
        signer = choose_entry(source if named is None else _Named(source, named), SealKind.COMPANY)
        result = pack(
            source_dir,
            output,
            tender=tender,
            lot=lot,
            signer=signer,
            encrypt_to=certificates,
            summary=summary,
            key_source=source,
            cipher=_CIPHERS[cipher],
            key_transport=_TRANSPORTS[key_transport] if key_transport else None,
            authority_transport=_TRANSPORTS[authority_transport],
            names_from=names_from,
            trust=store,
            backup=backup,
            allow_unsealed=allow_unsealed,
            warn=_warn,
        )
    if as_json:
        print_json(result.to_dict())
        return
    attributes = result.attributes
    click.echo(
        pick(
            f"packed {len(result.manifest.files)} file(s) ({result.manifest.total_size} bytes) into {output}",
            f"已将 {len(result.manifest.files)} 个文件（{result.manifest.total_size} 字节）打包为 {output}",
        )
    )
    click.echo(
        f"  {pick('bidder', '投标人')}: {attributes.bidder_name} ({attributes.credit_code})   "
        f"{pick('tender', '项目')}: {attributes.tender}" + (f"   {pick('lot', '标段')}: {lot}" if lot else "")
    )
    for choice in result.recipients:
        data = choice.to_dict()
        how = f"{data['role']}, {data['key_transport']}: {data['reason']}"
        click.echo(f"  {pick('encrypted to', '加密给')}: {data['subject']} [{how}]")
    click.echo(f"  {pick('manifest SHA-256', '清单摘要')}: {attributes.manifest_sha256.hex()}")
    if result.test_opened:
        click.echo("  " + pick("test-opened on the UKey: OK", "已在 U-KEY 上试解密：正常"))
    if backup:
        click.echo(f"  {pick('backup copy', '备用文件')}: {backup}")


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
    state = pick("authenticated", "已认证") if info.authenticated else pick("readable only", "仅可读")
    cipher = info.header.cipher.cipher.value
    click.echo(f"{pick('attributes', '属性')}: {state}; {pick('cipher', '加密算法')}: {cipher}")
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
@click.option(
    "--current-cert", required=True, type=_FILE, help="The bidder's current encryption certificate."
)
@json_option
@handles_errors
def check_command(package: Path, current_cert: Path, as_json: bool) -> None:
    """Can the package be opened with the key behind the current certificate? (the re-encrypt rule)"""
    verdict = check_package(read_package_info(package), certs.load_certificate(current_cert))
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
@click.option("--key", "key_ref", required=True, metavar="OLDKEYREF", help="The old UKey (or PKCS#12).")
@click.option("--to", "new_cert", required=True, type=_FILE, help="The new encryption certificate.")
@click.option(
    "--key-transport",
    type=click.Choice(list(_TRANSPORTS)),
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
            key_transport=_TRANSPORTS[key_transport] if key_transport else None,
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
@click.option("--key", "key_ref", metavar="KEYREF", help="UKey or PKCS#12 to decrypt with.")
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
        with open_source(key_ref, module, pin_env) as source:
            report = unpack(package, output, source, store)
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
