"""The builder: what it refuses, and that what it writes is the CMS the RFCs describe.

The structure checks parse bidcrypt's output with asn1crypto and decrypt it
with cryptography's primitives directly, independent of bidcrypt's reader.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    Recipient,
    RecipientIdentifier,
    decrypt_bytes,
    read_header,
)
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    CertificateUntrustedError,
    UnsupportedAlgorithmError,
    WrongKeyUsageError,
)
from bidcrypt.keys import KeySource
from bidcrypt.trust import TrustStore
from tests.conftest import Pki

from .conftest import AUTHORITY, EC256, EC384, RSA, Cert


def test_builder_is_immutable(cert: Cert) -> None:
    empty = EnvelopeBuilder()
    one = empty.add_recipient(cert(RSA))
    two = one.set_cipher(ContentCipher.AES_256_CBC)
    assert empty.recipients == ()
    assert len(one.recipients) == 1 and one.cipher is ContentCipher.AES_256_GCM
    assert two.cipher is ContentCipher.AES_256_CBC
    assert one.add_recipient(cert(RSA)).recipients == one.recipients  # no duplicates


@pytest.mark.parametrize("name", ["bidder-a/sign", "bidder-b/sign", "bidder-a/legal"])
def test_signing_certificates_are_refused(cert: Cert, name: str) -> None:
    with pytest.raises(WrongKeyUsageError, match="not allowed for encryption"):
        EnvelopeBuilder().add_recipient(cert(name))


def test_expired_and_not_yet_valid_certificates_are_refused(cert: Cert) -> None:
    with pytest.raises(CertificateExpiredError, match="expired on 2024-12-31"):
        EnvelopeBuilder().add_recipient(cert("bidder-a/enc-expired"))
    with pytest.raises(CertificateNotYetValidError, match="2050-01-01"):
        EnvelopeBuilder().add_recipient(cert("bidder-a/enc-not-yet-valid"))


def test_validity_is_checked_at_the_chosen_time(cert: Cert) -> None:
    in_2030 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    builder = EnvelopeBuilder().set_validation_time(dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    builder = builder.add_recipient(cert("bidder-a/enc-expired"))
    with pytest.raises(CertificateExpiredError):
        builder.set_validation_time(in_2030)
    with pytest.raises(CertificateNotYetValidError):
        EnvelopeBuilder().add_recipient(cert(RSA)).set_validation_time(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def test_trust_store_refuses_untrusted_and_revoked(cert: Cert, pki: Pki) -> None:
    trust = TrustStore.load([pki.roots, pki.intermediates], [pki.crl])
    trusted = EnvelopeBuilder().set_trust_store(trust)
    assert trusted.add_recipient(cert(RSA)).add_recipient(cert(EC256)).recipients
    with pytest.raises(CertificateUntrustedError):
        trusted.add_recipient(cert("rogue/enc"))
    with pytest.raises(CertificateRevokedError):
        trusted.add_recipient(cert("bidder-a/enc-revoked"))
    # Set after the recipients, the store is applied to them too.
    with pytest.raises(CertificateUntrustedError):
        EnvelopeBuilder().add_recipient(cert("rogue/enc")).set_trust_store(trust)


def test_unsupported_keys_are_refused(cert: Cert) -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "p521")])
    now = dt.datetime.now(dt.UTC)
    p521 = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.KeyUsage(False, False, False, False, True, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(UnsupportedAlgorithmError, match="secp521r1"):
        EnvelopeBuilder().add_recipient(p521)


def test_programming_errors_are_value_errors(cert: Cert) -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        EnvelopeBuilder().encrypt_bytes(b"x")
    with pytest.raises(ValueError, match="multiple of 16"):
        EnvelopeBuilder().set_chunk_size(1000)
    with pytest.raises(ValueError, match="AES-GCM"):
        (
            EnvelopeBuilder()
            .add_recipient(cert(RSA))
            .set_cipher(ContentCipher.AES_256_CBC)
            .add_authenticated_attribute("1.2.3.4", core.UTF8String("x").dump())
            .encrypt_bytes(b"x")
        )
    with pytest.raises(ValueError, match="content-type attribute"):
        EnvelopeBuilder().add_authenticated_attribute("1.2.840.113549.1.9.3", core.UTF8String("x").dump())
    with pytest.raises(ValueError, match="DER"):
        EnvelopeBuilder().add_authenticated_attribute("1.2.3.4", bytes.fromhex("30800201000000"))


def _content_info(envelope: bytes) -> cms.ContentInfo:
    info = cms.ContentInfo.load(envelope, strict=True)
    info.native  # noqa: B018 - parse everything
    return info


@pytest.mark.parametrize("definite", [False, True])
def test_auth_enveloped_data_structure_and_aad_per_rfc_5083(
    cert: Cert, private_key: Callable[[str], object], definite: bool
) -> None:
    builder = (
        EnvelopeBuilder()
        .set_der(definite)
        .add_recipient(cert(RSA), key_transport=KeyTransport.PKCS1V15)
        .add_authenticated_attribute("2.25.1.2", core.UTF8String("招标项目 A").dump())
        .add_authenticated_attribute("2.25.1.1", core.Integer(1).dump())
        .add_unauthenticated_attribute("2.25.1.3", core.OctetString(b"note").dump())
        .set_chunk_size(4096)
    )
    plaintext = bytes(range(256)) * 100
    envelope = builder.encrypt_bytes(plaintext)
    info = _content_info(envelope)
    assert info["content_type"].native == "authenticated_enveloped_data"
    data = info["content"]
    assert data["version"].native == "v0"
    ri = data["recipient_infos"][0].chosen
    assert ri["version"].native == "v2" and ri["rid"].name == "subject_key_identifier"
    eci = data["auth_encrypted_content_info"]
    assert eci["content_type"].native == "data"
    assert eci["content_encryption_algorithm"]["algorithm"].dotted == ContentCipher.AES_256_GCM.oid
    gcm = core.Sequence.load(eci["content_encryption_algorithm"]["parameters"].dump())
    nonce, icv = gcm[0].native, gcm[1].native
    assert len(nonce) == 12 and icv == 16
    # Authenticated attributes: [1] IMPLICIT, with the content-type attribute, sorted.
    attributes = data["auth_attrs"]
    types = [a["type"].dotted for a in attributes]
    assert set(types) == {"1.2.840.113549.1.9.3", "2.25.1.1", "2.25.1.2"}
    assert data["unauth_attrs"][0]["type"].dotted == "2.25.1.3"
    # Independent decryption: unwrap with the private key, AAD = the SET OF with the universal SET tag.
    key = private_key(RSA)
    assert isinstance(key, rsa.RSAPrivateKey)
    content_key = key.decrypt(ri["encrypted_key"].native, padding.PKCS1v15())
    aad = attributes.dump(force=True)
    aad = b"\x31" + aad[1:]
    assert aad[0] == 0x31
    ciphertext = eci["encrypted_content"].native
    plain = AESGCM(content_key).decrypt(nonce, ciphertext + data["mac"].native, aad)
    assert plain == plaintext
    # With the implicit [1] tag as AAD (the classic mistake), the tag does not verify.
    with pytest.raises(InvalidTag):
        AESGCM(content_key).decrypt(nonce, ciphertext + data["mac"].native, b"\xa1" + aad[1:])
    header = read_header(io.BytesIO(envelope))
    assert header.indefinite is not definite
    assert header.aad == aad
    assert header.attribute("2.25.1.2") is not None
    assert header.attribute("2.25.1.2").value_texts() == ["招标项目 A"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("identifier", "transport", "version"),
    [
        (RecipientIdentifier.ISSUER_AND_SERIAL, KeyTransport.PKCS1V15, "v0"),
        (RecipientIdentifier.SUBJECT_KEY_IDENTIFIER, KeyTransport.PKCS1V15, "v2"),
    ],
)
def test_enveloped_data_versions(
    cert: Cert, identifier: RecipientIdentifier, transport: KeyTransport, version: str
) -> None:
    envelope = (
        EnvelopeBuilder()
        .set_cipher(ContentCipher.AES_256_CBC)
        .set_der()
        .add_recipient(cert(RSA), key_transport=transport, identifier=identifier)
        .encrypt_bytes(b"data")
    )
    data = _content_info(envelope)["content"]
    assert data["version"].native == version
    assert data["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"


def test_key_agreement_structure_per_rfc_5753(cert: Cert) -> None:
    envelope = (
        EnvelopeBuilder()
        .set_der()
        .add_recipient(cert(EC256))
        .add_recipient(cert(EC384), identifier=RecipientIdentifier.ISSUER_AND_SERIAL)
        .encrypt_bytes(b"data")
    )
    data = _content_info(envelope)["content"]
    schemes = {}
    for info in data["recipient_infos"]:
        kari = info.chosen
        assert kari["version"].native == "v3"
        originator = kari["originator"].chosen
        assert originator["algorithm"]["algorithm"].native == "ec"
        schemes[kari["key_encryption_algorithm"]["algorithm"].dotted] = kari
        wrap = core.Sequence.load(kari["key_encryption_algorithm"]["parameters"].dump())
        assert wrap[0].dotted == "2.16.840.1.101.3.4.1.45"  # aes256-wrap for a 32-byte key
        assert len(wrap) == 1  # parameters absent
    assert set(schemes) == {"1.3.132.1.11.1", "1.3.132.1.11.2"}  # sha256kdf for P-256, sha384kdf for P-384
    rid_256 = schemes["1.3.132.1.11.1"]["recipient_encrypted_keys"][0]["rid"]
    rid_384 = schemes["1.3.132.1.11.2"]["recipient_encrypted_keys"][0]["rid"]
    assert rid_256.name == "r_key_id" and rid_384.name == "issuer_and_serial_number"
    assert len(originator["public_key"].native) == 97  # an uncompressed P-384 point


def test_gcm_output_is_indefinite_ber_in_chunks(cert: Cert, p12: Callable[[str], KeySource]) -> None:
    builder = EnvelopeBuilder().add_recipient(cert(AUTHORITY)).set_chunk_size(1024)
    data = b"\x5a" * 5000
    out = io.BytesIO()
    assert builder.encrypt(io.BytesIO(data), out) == len(data)
    envelope = out.getvalue()
    assert envelope.startswith(b"\x30\x80")
    header = read_header(io.BytesIO(envelope))
    assert header.indefinite and not header.content.primitive
    assert header.content.segments == 5 and header.content.length == 5000
    assert decrypt_bytes(envelope, p12(AUTHORITY)) == data


def test_der_output_needs_the_size(cert: Cert) -> None:
    with pytest.raises(ValueError, match="size"):
        EnvelopeBuilder().set_der().add_recipient(cert(RSA)).encrypt(io.BytesIO(b"x"), io.BytesIO())


def test_recipient_object_carries_its_choices(cert: Cert, p12: Callable[[str], KeySource]) -> None:
    recipient = Recipient(cert(RSA), key_transport=KeyTransport.OAEP_SHA1)
    envelope = EnvelopeBuilder().add_recipient(recipient).encrypt_bytes(b"abc")
    assert read_header(io.BytesIO(envelope)).recipients[0].key_transport is KeyTransport.OAEP_SHA1
    assert decrypt_bytes(envelope, p12(RSA)) == b"abc"
