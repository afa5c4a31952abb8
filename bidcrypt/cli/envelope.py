"""`bidcrypt envelope encrypt|decrypt|inspect`: CMS envelopes from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

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
from bidcrypt.envelope import (
    DEFAULT_TRANSPORT,
    ContentCipher,
    EncryptResult,
    EnvelopeBuilder,
    KeyTransport,
    Recipient,
    RecipientIdentifier,
    Sm2KeyEncryption,
    decrypt_file,
    default_reason,
    read_header_file,
    strongest_transport,
    summary_lines,
)
from bidcrypt.errors import KeyNotFoundError
from bidcrypt.i18n import Text, pick

#: The ciphers offered on the command line (the library also opens AES-128/192-GCM and AES-192-CBC).
CLI_CIPHERS = (
    ContentCipher.AES_256_GCM,
    ContentCipher.AES_256_CBC,
    ContentCipher.AES_128_CBC,
    ContentCipher.SM4_CBC,
)

_path = click.Path(path_type=Path, dir_okay=False)
_existing = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group()
def envelope() -> None:
    """Encrypt files to certificates and open them with a UKey (CMS, openssl-compatible)."""


@envelope.command()
@click.argument("source", metavar="IN", type=_existing)
@click.option(
    "-o", "--output", "output", required=True, type=_path, metavar="OUT", help="The envelope to write."
)
@click.option(
    "--recipient",
    "recipients",
    required=True,
    multiple=True,
    type=_existing,
    metavar="CERT",
    help="Encryption certificate (PEM or DER; CA certificates after it are used for the chain). Repeatable.",
)
@click.option(
    "--cipher",
    type=click.Choice([c.value for c in CLI_CIPHERS]),
    help="Content cipher: AES-GCM makes AuthEnvelopedData, AES-CBC EnvelopedData, SM4-CBC the GM/T 0010 "
    "EnvelopedData. Default: sm4-cbc when a recipient is SM2 (it needs it), aes-256-gcm otherwise.",
)
@click.option(
    "--key-transport",
    type=click.Choice([t.value for t in KeyTransport if t.offered]),
    help="How the key is wrapped for RSA recipients whose UKey --key does not hold "
    "(oaep = OAEP with SHA-256). Default: pkcs1v15, which every UKey decrypts; many UKeys do no OAEP.",
)
@keyref_option(
    "--for-key",
    required=False,
    help="The recipient's own UKey (or PKCS#12): asked which key transports it really decrypts, "
    "and the strongest is used for its certificate (logs in: a PIN is needed).",
)
@click.option(
    "--rid",
    type=click.Choice([r.value for r in RecipientIdentifier]),
    help="Name recipients by subject key identifier (survives a same-key renewal) or issuer and serial. "
    "Default: issuer-serial for SM2 recipients (GM/T 0010; the only form GmSSL opens), ski otherwise.",
)
@click.option(
    "--sm2-oid",
    "sm2_oid",
    type=click.Choice([f.value for f in Sm2KeyEncryption if f.offered]),
    default=Sm2KeyEncryption.GMSSL.value,
    show_default=True,
    help="How SM2 recipients' key encryption is named: 301.2 = 1.2.156.10197.1.301.2 without parameters "
    "(GmSSL writes and opens only this), 301.3 = GB/T 35275's 1.2.156.10197.1.301.3, 301.3-null = the "
    "same with NULL parameters (emmansun/gmsm). bidcrypt opens all of them.",
)
@trust_options()
@click.option("--der", is_flag=True, help="Write DER (definite lengths) instead of streamed BER.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@key_options
@json_option
@handles_errors
def encrypt(
    source: Path,
    output: Path,
    recipients: tuple[Path, ...],
    cipher: str | None,
    key_transport: str | None,
    key_ref: str | None,
    rid: str | None,
    sm2_oid: str,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    der: bool,
    force: bool,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Encrypt IN to one or more encryption certificates, writing the envelope OUT.

    With --trust, recipients that do not chain to those CAs, or that a --crl revokes, are refused.
    AES-GCM (the default) is authenticated: any change to the file is detected when it is opened.
    AES-CBC is not: a changed ciphertext byte changes the plaintext and nothing notices. An SM2
    recipient makes a GM/T 0010 envelope (SM2 key transport, SM4-CBC, DER), as GmSSL writes it;
    SM4-CBC has no integrity check either.
    """
    builder = (
        EnvelopeBuilder()
        .set_cipher(None if cipher is None else ContentCipher(cipher))
        .set_der(True if der else None)
        .set_trust_store(trust_store(trust, crls))
    )
    loaded = [certs.load_certificates(path) for path in recipients]
    transports = _transports([c for c, *_ in loaded], key_transport, key_ref, module, pin_env)
    for (certificate, *chain), (transport, _) in zip(loaded, transports, strict=True):
        builder = builder.add_recipient(
            Recipient(
                certificate,
                key_transport=transport or KeyTransport.OAEP_SHA256,
                identifier=None if rid is None else RecipientIdentifier(rid),
                chain=tuple(chain),
                sm2_encryption=Sm2KeyEncryption(sm2_oid),
            )
        )
    chosen = builder.cipher
    with byte_progress(pick("encrypting", "加密中"), as_json=as_json) as progress:
        result = builder.encrypt_file(source, output, force=force, progress=progress)
    if as_json:
        print_json(
            {
                "input": str(source),
                "output": str(output),
                "cipher": result.cipher.value,
                "suite": "GM/T 0010" if chosen.is_gm else alg_name(chosen),
                "authenticated": chosen.is_aead,
                "plaintext_size": result.plaintext_size,
                "envelope_size": result.envelope_size,
                "recipients": [
                    {
                        "recipient": recipient,
                        "key_transport": transport.value if transport else _wrap_name(reason),
                        "reason": reason,
                    }
                    for recipient, (transport, reason) in zip(result.recipients, transports, strict=True)
                ],
            }
        )
    else:
        _print_encrypted(source, output, result, transports)
    if any(reason == default_reason() for _, reason in transports):
        _note(
            pick(
                "RSA recipients whose UKey was not asked get PKCS#1 v1.5, which every UKey decrypts; "
                "--key KEYREF asks the recipient's UKey for the strongest it decrypts, "
                "--key-transport chooses one",
                "未询问 U-KEY 的 RSA 接收者使用所有 U-KEY 都支持的 PKCS#1 v1.5；"
                "--key 可询问接收者的 U-KEY 并选用其支持的最强方式，--key-transport 可指定方式",
            )
        )
    if not chosen.is_aead:
        _note(cbc_note(chosen))


def _print_encrypted(
    source: Path, output: Path, result: EncryptResult, transports: list[tuple[KeyTransport | None, str]]
) -> None:
    click.echo(
        pick(
            f"encrypted {source} -> {output} ({result.cipher.value}, {result.envelope_size} bytes) for:",
            f"已加密 {source} -> {output}（{result.cipher.value}，{result.envelope_size} 字节），接收者：",
        )
    )
    for recipient, (transport, reason) in zip(result.recipients, transports, strict=True):
        how = transport.value if transport else _wrap_name(reason)
        click.echo(f"  {recipient} [{how}: {reason}]")


def alg_name(cipher: ContentCipher) -> str:
    """The CMS content type a cipher makes, in words."""
    return "AuthEnvelopedData" if cipher.is_aead else "EnvelopedData"


def _wrap_name(reason: str) -> str:
    """``sm2`` or ``ecdh``: how a recipient without an RSA key transport gets the key."""
    return "sm2" if reason.startswith("SM2") else "ecdh"


def _note(text: str) -> None:
    click.echo(f"{pick('note', '提示')}: {text}", err=True)


def cbc_note(cipher: ContentCipher = ContentCipher.AES_256_CBC) -> str:
    """What CBC (AES-CBC, SM4-CBC) does not protect, in the current language."""
    name = "SM4-CBC" if cipher.is_gm else "AES-CBC"
    advice = (
        pick(
            "check the plaintext against a signature (a bid package's signed manifest does)",
            "请用签名核对解密内容（投标文件的签名清单即为此用）",
        )
        if cipher.is_gm
        else pick("use AES-GCM where the reader allows it", "读取方支持时请使用 AES-GCM")
    )
    return pick(
        f"{name} has no integrity check: a changed byte of the file changes the plaintext and nothing "
        f"notices (only the padding at the end is checked); {advice}",
        f"{name} 没有完整性校验：文件被改动一个字节，解密出的内容随之改变而不会报错"
        f"（只校验末尾的填充）；{advice}",
    )


def _transports(
    certificates: list[x509.Certificate],
    requested: str | None,
    for_key: str | None,
    module: str | None,
    pin_env: str,
) -> list[tuple[KeyTransport | None, str]]:
    """Each recipient's RSA key transport (None for EC) and why: asked of --for-key, given, or the default."""
    asked: dict[int, tuple[KeyTransport, str]] = {}
    if for_key is not None:
        with open_source(for_key, module, pin_env) as source:
            for index, certificate in enumerate(certificates):
                found = strongest_transport(certificate, source)
                if found is not None:
                    asked[index] = found
            held = any(
                certs.same_public_key(entry.certificate, certificate)
                for entry in source.entries()
                for certificate in certificates
            )
        if not held:
            what = Text("key of any --recipient", "任一 --recipient 的密钥")
            raise KeyNotFoundError(what=what, ref=for_key)
    chosen: list[tuple[KeyTransport | None, str]] = []
    for index, certificate in enumerate(certificates):
        if not isinstance(certs.public_key(certificate), rsa.RSAPublicKey):
            chosen.append((None, certs.encryption_method(certificate).render()))
        elif index in asked:
            chosen.append(asked[index])
        elif requested is not None:
            chosen.append((KeyTransport(requested), pick("as asked", "按指定")))
        else:
            chosen.append((DEFAULT_TRANSPORT, default_reason()))
    return chosen


@envelope.command()
@click.argument("source", metavar="IN", type=_existing)
@click.option(
    "-o", "--output", "output", required=True, type=_path, metavar="OUT", help="The plaintext to write."
)
@keyref_option(help="The recipient's key.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@key_options
@json_option
@handles_errors
def decrypt(
    source: Path, output: Path, key_ref: str, force: bool, module: str | None, pin_env: str, as_json: bool
) -> None:
    """Open the envelope IN (DER, BER or PEM) with a UKey or PKCS#12 key, writing OUT.

    OUT appears only after the content has verified; nothing is left behind on failure. AES-GCM
    content is authenticated; AES-CBC content is not (only its padding is checked), and a note says so.
    """
    with (
        open_source(key_ref, module, pin_env) as keys,
        byte_progress(pick("decrypting", "解密中"), as_json=as_json) as progress,
    ):
        result = decrypt_file(source, output, keys, force=force, progress=progress)
    if as_json:
        print_json(
            {
                "input": str(source),
                "output": str(output),
                "plaintext_size": result.plaintext_size,
                "cipher": result.cipher.value,
                "suite": "GM/T 0010" if result.cipher.is_gm else alg_name(result.cipher),
                "authenticated": result.authenticated,
                "recipient_index": result.recipient_index,
                "subject": result.subject,
            }
        )
    else:
        integrity = (
            pick("authenticated", "已认证")
            if result.authenticated
            else pick("NOT integrity-checked", "未经完整性校验")
        )
        click.echo(
            pick(
                f"decrypted {source} -> {output} ({result.plaintext_size} bytes, {result.cipher.value}, "
                f"{integrity}, recipient {result.recipient_index + 1}: {result.subject})",
                f"已解密 {source} -> {output}（{result.plaintext_size} 字节，{result.cipher.value}，"
                f"{integrity}，接收者 {result.recipient_index + 1}：{result.subject}）",
            )
        )
    if not result.authenticated:
        _note(cbc_note(result.cipher))


@envelope.command()
@click.argument("source", metavar="IN", type=_existing)
@json_option
@handles_errors
def inspect(source: Path, as_json: bool) -> None:
    """Show what the envelope IN says without a key: type, cipher, recipients, attributes, sizes."""
    header = read_header_file(source)
    if as_json:
        print_json({"file": str(source), **header.to_dict()})
        return
    for line in summary_lines(header):
        click.echo(line)
