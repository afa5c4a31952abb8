"""Interoperability with peers nobody here wrote: ``openssl cms`` (both ways) and pyca/cryptography's PKCS #7.

Keys are opened both on the SoftHSM UKey and from the PKCS #12 file; every
comparison is of the plaintext, byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    RecipientIdentifier,
    decrypt_file,
    read_header_file,
)
from bidcrypt.errors import KeyTransportUnsupportedError
from bidcrypt.keys import KeySource, PinSource, open_key_source
from tests.conftest import Pki, SoftHsm

from .conftest import EC256, EC384, RSA, TOKENS, Openssl, OpensslOpen

pytestmark = pytest.mark.openssl

PLAIN = os.urandom(300_000)

#: (identity, openssl -keyopt arguments, what SoftHSM can undo)
OPENSSL_RECIPIENTS = {
    "rsa-pkcs1v15": (RSA, [], True),
    "rsa-oaep-sha256": (RSA, ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"], False),
    "rsa-oaep-sha1": (RSA, ["-keyopt", "rsa_padding_mode:oaep"], True),
    "ec-p256": (EC256, [], True),
    "ec-p256-sha256kdf": (EC256, ["-keyopt", "ecdh_kdf_md:sha256"], True),
    "ec-p256-cofactor": (EC256, ["-keyopt", "ecdh_cofactor_mode:1"], True),
    "ec-p384": (EC384, [], True),
}


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(PLAIN)
    return path


@pytest.fixture(params=["pkcs12", "softhsm"])
def key_source(request: pytest.FixtureRequest, pki: Pki) -> Callable[[str], KeySource]:
    """Open an identity's key from its PKCS #12 file, or on its SoftHSM token."""
    pins = PinSource.of_value(pki.pin)
    if request.param == "pkcs12":
        return lambda name: open_key_source(str(pki.p12(name)), pins)
    softhsm: SoftHsm = request.getfixturevalue("softhsm")
    return lambda name: open_key_source(softhsm.uri(TOKENS[name], "enc"), pins)


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-256-cbc"])
@pytest.mark.parametrize("case", list(OPENSSL_RECIPIENTS))
def test_openssl_envelopes_open_with_bidcrypt(
    openssl: Openssl,
    pki: Pki,
    plain: Path,
    key_source: Callable[[str], KeySource],
    request: pytest.FixtureRequest,
    cipher: str,
    case: str,
) -> None:
    name, options, softhsm_can = OPENSSL_RECIPIENTS[case]
    sealed = plain.with_suffix(".cms")
    openssl(
        "cms", "-encrypt", "-binary", f"-{cipher}", "-in", plain, "-outform", "DER", "-out", sealed,
        "-recip", pki.cert(name), *options,
    )  # fmt: skip
    with key_source(name) as keys:
        if "softhsm" in request.node.name and not softhsm_can:
            # SoftHSM2 does RSA-OAEP with SHA-1 only: it must say so, not fail obscurely.
            with pytest.raises(KeyTransportUnsupportedError, match="RSAES-OAEP"):
                decrypt_file(sealed, plain.with_suffix(".out"), keys)
            assert not plain.with_suffix(".out").exists()
            return
        decrypt_file(sealed, plain.with_suffix(".out"), keys)
    assert plain.with_suffix(".out").read_bytes() == PLAIN


@pytest.mark.parametrize(
    "form",
    [["-stream"], ["-keyid"], ["-outform", "PEM"], ["-stream", "-outform", "PEM"]],
    ids=["stream", "keyid", "pem", "stream-pem"],
)
@pytest.mark.parametrize(
    "cipher", ["aes-256-gcm", "aes-128-gcm", "aes-256-cbc", "aes-192-cbc", "aes-128-cbc"]
)
def test_openssl_framings_open_with_bidcrypt(
    openssl: Openssl, pki: Pki, plain: Path, p12: Callable[[str], KeySource], form: list[str], cipher: str
) -> None:
    sealed = plain.with_suffix(".cms")
    outform = [] if "-outform" in form else ["-outform", "DER"]
    openssl(
        "cms", "-encrypt", "-binary", f"-{cipher}", *form, *outform, "-in", plain, "-out", sealed,
        "-recip", pki.cert(RSA), "-recip", pki.cert(EC256),
    )  # fmt: skip
    header = read_header_file(sealed)
    assert header.indefinite is ("-stream" in form)
    for name in (RSA, EC256):
        out = plain.with_name(f"{name.replace('/', '-')}.out")
        decrypt_file(sealed, out, p12(name))
        assert out.read_bytes() == PLAIN


BIDCRYPT_RECIPIENTS = {
    "rsa-pkcs1v15": (RSA, KeyTransport.PKCS1V15),
    "rsa-oaep-sha256": (RSA, KeyTransport.OAEP_SHA256),
    "rsa-oaep-sha1": (RSA, KeyTransport.OAEP_SHA1),
    "ec-p256": (EC256, KeyTransport.OAEP_SHA256),
    "ec-p384": (EC384, KeyTransport.OAEP_SHA256),
}


@pytest.mark.parametrize("der", [False, True], ids=["ber", "der"])
@pytest.mark.parametrize("identifier", list(RecipientIdentifier), ids=lambda r: r.value)
@pytest.mark.parametrize(
    "cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC], ids=lambda c: c.value
)
@pytest.mark.parametrize("case", list(BIDCRYPT_RECIPIENTS))
def test_bidcrypt_envelopes_open_with_openssl(
    openssl_open: OpensslOpen,
    plain: Path,
    cert: Callable[[str], x509.Certificate],
    case: str,
    cipher: ContentCipher,
    identifier: RecipientIdentifier,
    der: bool,
) -> None:
    name, transport = BIDCRYPT_RECIPIENTS[case]
    sealed = plain.with_suffix(".p7m")
    builder = EnvelopeBuilder().set_cipher(cipher).set_der(der).set_chunk_size(65536)
    builder.add_recipient(cert(name), key_transport=transport, identifier=identifier).encrypt_file(
        plain, sealed
    )
    assert openssl_open(sealed, name) == PLAIN


def test_bidcrypt_empty_content_opens_with_openssl(
    openssl: Openssl, pki: Pki, tmp_path: Path, cert: Callable[[str], x509.Certificate]
) -> None:
    for cipher in (ContentCipher.AES_256_GCM, ContentCipher.AES_128_CBC):
        (tmp_path / "empty").write_bytes(b"")
        sealed = tmp_path / f"{cipher.value}.p7m"
        EnvelopeBuilder().set_cipher(cipher).add_recipient(cert(EC256)).encrypt_file(
            tmp_path / "empty", sealed
        )
        out = tmp_path / f"{cipher.value}.out"
        openssl(
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sealed,
            "-out",
            out,
            "-inkey",
            pki.key(EC256),
        )
        assert out.read_bytes() == b""


def test_two_recipients_open_with_openssl_for_each(
    openssl: Openssl, pki: Pki, plain: Path, cert: Callable[[str], x509.Certificate]
) -> None:
    sealed = plain.with_suffix(".p7m")
    EnvelopeBuilder().add_recipient(cert(RSA)).add_recipient(cert("authority/enc")).encrypt_file(
        plain, sealed
    )
    for name in (RSA, "authority/enc"):
        out = plain.with_name(name.replace("/", "-"))
        openssl(
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sealed,
            "-out",
            out,
            "-inkey",
            pki.key(name),
        )
        assert out.read_bytes() == PLAIN


# --- pyca/cryptography -----------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [algorithms.AES128, algorithms.AES256])
@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
def test_cryptography_pkcs7_envelopes_open_with_bidcrypt(
    cert: Callable[[str], x509.Certificate],
    key_source: Callable[[str], KeySource],
    tmp_path: Path,
    algorithm: type[algorithms.AES128] | type[algorithms.AES256],
    encoding: serialization.Encoding,
) -> None:
    sealed = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(PLAIN)
        .set_content_encryption_algorithm(algorithm)
        .add_recipient(cert(RSA))
        .add_recipient(cert("authority/enc"))
        .encrypt(encoding, [pkcs7.PKCS7Options.Binary])
    )
    (tmp_path / "sealed").write_bytes(sealed)
    with key_source(RSA) as keys:
        decrypt_file(tmp_path / "sealed", tmp_path / "out", keys)
    assert (tmp_path / "out").read_bytes() == PLAIN


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_CBC, ContentCipher.AES_128_CBC])
def test_bidcrypt_cbc_opens_with_cryptography(
    cert: Callable[[str], x509.Certificate], private_key: Callable[[str], object], cipher: ContentCipher
) -> None:
    """cryptography reads DER, issuer-and-serial identifiers and PKCS #1 v1.5 only: bidcrypt writes that."""
    sealed = (
        EnvelopeBuilder()
        .set_cipher(cipher)
        .set_der()
        .add_recipient(
            cert(RSA), key_transport=KeyTransport.PKCS1V15, identifier=RecipientIdentifier.ISSUER_AND_SERIAL
        )
        .encrypt_bytes(PLAIN)
    )
    key = private_key(RSA)
    assert pkcs7.pkcs7_decrypt_der(sealed, cert(RSA), key, []) == PLAIN  # type: ignore[arg-type]
