"""Interoperability with PKI.js, the CMS library of browser-based bidding platforms (both ways).

PKI.js (npm ``pkijs`` on WebCrypto, run by node from ``tests/interop/node``,
installed by ``scripts/setup.sh``) opens and makes only EnvelopedData: it has
no AuthEnvelopedData, so bidcrypt's envelopes for it use AES-CBC. Its
WebCrypto has no RSAES-PKCS1-v1_5, so an RSA recipient must use OAEP. An EC
recipient opens in it only with a ukm: without one, PKI.js feeds the X9.63
KDF an empty entityUInfo instead of none (its issue 335).
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    RecipientIdentifier,
    decrypt_file,
    read_header,
    read_header_file,
)
from bidcrypt.envelope.recipients import RecipientKind
from bidcrypt.envelope.transports import claimed_transports
from bidcrypt.errors import KeyTransportUnsupportedError
from bidcrypt.keys import PinSource, open_key_source
from tests.conftest import Pki, SoftHsm, require_tool, run_cli

from .conftest import EC256, EC384, P12, RSA, TOKENS, Cert

NODE_PEERS = Path(__file__).resolve().parents[1] / "interop" / "node"
SCRIPT = NODE_PEERS / "pkijs_cms.mjs"

PLAIN = os.urandom(100_000)

PkiJs = Callable[..., None]


@pytest.fixture(scope="session")
def pkijs() -> PkiJs:
    """Run ``pkijs_cms.mjs`` (``decrypt`` or ``encrypt``) with node; fails the test when PKI.js fails."""
    node = require_tool("node")
    for package in ("pkijs", "asn1js"):
        if not (NODE_PEERS / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"npm package {package} is not installed in {NODE_PEERS}: run scripts/setup.sh")

    def run(*args: str | Path) -> None:
        result = subprocess.run(
            [node, str(SCRIPT), *map(str, args)], capture_output=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise AssertionError(f"PKI.js {args[0]} failed: {result.stderr.decode(errors='replace')}")

    return run


def _encrypt(
    cert: Cert,
    name: str,
    *,
    cipher: ContentCipher = ContentCipher.AES_256_CBC,
    der: bool = False,
    chunk: int = 65536,
    reserve: int = 0,
    key_transport: KeyTransport = KeyTransport.OAEP_SHA256,
    identifier: RecipientIdentifier = RecipientIdentifier.SUBJECT_KEY_IDENTIFIER,
) -> bytes:
    return (
        EnvelopeBuilder()
        .set_cipher(cipher)
        .add_recipient(cert(name), key_transport=key_transport, identifier=identifier)
        .set_der(der)
        .set_chunk_size(chunk)
        .set_reserve(reserve)
        .encrypt_bytes(PLAIN)
    )


def _opened_by_pkijs(pkijs: PkiJs, pki: Pki, tmp_path: Path, envelope: bytes, name: str) -> bytes:
    sealed = tmp_path / "bidcrypt.cms"
    sealed.write_bytes(envelope)
    out = tmp_path / "pkijs.out"
    pkijs("decrypt", sealed, pki.cert(name), pki.key(name), out)
    return out.read_bytes()


def test_ec_recipients_carry_a_fresh_64_byte_ukm(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).add_recipient(cert(EC384)).encrypt_bytes(b"bid")
    again = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(b"bid")
    recipients = [*read_header(io.BytesIO(envelope)).recipients, *read_header(io.BytesIO(again)).recipients]
    assert all(r.kind is RecipientKind.KEY_AGREEMENT for r in recipients)
    ukms = [r.ukm for r in recipients]
    assert all(ukm is not None and len(ukm) == 64 for ukm in ukms)
    assert len(set(ukms)) == 3


# ukm and framing: DER; BER with indefinite lengths in one segment; BER in 1 KiB segments after
# 1025 bytes of empty ones (``04 00`` and one ``04 81 00``, as re-encryption leaves them).
FORMS: dict[str, dict[str, Any]] = {
    "der": {"der": True},
    "ber": {},
    "ber-segments": {"chunk": 1024, "reserve": 1025},
}


@pytest.mark.parametrize("identifier", list(RecipientIdentifier), ids=lambda r: r.value)
@pytest.mark.parametrize("form", list(FORMS))
def test_bidcrypt_ec_envelopes_open_in_pkijs(
    pkijs: PkiJs, pki: Pki, cert: Cert, tmp_path: Path, form: str, identifier: RecipientIdentifier
) -> None:
    envelope = _encrypt(cert, EC256, identifier=identifier, **FORMS[form])
    header = read_header(io.BytesIO(envelope))
    assert header.indefinite is (form != "der")
    if form == "ber-segments":
        assert header.content.segments > 90
    assert _opened_by_pkijs(pkijs, pki, tmp_path, envelope, EC256) == PLAIN


@pytest.mark.parametrize(
    ("name", "cipher"),
    [
        (EC384, ContentCipher.AES_256_CBC),
        (EC256, ContentCipher.AES_128_CBC),
        (EC256, ContentCipher.AES_192_CBC),
    ],
    ids=["p384", "p256-aes128", "p256-aes192"],
)
def test_bidcrypt_ec_curves_and_key_wraps_open_in_pkijs(
    pkijs: PkiJs, pki: Pki, cert: Cert, tmp_path: Path, name: str, cipher: ContentCipher
) -> None:
    envelope = _encrypt(cert, name, cipher=cipher, chunk=4096)
    assert _opened_by_pkijs(pkijs, pki, tmp_path, envelope, name) == PLAIN


@pytest.mark.parametrize(
    "transport", [KeyTransport.OAEP_SHA256, KeyTransport.OAEP_SHA1], ids=lambda t: t.value
)
def test_bidcrypt_rsa_oaep_envelopes_open_in_pkijs(
    pkijs: PkiJs, pki: Pki, cert: Cert, tmp_path: Path, transport: KeyTransport
) -> None:
    envelope = _encrypt(cert, RSA, key_transport=transport, chunk=1024)
    assert _opened_by_pkijs(pkijs, pki, tmp_path, envelope, RSA) == PLAIN


def _sealed_by_pkijs(pkijs: PkiJs, pki: Pki, tmp_path: Path, name: str, *oaep_hash: str) -> Path:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(PLAIN)
    sealed = tmp_path / "pkijs.cms"
    pkijs("encrypt", plain, pki.cert(name), sealed, *oaep_hash)
    return sealed


@pytest.mark.parametrize(
    ("oaep_hash", "transport"),
    [
        ((), KeyTransport.OAEP_SHA512),
        (("SHA-256",), KeyTransport.OAEP_SHA256),
        (("SHA-1",), KeyTransport.OAEP_SHA1),
    ],
    ids=["default-sha512", "sha256", "sha1"],
)
def test_pkijs_rsa_envelopes_open_with_bidcrypt(
    pkijs: PkiJs, pki: Pki, p12: P12, tmp_path: Path, oaep_hash: tuple[str, ...], transport: KeyTransport
) -> None:
    """PKI.js's default RSA-OAEP names SHA-512 for the digest and MGF1 (RFC 8017 allows it)."""
    sealed = _sealed_by_pkijs(pkijs, pki, tmp_path, RSA, *oaep_hash)
    [recipient] = read_header_file(sealed).recipients
    assert recipient.key_transport is transport
    decrypt_file(sealed, tmp_path / "out.bin", p12(RSA))
    assert (tmp_path / "out.bin").read_bytes() == PLAIN


@pytest.mark.parametrize("command", [("envelope", "encrypt"), ("pack",), ("reencrypt",)])
def test_oaep_sha512_is_read_but_never_offered(p12: P12, command: tuple[str, ...]) -> None:
    """What bidcrypt writes does not change: no option names OAEP-SHA512 and no trial of a key offers it."""
    assert KeyTransport.OAEP_SHA512 not in claimed_transports(p12(RSA).entries()[0])
    result = run_cli(*command, "--key-transport", "oaep-sha512")
    assert result.exit_code == 2
    assert "'oaep-sha512' is not one of" in result.stderr


@pytest.mark.softhsm
def test_a_pkijs_oaep_sha512_envelope_on_a_token_that_cannot_undo_it(
    pkijs: PkiJs, pki: Pki, softhsm: SoftHsm, tmp_path: Path
) -> None:
    """SoftHSM2 does OAEP with SHA-1 only: the token says so, naming the transport, and nothing is written."""
    sealed = _sealed_by_pkijs(pkijs, pki, tmp_path, RSA)
    with (
        open_key_source(softhsm.uri(TOKENS[RSA], "enc"), PinSource.of_value(pki.pin)) as keys,
        pytest.raises(KeyTransportUnsupportedError, match=r"RSAES-OAEP \(SHA-512\)"),
    ):
        decrypt_file(sealed, tmp_path / "out.bin", keys)
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("name", [EC256, EC384])
def test_pkijs_ec_envelopes_open_with_bidcrypt(
    pkijs: PkiJs, pki: Pki, p12: P12, tmp_path: Path, name: str
) -> None:
    """PKI.js writes a 64-byte ukm, a SHA-512 KDF, AES-256 wrap; it names recipients by issuer and serial."""
    sealed = _sealed_by_pkijs(pkijs, pki, tmp_path, name)
    [recipient] = read_header_file(sealed).recipients
    assert recipient.ukm is not None and len(recipient.ukm) == 64
    assert recipient.rid is not None and recipient.rid.serial_number is not None
    decrypt_file(sealed, tmp_path / "out.bin", p12(name))
    assert (tmp_path / "out.bin").read_bytes() == PLAIN


def test_what_pkijs_cannot_open_fails_the_test(pkijs: PkiJs, pki: Pki, cert: Cert, tmp_path: Path) -> None:
    """The harness sees PKI.js fail: a wrapped key changed by one bit does not unwrap (AES key wrap)."""
    envelope = _encrypt(cert, EC256)
    wrapped = read_header(io.BytesIO(envelope)).recipients[0].encrypted_key
    assert envelope.count(wrapped) == 1
    changed = envelope.replace(wrapped, bytes([wrapped[0] ^ 1]) + wrapped[1:])
    with pytest.raises(AssertionError, match=r"PKI\.js decrypt failed: .*OperationError"):
        _opened_by_pkijs(pkijs, pki, tmp_path, changed, EC256)
