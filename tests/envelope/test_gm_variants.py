"""GM/T 0010 envelopes: every variant met in the field reads; round trips; mixed suites; renewals."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    RecipientIdentifier,
    Sm2KeyEncryption,
    decrypt_bytes,
    decrypt_file,
    read_header,
    read_header_file,
    reencrypt,
    suite_cipher,
    unwrap_content_key,
)
from bidcrypt.errors import UnsupportedAlgorithmError, WrongKeyError
from bidcrypt.gm import oids
from tests.envelope.conftest import EC256, P12, RSA, Cert
from tests.envelope.gm_helpers import (
    PKCS7_DATA,
    PKCS7_ENVELOPED_DATA,
    CountingEntry,
    assemble,
    recipient_info,
)
from tests.gm.envelope_pki import Sm2Ca, vector_identity, vectors_ca

BIDDER = vector_identity()
ENCODINGS = ("der", "c1c3c2+04", "c1c3c2", "c1c2c3+04", "c1c2c3")
FORMS = (
    (oids.SM2_ENCRYPT_GMSSL, False),
    (oids.SM2_ENCRYPT_GMSSL, True),
    (oids.SM2_ENCRYPT, False),
    (oids.SM2_ENCRYPT, True),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    outer=st.sampled_from((oids.GM_ENVELOPED_DATA, PKCS7_ENVELOPED_DATA)),
    inner=st.sampled_from((oids.GM_DATA, PKCS7_DATA)),
    cipher=st.sampled_from((oids.SM4_CBC, oids.SM4)),
    form=st.sampled_from(FORMS),
    rid=st.sampled_from(("issuer-serial", "ski")),
    encoding=st.sampled_from(ENCODINGS),
    plaintext=st.binary(max_size=100),
)
def test_every_variant_met_in_the_field_opens(
    outer: str, inner: str, cipher: str, form: tuple[str, bool], rid: str, encoding: str, plaintext: bytes
) -> None:
    """GM or PKCS#7 content types, bare SM4 OID (CFCA), .301.2/.301.3 with or without NULL,
    issuerAndSerialNumber or SubjectKeyIdentifier (CFCA), DER or raw SM2 ciphertexts in either order."""
    key = os.urandom(16)
    info = recipient_info(BIDDER, key, rid=rid, algorithm=form[0], null=form[1], encoding=encoding)
    envelope = assemble([info], key, plaintext, outer=outer, inner=inner, cipher=cipher)
    header = read_header(io.BytesIO(envelope))
    assert header.cipher.cipher is ContentCipher.SM4_CBC
    (recipient,) = header.recipients
    assert recipient.sm2_encryption is not None and recipient.sm2_encryption.oid == form[0]
    assert recipient.sm2_encryption.null_parameters is form[1]
    entry = CountingEntry(BIDDER.entry())
    assert decrypt_bytes(envelope, entry) == plaintext
    # One token operation for a DER SM2Cipher; at most one per reading of a raw one (C3 decides).
    assert (
        entry.sm2_calls == 1 if encoding == "der" or encoding.startswith("c1c3c2") else entry.sm2_calls <= 2
    )


def test_recipient_info_version_0_with_issuer_and_serial_reads_too() -> None:
    key = os.urandom(16)
    envelope = assemble([recipient_info(BIDDER, key, version=0)], key, b"v0", version=0)
    assert decrypt_bytes(envelope, BIDDER.entry()) == b"v0"


SIZES = (0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000)


@settings(max_examples=40, deadline=None)
@given(
    size=st.one_of(st.sampled_from(SIZES), st.integers(0, 600)),
    der=st.sampled_from((None, True, False)),
    form=st.sampled_from([f for f in Sm2KeyEncryption if f.offered]),
    rid=st.sampled_from((None, *RecipientIdentifier)),
)
def test_round_trips_over_sizes_and_chunk_boundaries(
    size: int, der: bool | None, form: Sm2KeyEncryption, rid: RecipientIdentifier | None
) -> None:
    plaintext = os.urandom(size)
    builder = (
        EnvelopeBuilder()
        .add_recipient(BIDDER.certificate, sm2_encryption=form, identifier=rid)
        .set_chunk_size(64)
        .set_der(der)
    )
    envelope = builder.encrypt_bytes(plaintext)
    header = read_header(io.BytesIO(envelope))
    assert header.content_type == oids.GM_ENVELOPED_DATA and header.version == 1
    assert header.indefinite is (der is False)
    assert header.content.length == (size // 16 + 1) * 16
    assert decrypt_bytes(envelope, BIDDER.entry()) == plaintext


def test_a_streamed_gm_envelope_of_unknown_size_is_ber() -> None:
    """A pipe (no size up front) gives indefinite-length BER, still GM/T 0010."""
    out = io.BytesIO()
    EnvelopeBuilder().add_recipient(BIDDER.certificate).set_chunk_size(64).encrypt(
        io.BytesIO(b"z" * 200), out
    )
    header = read_header(io.BytesIO(out.getvalue()))
    assert header.indefinite and header.content.segments > 1
    assert decrypt_bytes(out.getvalue(), BIDDER.entry()) == b"z" * 200


def test_an_sm2_recipient_chooses_the_gm_suite_next_to_rsa_and_ec(cert: Cert, p12: P12) -> None:
    """An SM2 bidder with an RSA or EC opening authority, an SM2 authority with an RSA bidder: GM/T 0010."""
    for other in (RSA, EC256):
        builder = EnvelopeBuilder().add_recipient(cert(other)).add_recipient(BIDDER.certificate)
        assert builder.cipher is ContentCipher.SM4_CBC
        envelope = builder.encrypt_bytes(b"mixed")
        header = read_header(io.BytesIO(envelope))
        assert header.content_type == oids.GM_ENVELOPED_DATA and header.version == 1
        # GmSSL parses the RecipientInfos in order and gives up at one it cannot parse: the SM2
        # one comes first in the DER SET (it is shorter), so GmSSL still opens the envelope.
        assert header.recipients[0].sm2_encryption is not None
        assert decrypt_bytes(envelope, BIDDER.entry()) == b"mixed"
        assert decrypt_bytes(envelope, p12(other)) == b"mixed"
    assert suite_cipher([]) is ContentCipher.AES_256_GCM
    only_rsa = EnvelopeBuilder().add_recipient(cert(RSA)).set_cipher(ContentCipher.SM4_CBC)
    envelope = only_rsa.encrypt_bytes(b"sm4 to rsa")
    assert read_header(io.BytesIO(envelope)).content_type == oids.GM_ENVELOPED_DATA
    assert decrypt_bytes(envelope, p12(RSA)) == b"sm4 to rsa"


@pytest.mark.parametrize("cipher", [c for c in ContentCipher if not c.is_gm])
def test_an_sm2_recipient_in_an_aes_envelope_is_refused(cipher: ContentCipher) -> None:
    builder = EnvelopeBuilder().add_recipient(BIDDER.certificate).set_cipher(cipher)
    with pytest.raises(UnsupportedAlgorithmError, match="GM/T 0010"):
        builder.encrypt_bytes(b"x")


def test_a_renewal_that_kept_the_key_still_opens() -> None:
    """Named by issuer and serial (GmSSL's way): the renewed certificate of the same CA and key opens it."""
    envelope = EnvelopeBuilder().add_recipient(BIDDER.certificate).encrypt_bytes(b"renewed")
    renewed = vectors_ca().issue("renewed", key=BIDDER.key)
    entry = CountingEntry(renewed.entry())
    assert decrypt_bytes(envelope, entry) == b"renewed" and entry.sm2_calls == 1
    by_ski = (
        EnvelopeBuilder()
        .add_recipient(BIDDER.certificate, identifier=RecipientIdentifier.SUBJECT_KEY_IDENTIFIER)
        .encrypt_bytes(b"by key")
    )
    assert decrypt_bytes(by_ski, renewed.entry()) == b"by key"
    # Another CA's certificate for the same key: named only when the old certificate is known.
    elsewhere = Sm2Ca().issue("elsewhere", key=BIDDER.key)
    with pytest.raises(WrongKeyError):
        decrypt_bytes(envelope, elsewhere.entry())
    assert decrypt_bytes(envelope, elsewhere.entry(), certificates=[BIDDER.certificate]) == b"renewed"


def test_the_renewal_rule_tries_few_keys_however_many_recipients_are_listed() -> None:
    """A hostile envelope listing many SM2 recipients of the bidder's CA costs a few token operations."""
    from bidcrypt.envelope.unwrapping import MAX_RENEWAL_TRIES

    ca = vectors_ca()
    builder = EnvelopeBuilder()
    for index in range(MAX_RENEWAL_TRIES + 6):
        builder = builder.add_recipient(ca.issue(f"other-{index}").certificate)
    envelope = builder.encrypt_bytes(b"not yours")
    entry = CountingEntry(vectors_ca().issue("renewed", key=BIDDER.key).entry())
    with pytest.raises(WrongKeyError):
        decrypt_bytes(envelope, entry)
    assert entry.sm2_calls == MAX_RENEWAL_TRIES


def test_an_envelope_naming_a_key_many_times_costs_few_operations() -> None:
    """Recipients that all name the key but do not unwrap: at most MAX_UNWRAP_TRIES token operations."""
    import dataclasses

    from bidcrypt.envelope.unwrapping import MAX_UNWRAP_TRIES
    from bidcrypt.gm import Sm2PrivateKey
    from bidcrypt.keys.software import SoftwareEntry

    envelope = EnvelopeBuilder().add_recipient(BIDDER.certificate).encrypt_bytes(b"x")
    header = read_header(io.BytesIO(envelope))
    listed_often = dataclasses.replace(header, recipients=header.recipients * 20)
    impostor = CountingEntry(SoftwareEntry("impostor", BIDDER.certificate, Sm2PrivateKey.generate(), "test"))
    with pytest.raises(WrongKeyError):
        unwrap_content_key(listed_often, impostor)
    assert impostor.sm2_calls == MAX_UNWRAP_TRIES


def test_a_replaced_key_of_the_same_ca_does_not_open() -> None:
    envelope = EnvelopeBuilder().add_recipient(BIDDER.certificate).encrypt_bytes(b"old key")
    replaced = vectors_ca().issue("replaced")
    header = read_header(io.BytesIO(envelope))
    with pytest.raises(WrongKeyError):
        unwrap_content_key(header, replaced.entry())


def test_several_sm2_recipients_each_open_their_own() -> None:
    ca = Sm2Ca()
    first, second = ca.issue("first"), ca.issue("second")
    envelope = (
        EnvelopeBuilder()
        .add_recipient(first.certificate)
        .add_recipient(second.certificate)
        .encrypt_bytes(b"both")
    )
    for identity in (first, second):
        entry = CountingEntry(identity.entry())
        assert decrypt_bytes(envelope, entry) == b"both" and entry.sm2_calls == 1


def test_gm_t_0010_shared_info_is_read_and_kept(tmp_path: Path) -> None:
    """sharedInfo1 [1] and sharedInfo2 [2] of GM/T 0010's EncryptedContentInfo (GmSSL reads them too)."""
    key = os.urandom(16)
    envelope = assemble([recipient_info(BIDDER, key)], key, b"shared", shared_info=(b"one", b"two"))
    header = read_header(io.BytesIO(envelope))
    assert header.shared_info == ((1, b"one"), (2, b"two"))
    assert header.to_dict()["shared_info"][0] == {"field": "sharedInfo1", "length": 3, "hex": b"one".hex()}
    assert decrypt_bytes(envelope, BIDDER.entry()) == b"shared"
    (tmp_path / "env").write_bytes(envelope)
    replacement = Sm2Ca().issue("replacement")
    reencrypt(tmp_path / "env", tmp_path / "new", BIDDER.entry(), [replacement.certificate])
    new = read_header_file(tmp_path / "new")
    assert new.shared_info == header.shared_info
    decrypt_file(tmp_path / "new", tmp_path / "plain", replacement.entry())
    assert (tmp_path / "plain").read_bytes() == b"shared"
    other = assemble([recipient_info(BIDDER, key)], key, b"x", shared_info=(b"", b"two"))
    assert read_header(io.BytesIO(other)).shared_info == ((1, b""), (2, b"two"))


def test_readable_attributes_are_authenticated_where_the_suite_allows_it(cert: Cert) -> None:
    """What a GM package needs: the same call puts them in authAttrs (AES-GCM) or unprotectedAttrs (GM)."""
    tender = ("2.25.149577572356276075589610191221236026354.1.2", b"\x0c\x06HB-001")
    for recipient, authenticated in ((cert(RSA), True), (BIDDER.certificate, False)):
        builder = EnvelopeBuilder().add_readable_attribute(*tender).add_recipient(recipient)
        header = read_header(io.BytesIO(builder.encrypt_bytes(b"bid")))
        assert header.is_authenticated is authenticated
        (attribute,) = header.readable_attributes
        assert (attribute.oid, attribute.values) == (tender[0], (tender[1],))
        where = header.authenticated_attributes if authenticated else header.unauthenticated_attributes
        assert attribute in where
    twice = EnvelopeBuilder().add_readable_attribute(*tender).add_unauthenticated_attribute(*tender)
    with pytest.raises(ValueError, match="twice"):
        twice.add_recipient(BIDDER.certificate).encrypt_bytes(b"x")
