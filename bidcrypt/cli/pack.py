"""`bidcrypt pack`: seal-check, sign and encrypt a bidder's folder into a bid package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509

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
from bidcrypt.cli.progress import byte_progress
from bidcrypt.envelope import ContentCipher, KeyTransport
from bidcrypt.errors import KeyNotFoundError
from bidcrypt.files import InputKind, read_input
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource, Pkcs11Uri, is_pkcs11_uri
from bidcrypt.package import (
    MAX_PROFILE_SIZE,
    PackResult,
    Summary,
    SummaryFile,
    load_summary_file,
    pack,
    profile_target,
    read_profile,
)
from bidcrypt.seal import SealKind
from bidcrypt.trust import TrustStore

_FILE = click.Path(path_type=Path, dir_okay=False)
CIPHERS = {c.value: c for c in ContentCipher}
TRANSPORTS = {t.value: t for t in KeyTransport if t.offered}
PROFILE_FILE = InputKind("a session profile", "会话配置文件", MAX_PROFILE_SIZE)
#: The attributes of a pkcs11: URI that name one object on the token rather than the token.
_OBJECT_ATTRIBUTES = ("object", "id", "type")


def _warn(text: str) -> None:
    click.echo(f"{pick('warning', '警告')}: {text}", err=True)


class _Named(KeySource):
    """The entries of a key source that a reference names (``object=``, ``id=``), for choosing the signer."""

    def __init__(self, source: KeySource, entries: list[KeyEntry]) -> None:
        self.description = source.description
        self._entries = entries

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


def _token_reference(ref: str) -> str:
    """*ref*, a pkcs11: URI, without the attributes that name one object: the whole token."""
    path, separator, query = ref.partition("?")
    scheme, _, attributes = path.partition(":")
    kept = [
        item
        for item in attributes.split(";")
        if item and item.partition("=")[0].strip().lower() not in _OBJECT_ATTRIBUTES
    ]
    return f"{scheme}:{';'.join(kept)}{separator}{query}"


def _whole_token(ref: str, module: str | None, pin_env: str) -> tuple[KeySource, list[KeyEntry] | None]:
    """The key source of *ref* as a whole token, and the entries *ref* names (None: all of them).

    ``pkcs11:token=X;object=sign`` names the signing certificate, but the
    encryption certificate on the same UKey must be asked what it decrypts
    and must test-open the package: the token is opened without the filter.
    """
    if not is_pkcs11_uri(ref):
        return open_source(ref, module, pin_env), None
    uri = Pkcs11Uri.parse(ref)
    if uri.object is None and uri.id is None and uri.type is None:
        return open_source(ref, module, pin_env), None
    source = open_source(_token_reference(ref), module, pin_env)
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
@click.option("--tender", help="Tender (招标项目) identifier (required without --profile).")
@click.option("--lot", help="Lot (标段) identifier (with --profile: one of the profile's lots).")
@click.option(
    "--profile",
    "profile_path",
    type=_FILE,
    help="The session profile (profile.p7s) the agency published: tender, lot, the opening certificate and "
    "its transport come from it (compare its SHA-256 with the announced one).",
)
@keyref_option("--signer", help="The company signing certificate's key (its UKey test-opens the package).")
@click.option(
    "--encrypt-to",
    "encrypt_to",
    required=True,
    multiple=True,
    type=_FILE,
    help="Encryption certificate: the bidder's own, and any opening authority's (with --profile: the "
    "profile gives the authority's). Repeatable.",
)
@click.option("--summary", "summary_path", type=_FILE, help="Opening-summary TOML (price, duration, roles).")
@click.option("--backup", type=_FILE, help="Also write the signed bundle unencrypted (备用文件).")
@click.option(
    "--cipher",
    type=click.Choice(list(CIPHERS)),
    help="Content cipher (default: follows the certificates: aes-256-gcm, or sm4-cbc in a GM/T 0010 "
    "envelope when one of them is SM2; aes-256-cbc when the UKey decrypts only on the token).",
)
@click.option(
    "--key-transport",
    type=click.Choice(list(TRANSPORTS)),
    help="RSA key transport for the bidder's own certificate (default: the strongest the UKey decrypts, "
    "else pkcs1v15).",
)
@click.option(
    "--authority-transport",
    type=click.Choice(list(TRANSPORTS)),
    help="RSA key transport for the opening authority's certificate: the one the authority declares its "
    "UKey decrypts (default oaep = OAEP-SHA256; with --profile: the profile's).",
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
    tender: str | None,
    lot: str | None,
    profile_path: Path | None,
    key_ref: str,
    encrypt_to: tuple[Path, ...],
    summary_path: Path | None,
    backup: Path | None,
    cipher: str | None,
    key_transport: str | None,
    authority_transport: str | None,
    names_from: str,
    allow_unsealed: bool,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Seal-check, sign and encrypt SOURCE_DIR into a bid package (the bidder comes from --key)."""
    from bidcrypt.seal import choose_entry  # imports pyHanko: only when packing

    summary = load_summary_file(summary_path) if summary_path else SummaryFile(Summary())
    certificates = [c for path in encrypt_to for c in certs.load_certificates(path)[:1]]
    store = trust_store(trust, crls)
    source, named = _whole_token(key_ref, module, pin_env)
    with source, byte_progress(pick("packing", "打包中"), as_json=as_json) as progress:
        signer = choose_entry(source if named is None else _Named(source, named), SealKind.COMPANY)
        target = _target(profile_path, tender, lot, authority_transport, signer, certificates, store)
        result = pack(
            source_dir,
            output,
            tender=target.tender,
            lot=target.lot,
            signer=signer,
            encrypt_to=target.encrypt_to,
            summary=summary,
            key_source=source,
            cipher=CIPHERS[cipher] if cipher else None,
            key_transport=TRANSPORTS[key_transport] if key_transport else None,
            authority_transport=target.authority_transport,
            names_from=names_from,
            trust=target.trust,
            backup=backup,
            allow_unsealed=allow_unsealed,
            warn=_warn,
            progress=progress,
        )
    if as_json:
        print_json(result.to_dict())
    else:
        _print_result(result, target.lot, backup)


@dataclass(frozen=True)
class _Target:
    tender: str
    lot: str | None
    encrypt_to: list[x509.Certificate]
    authority_transport: KeyTransport
    trust: TrustStore | None


def _target(
    profile_path: Path | None,
    tender: str | None,
    lot: str | None,
    authority_transport: str | None,
    signer: KeyEntry,
    certificates: list[x509.Certificate],
    store: TrustStore | None,
) -> _Target:
    """What to pack to: the options as given, or (``--profile``) the profile's, contradictions refused."""
    transport = TRANSPORTS[authority_transport] if authority_transport else None
    if profile_path is None:
        if tender is None:
            raise click.UsageError(
                pick("--tender is required (or --profile)", "须指定 --tender（或 --profile）")
            )
        return _Target(tender, lot, certificates, transport or KeyTransport.OAEP_SHA256, store)
    profile = read_profile(read_input(profile_path, PROFILE_FILE))
    own_code = certs.credit_code(signer.certificate)
    authorities = [c for c in certificates if certs.credit_code(c) != own_code]
    target = profile_target(
        profile, tender=tender, lot=lot, authorities=authorities, authority_transport=transport
    )
    own = [c for c in certificates if certs.credit_code(c) == own_code]
    recipients = own + ([target.authority] if target.authority is not None else [])
    transport = target.authority_transport or KeyTransport.OAEP_SHA256
    return _Target(target.tender, target.lot, recipients, transport, target.trusting(store))


def _print_result(result: PackResult, lot: str | None, backup: Path | None) -> None:
    attributes = result.attributes
    click.echo(
        pick(
            f"packed {len(result.manifest.files)} file(s) ({result.manifest.total_size} bytes) "
            f"into {result.output}",
            f"已将 {len(result.manifest.files)} 个文件（{result.manifest.total_size} 字节）"
            f"打包为 {result.output}",
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
    if result.cipher is not None:
        suite = "GM/T 0010 EnvelopedData" if result.cipher.is_gm else "CMS AuthEnvelopedData"
        if not result.cipher.is_gm and not result.cipher.is_aead:
            suite = "CMS EnvelopedData"
        click.echo(f"  {pick('suite', '算法套件')}: {suite} ({result.cipher.value.upper()})")
    click.echo(f"  {pick('manifest SHA-256', '清单摘要')}: {attributes.manifest_sha256.hex()}")
    if result.test_opened:
        click.echo("  " + pick("test-opened on the UKey: OK", "已在 U-KEY 上试解密：正常"))
    if backup:
        click.echo(f"  {pick('backup copy', '备用文件')}: {backup}")
