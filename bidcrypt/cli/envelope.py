"""`bidcrypt envelope encrypt|decrypt|inspect`: CMS envelopes from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from bidcrypt import certs
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    open_source,
    print_json,
    trust_options,
    trust_store,
)
from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    Recipient,
    RecipientIdentifier,
    decrypt_file,
    read_header_file,
    summary_lines,
)
from bidcrypt.i18n import pick

#: The ciphers offered on the command line (the library also opens AES-128/192-GCM and AES-192-CBC).
CLI_CIPHERS = (ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC, ContentCipher.AES_128_CBC)

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
    default=ContentCipher.AES_256_GCM.value,
    show_default=True,
    help="Content cipher: AES-GCM makes AuthEnvelopedData, AES-CBC EnvelopedData.",
)
@click.option(
    "--key-transport",
    type=click.Choice([t.value for t in KeyTransport]),
    default=KeyTransport.OAEP_SHA256.value,
    show_default=True,
    help="How the key is wrapped for RSA recipients (oaep = OAEP with SHA-256). "
    "Choose one the recipient's UKey can undo: many only do pkcs1v15.",
)
@click.option(
    "--rid",
    type=click.Choice([r.value for r in RecipientIdentifier]),
    default=RecipientIdentifier.SUBJECT_KEY_IDENTIFIER.value,
    show_default=True,
    help="Name recipients by subject key identifier (survives a same-key renewal) or issuer and serial.",
)
@trust_options()
@click.option("--der", is_flag=True, help="Write DER (definite lengths) instead of streamed BER.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@handles_errors
def encrypt(
    source: Path,
    output: Path,
    recipients: tuple[Path, ...],
    cipher: str,
    key_transport: str,
    rid: str,
    trust: tuple[Path, ...],
    crls: tuple[Path, ...],
    der: bool,
    force: bool,
) -> None:
    """Encrypt IN to one or more encryption certificates, writing the envelope OUT.

    With --trust, recipients that do not chain to those CAs, or that a --crl revokes, are refused.
    """
    builder = (
        EnvelopeBuilder()
        .set_cipher(ContentCipher(cipher))
        .set_der(der)
        .set_trust_store(trust_store(trust, crls))
    )
    for path in recipients:
        certificate, *chain = certs.load_certificates(path)
        builder = builder.add_recipient(
            Recipient(
                certificate,
                key_transport=KeyTransport(key_transport),
                identifier=RecipientIdentifier(rid),
                chain=tuple(chain),
            )
        )
    result = builder.encrypt_file(source, output, force=force)
    click.echo(
        pick(
            f"encrypted {source} -> {output} ({result.cipher.value}, {result.envelope_size} bytes) for:",
            f"已加密 {source} -> {output}（{result.cipher.value}，{result.envelope_size} 字节），接收者：",
        )
    )
    for recipient in result.recipients:
        click.echo(f"  {recipient}")


@envelope.command()
@click.argument("source", metavar="IN", type=_existing)
@click.option(
    "-o", "--output", "output", required=True, type=_path, metavar="OUT", help="The plaintext to write."
)
@click.option(
    "--key", "key_ref", required=True, metavar="KEYREF", help="pkcs11: URI of the UKey, or a PKCS#12 file."
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@key_options
@handles_errors
def decrypt(source: Path, output: Path, key_ref: str, force: bool, module: str | None, pin_env: str) -> None:
    """Open the envelope IN (DER, BER or PEM) with a UKey or PKCS#12 key, writing OUT.

    OUT appears only after the content has verified; nothing is left behind on failure.
    """
    with open_source(key_ref, module, pin_env) as keys:
        result = decrypt_file(source, output, keys, force=force)
    click.echo(
        pick(
            f"decrypted {source} -> {output} ({result.plaintext_size} bytes, {result.cipher.value}, "
            f"recipient {result.recipient_index + 1}: {result.subject})",
            f"已解密 {source} -> {output}（{result.plaintext_size} 字节，{result.cipher.value}，"
            f"接收者 {result.recipient_index + 1}：{result.subject}）",
        )
    )


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
