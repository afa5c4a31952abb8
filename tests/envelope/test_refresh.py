"""Full re-encryption under a fresh content key (:func:`reencrypt_fresh`), at the envelope level."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    decrypt_bytes,
    read_header,
    read_header_file,
    reencrypt_fresh,
    unwrap_content_key,
)
from bidcrypt.errors import OutputExistsError, WrongKeyError

from .conftest import AUTHORITY, EC256, P12, RSA, Cert, OpensslOpen, leftovers

PLAIN = "投标文件 ".encode() * 30_000


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
@pytest.mark.parametrize("der", [False, True])
def test_a_fresh_envelope_opens_with_openssl_and_not_with_the_old_content_key(
    cert: Cert, p12: P12, openssl_open: OpensslOpen, tmp_path: Path, cipher: ContentCipher, der: bool
) -> None:
    source = tmp_path / "bid.p7m"
    builder = EnvelopeBuilder().set_cipher(cipher).set_der(der).add_recipient(cert(EC256))
    source.write_bytes(builder.encrypt_bytes(PLAIN))
    fresh = tmp_path / "fresh.p7m"
    result = reencrypt_fresh(
        source, fresh, p12(EC256), [cert(RSA), cert(AUTHORITY)], chunk_size=1 << 16, reserve=1024
    )
    assert result.fresh_key and result.kept == 0 and result.envelope_size == fresh.stat().st_size
    header = read_header_file(fresh)
    assert header.indefinite and header.cipher.cipher is cipher and header.content.segments > 2
    assert openssl_open(fresh, RSA) == PLAIN  # a peer nobody here wrote
    assert decrypt_bytes(fresh.read_bytes(), p12(AUTHORITY)) == PLAIN
    with pytest.raises(WrongKeyError):
        decrypt_bytes(fresh.read_bytes(), p12(EC256))
    old_key = unwrap_content_key(read_header_file(source), p12(EC256)).key
    assert unwrap_content_key(header, p12(RSA)).key != old_key
    assert leftovers(tmp_path) == []


def test_in_place_replaces_the_file_and_an_existing_output_is_refused(
    cert: Cert, p12: P12, tmp_path: Path
) -> None:
    source = tmp_path / "bid.p7m"
    source.write_bytes(
        EnvelopeBuilder().add_recipient(cert(RSA), key_transport=KeyTransport.OAEP_SHA1).encrypt_bytes(PLAIN)
    )
    (tmp_path / "taken").write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        reencrypt_fresh(source, tmp_path / "taken", p12(RSA), [cert(EC256)])
    assert (tmp_path / "taken").read_bytes() == b"keep"
    before = source.stat().st_ino
    reencrypt_fresh(source, None, p12(RSA), [cert(EC256)])
    assert source.stat().st_ino != before  # a new file renamed over the old one
    assert decrypt_bytes(source.read_bytes(), p12(EC256)) == PLAIN
    assert read_header(io.BytesIO(source.read_bytes())).recipients[0].kind.value == "KeyAgreeRecipientInfo"
    assert leftovers(tmp_path) == []
