"""The progress callback of the streaming envelope calls: bytes done and their total, chunk by chunk."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.envelope import ContentCipher, EnvelopeBuilder, decrypt_file, read_header_file

from .conftest import P12, RSA, Cert

MIB = 1 << 20


class Calls(list[tuple[int, int | None]]):
    """The progress calls, in order."""

    def __call__(self, done: int, total: int | None) -> None:
        self.append((done, total))


def _builder(cert: Cert, cipher: ContentCipher = ContentCipher.AES_256_GCM) -> EnvelopeBuilder:
    return EnvelopeBuilder().set_cipher(cipher).add_recipient(cert(RSA))


def test_encrypt_file_reports_each_chunk_against_the_file_size(cert: Cert, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x5a" * (3 * MIB + 5))
    calls = Calls()
    result = _builder(cert).encrypt_file(source, tmp_path / "big.p7m", progress=calls)
    size = 3 * MIB + 5
    assert calls == [(MIB, size), (2 * MIB, size), (3 * MIB, size), (size, size)]
    assert result.plaintext_size == size


def test_encrypt_of_a_stream_of_unknown_size_has_no_total(cert: Cert) -> None:
    calls = Calls()
    sink = io.BytesIO()
    _builder(cert).encrypt(io.BytesIO(b"x" * (MIB + 1)), sink, progress=calls)
    assert calls == [(MIB, None), (MIB + 1, None)]


def test_an_empty_file_reports_once(cert: Cert, tmp_path: Path) -> None:
    source = tmp_path / "empty"
    source.write_bytes(b"")
    calls = Calls()
    _builder(cert).encrypt_file(source, tmp_path / "empty.p7m", progress=calls)
    assert calls == [(0, 0)]


@given(
    length=st.integers(0, 5000),
    chunk=st.integers(1, 64).map(lambda n: n * 16),
    cipher=st.sampled_from([ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC]),
)
def test_encrypt_progress_rises_to_the_length(
    cert: Cert, length: int, chunk: int, cipher: ContentCipher
) -> None:
    calls = Calls()
    data = bytes(range(256)) * (length // 256) + bytes(length % 256)
    _builder(cert, cipher).set_chunk_size(chunk).encrypt(
        io.BytesIO(data), io.BytesIO(), len(data), progress=calls
    )
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == length
    assert all(total == length for _, total in calls)
    assert len(calls) <= length // chunk + 1


def test_decrypt_file_reports_the_ciphertext_read(cert: Cert, p12: P12, tmp_path: Path) -> None:
    for cipher in (ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC):
        source = tmp_path / f"{cipher.value}.bin"
        source.write_bytes(b"\xa5" * (2 * MIB + 100))
        sealed = tmp_path / f"{cipher.value}.p7m"
        _builder(cert, cipher).encrypt_file(source, sealed)
        length = read_header_file(sealed).content.length
        calls = Calls()
        result = decrypt_file(sealed, tmp_path / f"{cipher.value}.out", p12(RSA), progress=calls)
        assert result.plaintext_size == 2 * MIB + 100
        done = [d for d, _ in calls]
        assert done == sorted(done) and done[-1] == length and len(calls) == 3
        assert {total for _, total in calls} == {length}


def test_without_a_callback_nothing_changes(cert: Cert, p12: P12, tmp_path: Path) -> None:
    source = tmp_path / "plain"
    source.write_bytes(b"abc" * 1000)
    _builder(cert).encrypt_file(source, tmp_path / "plain.p7m")
    decrypt_file(tmp_path / "plain.p7m", tmp_path / "plain.out", p12(RSA))
    assert (tmp_path / "plain.out").read_bytes() == source.read_bytes()
