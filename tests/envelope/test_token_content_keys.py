"""Envelopes opened by a token that never hands out content keys: the key is imported, the token decrypts.

The token is :mod:`tests.token_double` (a software key behind the
interface of an SKF UKey without a private-key decryption): it counts its
imports and its decryption calls, and checks each call as a token would.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    decrypt_bytes,
    decrypt_file,
    read_header,
    reencrypt,
    reencrypt_fresh,
    test_open,
    unwrap_content_key,
)
from bidcrypt.envelope._stream import decrypt_into
from bidcrypt.errors import (
    MechanismUnsupportedError,
    PaddingError,
    TokenAbsentError,
    TokenCipherUnsupportedError,
    TokenError,
    WrongKeyError,
)
from tests.token_double import ImportOnlySource, TokenLedger

from .conftest import AUTHORITY, EC256, P12, RSA, Cert

SM2 = "sm2/authority/enc"


def sealed(cert: Cert, name: str, data: bytes, cipher: ContentCipher, **options: object) -> bytes:
    builder = EnvelopeBuilder().set_cipher(cipher).add_recipient(cert(name), **options)  # type: ignore[arg-type]
    return builder.encrypt_bytes(data)


def token(p12: P12, name: str, max_chunk: int = 4096) -> ImportOnlySource:
    return ImportOnlySource(p12(name), TokenLedger(max_chunk=max_chunk))


V15 = {"key_transport": KeyTransport.PKCS1V15}
CASES = [
    (SM2, ContentCipher.SM4_CBC, {}),
    (RSA, ContentCipher.AES_256_CBC, V15),
    (AUTHORITY, ContentCipher.AES_128_CBC, V15),
    (RSA, ContentCipher.AES_192_CBC, V15),
]


@pytest.mark.parametrize(("name", "cipher", "options"), CASES, ids=lambda c: str(getattr(c, "value", c)))
def test_the_token_decrypts_the_content_with_one_import(
    cert: Cert, p12: P12, name: str, cipher: ContentCipher, options: dict[str, object]
) -> None:
    data = bytes(range(256)) * 100 + b"tail"
    source = token(p12, name, max_chunk=1024)
    assert decrypt_bytes(sealed(cert, name, data, cipher, **options), source) == data
    ledger = source.ledger
    assert ledger.imports == 1 and ledger.open_keys == 0 and ledger.finals == 1
    assert sum(ledger.sizes) == (len(data) // 16 + 1) * 16 and max(ledger.sizes) <= 1024


def test_gcm_content_is_refused_before_any_token_operation(cert: Cert, p12: P12) -> None:
    source = token(p12, RSA)
    envelope = sealed(cert, RSA, b"bid", ContentCipher.AES_256_GCM, **V15)
    with pytest.raises(TokenCipherUnsupportedError) as raised:
        decrypt_bytes(envelope, source)
    assert "AES-256-GCM" in raised.value.message("en") and "PKCS#1 v1.5" in raised.value.message("en")
    assert "CBC" in raised.value.message("zh")
    assert source.ledger.imports == 0


def test_oaep_is_refused_before_any_token_operation(cert: Cert, p12: P12) -> None:
    source = token(p12, RSA)
    envelope = sealed(cert, RSA, b"bid", ContentCipher.AES_256_CBC, key_transport=KeyTransport.OAEP_SHA256)
    with pytest.raises(TokenCipherUnsupportedError, match="OAEP"):
        decrypt_bytes(envelope, source)
    assert source.ledger.imports == 0


def test_key_agreement_is_refused(cert: Cert, p12: P12) -> None:
    source = token(p12, EC256)
    with pytest.raises(TokenCipherUnsupportedError, match="ECDH"):
        decrypt_bytes(sealed(cert, EC256, b"bid", ContentCipher.AES_256_CBC), source)


def _flip_padding(cert: Cert, name: str, cipher: ContentCipher, **options: object) -> tuple[bytes, bytes]:
    """An envelope and its copy whose last plaintext byte decrypts wrong (flipped in the block before)."""
    data = b"x" * 47  # three blocks, the padding one byte
    envelope = sealed(cert, name, data, cipher, **options)
    header = read_header(io.BytesIO(envelope))
    end = header.content.end
    # The second-to-last ciphertext block changes the last plaintext block: flip its last byte. The content
    # is the last thing before the trailer; in a DER envelope its bytes end at the content's end.
    position = end - 16 - 1
    changed = bytearray(envelope)
    changed[position] ^= 0x01
    return envelope, bytes(changed)


def test_a_bad_padding_is_a_padding_error_as_in_software(cert: Cert, p12: P12) -> None:
    good, bad = _flip_padding(cert, SM2, ContentCipher.SM4_CBC)
    assert decrypt_bytes(good, token(p12, SM2)) == b"x" * 47
    source = token(p12, SM2)
    with pytest.raises(PaddingError) as on_token:
        decrypt_bytes(bad, source)
    with pytest.raises(PaddingError) as in_software:
        decrypt_bytes(bad, p12(SM2))
    assert on_token.value.message("en") == in_software.value.message("en")
    assert source.ledger.open_keys == 0


def test_after_pkcs1v15_every_failure_is_the_one_wrong_key_as_in_software(cert: Cert, p12: P12) -> None:
    _, bad = _flip_padding(cert, RSA, ContentCipher.AES_256_CBC, **V15)
    with pytest.raises(WrongKeyError) as on_token:
        decrypt_bytes(bad, token(p12, RSA))
    with pytest.raises(WrongKeyError) as in_software:
        decrypt_bytes(bad, p12(RSA))
    assert on_token.value.message("en") == in_software.value.message("en")
    assert "PKCS#1 v1.5" in on_token.value.message("en")


def test_a_wrapped_key_the_token_refuses_fails_on_the_content_with_the_same_message(
    cert: Cert, p12: P12
) -> None:
    """RFC 3218: a PKCS#1 v1.5 key the token will not import takes the path of a wrong key, one message."""
    envelope = sealed(cert, RSA, b"y" * 100, ContentCipher.AES_256_CBC, **V15)
    header = read_header(io.BytesIO(envelope))
    wrapped = header.recipients[0].encrypted_key
    broken = envelope.replace(wrapped, bytes(len(wrapped)))  # zeros: no valid padding for this key
    source = token(p12, RSA)
    with pytest.raises(WrongKeyError) as on_token:
        decrypt_bytes(broken, source)
    with pytest.raises(WrongKeyError) as in_software:
        decrypt_bytes(broken, p12(RSA))
    assert on_token.value.message("en") == in_software.value.message("en")
    assert source.ledger.imports == 1 and source.ledger.updates == 0  # the random key ran in software


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(0, 700),
    max_chunk=st.sampled_from([16, 32, 48, 80, 256]),
    chunk_size=st.sampled_from([16, 48, 64, 100, 1 << 20]),
    gm=st.booleans(),
)
def test_any_size_and_chunking_decrypts_exactly(
    cert: Cert, p12: P12, size: int, max_chunk: int, chunk_size: int, gm: bool
) -> None:
    data = bytes((i * 7) % 251 for i in range(size))
    name, cipher, options = (SM2, ContentCipher.SM4_CBC, {}) if gm else (RSA, ContentCipher.AES_256_CBC, V15)
    envelope = sealed(cert, name, data, cipher, **options)
    stream = io.BytesIO(envelope)
    header = read_header(stream)
    source = token(p12, name, max_chunk=max_chunk)
    sink = io.BytesIO()
    with unwrap_content_key(header, source) as content_key:
        assert content_key.on_token
        assert decrypt_into(stream, header, content_key.key, sink, chunk_size=chunk_size) == size
    assert sink.getvalue() == data
    ledger = source.ledger
    assert ledger.open_keys == 0 and ledger.imports == 1
    assert all(0 < n <= max_chunk and n % 16 == 0 for n in ledger.sizes)
    assert sum(ledger.sizes) == (size // 16 + 1) * 16


def test_a_content_key_on_the_token_never_leaves_the_process(cert: Cert, p12: P12) -> None:
    envelope = sealed(cert, SM2, b"bid", ContentCipher.SM4_CBC)
    source = token(p12, SM2)
    with unwrap_content_key(read_header(io.BytesIO(envelope)), source) as content_key:
        with pytest.raises(TypeError, match="token"):
            pickle.dumps(content_key)
        with pytest.raises(MechanismUnsupportedError, match="fresh"):
            content_key.exportable()
    assert source.ledger.open_keys == 0
    in_memory = unwrap_content_key(read_header(io.BytesIO(envelope)), p12(SM2))
    assert not in_memory.on_token and pickle.loads(pickle.dumps(in_memory)).key == in_memory.key  # noqa: S301 - our own bytes


def test_a_token_failure_while_decrypting_passes_as_it_is_and_leaves_nothing(
    cert: Cert, p12: P12, tmp_path: Path
) -> None:
    source_file = tmp_path / "bid.p7m"
    source_file.write_bytes(sealed(cert, SM2, b"z" * 10_000, ContentCipher.SM4_CBC))
    source = token(p12, SM2, max_chunk=1024)
    source.ledger.fail_update = (3, TokenAbsentError(token="double-token"))
    with pytest.raises(TokenAbsentError):
        decrypt_file(source_file, tmp_path / "out", source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bid.p7m"]
    assert source.ledger.open_keys == 0


def test_a_token_that_returns_more_than_it_was_given_is_a_token_error(cert: Cert, p12: P12) -> None:
    envelope = sealed(cert, SM2, b"w" * 100, ContentCipher.SM4_CBC)
    source = token(p12, SM2)
    header = read_header(io.BytesIO(envelope))
    with unwrap_content_key(header, source) as content_key:
        key = content_key.key
        real = key.decryptor  # type: ignore[union-attr]

        def greedy(iv: bytes):  # type: ignore[no-untyped-def]
            inner = real(iv)
            original = inner.update
            inner.update = lambda data: original(data) + b"\0" * 16  # type: ignore[method-assign]
            return inner

        key.decryptor = greedy  # type: ignore[union-attr,method-assign]
        with pytest.raises(TokenError, match="returned"):
            decrypt_into(io.BytesIO(envelope), header, key, io.BytesIO())


def test_test_open_and_decrypt_file_on_the_token(cert: Cert, p12: P12, tmp_path: Path) -> None:
    data = b"%PDF-" + b"q" * 20_000
    path = tmp_path / "bid.p7m"
    path.write_bytes(sealed(cert, RSA, data, ContentCipher.AES_256_CBC, **V15))
    source = token(p12, RSA, max_chunk=2048)
    result = test_open(path, source)
    assert result.prefix.startswith(b"%PDF-") and not result.verified
    full = test_open(path, source, full=True)
    assert full.verified and not full.authenticated
    opened = decrypt_file(path, tmp_path / "out.pdf", source)
    assert (tmp_path / "out.pdf").read_bytes() == data and not opened.authenticated
    assert source.ledger.imports == 3 and source.ledger.open_keys == 0


def test_a_rewrap_is_refused_and_a_fresh_key_reencryption_works(cert: Cert, p12: P12, tmp_path: Path) -> None:
    data = b"r" * 5000
    path = tmp_path / "bid.p7m"
    path.write_bytes(sealed(cert, SM2, data, ContentCipher.SM4_CBC))
    source = token(p12, SM2)
    with pytest.raises(MechanismUnsupportedError, match="fresh"):
        reencrypt(path, tmp_path / "rewrapped", source, [cert(SM2)])
    assert not (tmp_path / "rewrapped").exists()
    result = reencrypt_fresh(path, tmp_path / "fresh", source, [cert(SM2)])
    assert result.fresh_key
    assert decrypt_bytes((tmp_path / "fresh").read_bytes(), p12(SM2)) == data
    assert source.ledger.open_keys == 0
