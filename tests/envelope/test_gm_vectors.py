"""GM/T 0010 envelopes against GmSSL 3's vectors: they open, and bidcrypt writes their structure.

The vectors (``tests/gm/vectors``, see its README) were made by ``gmssl
cmsencrypt``; GmSSL itself is in no registry, so the peers here are its
files and the openssl 3 command line (``pkeyutl -decrypt`` of the wrapped
key, ``enc -d -sm4-cbc`` of the content, as the vectors' README opens them).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bidcrypt import certs
from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    RecipientIdentifier,
    Sm2KeyEncryption,
    decrypt_bytes,
    decrypt_file,
    read_header,
    read_header_file,
)
from bidcrypt.gm import normalise_der, oids
from bidcrypt.keys import PinSource, open_key_source
from tests.envelope.conftest import Openssl
from tests.envelope.gm_helpers import BULK_SHA256, PASSWORD, SHORT_SHA256, sha256, skeleton, vector, walk
from tests.gm.envelope_pki import vector_identity

ENVELOPES = {"cms/env-short.der": SHORT_SHA256, "cms/env-bulk-100k.der": BULK_SHA256}


@pytest.fixture(scope="module")
def vector_p12():  # type: ignore[no-untyped-def]
    """The vectors' bidder-enc PKCS#12 (SM2 key), opened once."""
    with open_key_source(vector("pki/bidder-enc.p12"), PinSource.of_value(PASSWORD)) as source:
        source.entries()
        yield source


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_the_gmssl_envelopes_open_with_the_vector_key(name: str, vector_p12, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = decrypt_file(vector(name), tmp_path / "out", vector_p12)
    assert sha256((tmp_path / "out").read_bytes()) == ENVELOPES[name]
    assert result.cipher is ContentCipher.SM4_CBC and not result.authenticated
    pem = name.replace(".der", ".pem")  # GmSSL's PEM, label CMS
    assert sha256(decrypt_bytes(vector(name).read_bytes(), vector_p12)) == ENVELOPES[name]
    decrypt_file(vector(pem), tmp_path / "pem", vector_p12)
    assert sha256((tmp_path / "pem").read_bytes()) == ENVELOPES[name]


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_the_gmssl_envelopes_read_as_gm_t_0010(name: str) -> None:
    header = read_header_file(vector(name))
    assert header.content_type == oids.GM_ENVELOPED_DATA and header.version == 1
    assert header.inner_content_type == oids.GM_DATA
    assert not header.indefinite and header.content.primitive
    assert header.suite == "GM/T 0010 EnvelopedData (SM2 / SM4-CBC)"
    (recipient,) = header.recipients
    assert recipient.sm2_encryption is Sm2KeyEncryption.GMSSL
    assert recipient.rid is not None and recipient.rid.matches(vector_identity().certificate)
    assert len(header.cipher.iv) == 16


def _written(plaintext: bytes, **options: object) -> bytes:
    builder = EnvelopeBuilder().add_recipient(vector_identity().certificate, **options)  # type: ignore[arg-type]
    return builder.encrypt_bytes(plaintext)


def test_bidcrypt_writes_the_structure_of_the_gmssl_envelope() -> None:
    """Every fixed part equal: OIDs, versions, the issuer and serial, the algorithm identifiers, tags."""
    theirs = vector("cms/env-short.der").read_bytes()
    ours = _written(vector("data/short.txt").read_bytes())
    assert skeleton(ours) == skeleton(theirs)
    ours_header, theirs_header = read_header(io.BytesIO(ours)), read_header(io.BytesIO(theirs))
    # version 1, issuerAndSerialNumber of bidder-enc, the algorithm: the same bytes.
    assert _fixed_part(ours_header.recipient_infos[0]) == _fixed_part(theirs_header.recipient_infos[0])
    # The keyEncryptionAlgorithm byte for byte: 1.2.156.10197.1.301.2, parameters absent.
    assert bytes.fromhex("300b06092a811ccf5501822d02") in ours
    # The IV as the SM4-CBC parameters, the encryptedContent [0] IMPLICIT primitive.
    content = [e for e in walk(ours) if e.tag == 0x80]
    assert len(content) == 1 and len(content[0].content) == theirs_header.content.length
    (recipient,) = ours_header.recipients
    assert normalise_der(recipient.encrypted_key) == recipient.encrypted_key  # a DER SM2Cipher
    assert ours_header.unauthenticated_attributes == () and ours_header.originator_info is None


def _fixed_part(recipient_info: bytes) -> bytes:
    """A KeyTransRecipientInfo without its encryptedKey and outer length: version, rid, algorithm."""
    elements = walk(recipient_info)
    version, _rid, algorithm = (e for e in elements if e.depth == 1 and e.tag != 0x04)
    end = algorithm.offset + algorithm.header_length + len(algorithm.content)
    return recipient_info[version.offset : end]


def test_the_options_write_the_other_named_forms() -> None:
    identity = vector_identity()
    for form, encoded in (
        (Sm2KeyEncryption.GBT35275, "300b06092a811ccf5501822d03"),
        (Sm2KeyEncryption.GBT35275_NULL, "300d06092a811ccf5501822d030500"),
    ):
        envelope = _written(b"x", sm2_encryption=form)
        assert bytes.fromhex(encoded) in envelope
        assert read_header(io.BytesIO(envelope)).recipients[0].sm2_encryption is form
    by_ski = read_header(io.BytesIO(_written(b"x", identifier=RecipientIdentifier.SUBJECT_KEY_IDENTIFIER)))
    assert by_ski.recipients[0].rid is not None
    assert by_ski.recipients[0].rid.subject_key_identifier == certs.subject_key_identifier(
        identity.certificate
    )
    assert b"\x02\x01\x02\x80\x14" in by_ski.recipient_infos[0]  # version 2, [0] IMPLICIT SKI
    with pytest.raises(ValueError, match="does not write"):
        _written(b"x", sm2_encryption=Sm2KeyEncryption.GMSSL_NULL)


def test_an_envelope_written_by_bidcrypt_opens_with_openssl_primitives_only(
    openssl: Openssl, tmp_path: Path
) -> None:
    """openssl pkeyutl -decrypt of the encryptedKey, then openssl enc -d -sm4-cbc: the vectors' way.

    ``openssl enc`` takes the content key only as ``-K hex`` on its command
    line: acceptable here because it is a test key of a test envelope, never
    how bidcrypt hands a peer a secret.
    """
    plaintext = vector("data/bulk-100k.bin").read_bytes()
    envelope = _written(plaintext)
    header = read_header(io.BytesIO(envelope))
    (tmp_path / "key.der").write_bytes(header.recipients[0].encrypted_key)
    start = header.content.offset
    content = next(e for e in walk(envelope) if e.tag == 0x80)
    assert content.offset == start
    (tmp_path / "content.bin").write_bytes(content.content)
    openssl(
        "pkeyutl", "-decrypt", "-inkey", vector("pki/bidder-enc.key.pem"),
        "-in", tmp_path / "key.der", "-out", tmp_path / "key.bin",
    )  # fmt: skip
    key = (tmp_path / "key.bin").read_bytes()
    assert len(key) == 16
    openssl(
        "enc", "-d", "-sm4-cbc", "-K", key.hex(), "-iv", header.cipher.iv.hex(),
        "-in", tmp_path / "content.bin", "-out", tmp_path / "plain.bin",
    )  # fmt: skip
    assert (tmp_path / "plain.bin").read_bytes() == plaintext


def test_openssl_wraps_a_key_that_bidcrypt_unwraps(openssl: Openssl, tmp_path: Path, vector_p12) -> None:  # type: ignore[no-untyped-def]
    """The other way: the content key wrapped by openssl pkeyutl -encrypt, the content by openssl enc."""
    from tests.envelope.gm_helpers import assemble, recipient_info

    key, iv = bytes(range(16)), bytes(range(16, 32))
    (tmp_path / "key.bin").write_bytes(key)
    openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", vector("pki/bidder-enc.pub.pem"),
        "-in", tmp_path / "key.bin", "-out", tmp_path / "wrapped.der",
    )  # fmt: skip
    plaintext = vector("data/short.txt").read_bytes()
    openssl(
        "enc", "-sm4-cbc", "-K", key.hex(), "-iv", iv.hex(),
        "-in", vector("data/short.txt"), "-out", tmp_path / "content.bin",
    )  # fmt: skip
    wrapped = (tmp_path / "wrapped.der").read_bytes()
    envelope = assemble([recipient_info(vector_identity(), key, wrapped=wrapped)], key, plaintext, iv=iv)
    assert (tmp_path / "content.bin").read_bytes() in envelope  # openssl's SM4-CBC is ours
    assert decrypt_bytes(envelope, vector_p12) == plaintext


def test_a_large_gm_envelope_is_der_and_streams(tmp_path: Path, vector_p12) -> None:  # type: ignore[no-untyped-def]
    """More than one chunk: DER (definite lengths) throughout, decrypted chunk by chunk."""
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 9000)
    builder = EnvelopeBuilder().add_recipient(vector_identity().certificate).set_chunk_size(4096)
    builder.encrypt_file(source, tmp_path / "out.der")
    header = read_header_file(tmp_path / "out.der")
    assert not header.indefinite and header.content.segments == 1
    skeleton((tmp_path / "out.der").read_bytes())  # walks: DER only
    decrypt_file(tmp_path / "out.der", tmp_path / "plain", vector_p12)
    assert (tmp_path / "plain").read_bytes() == source.read_bytes()
