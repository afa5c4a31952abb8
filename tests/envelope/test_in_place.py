"""Re-encryption of envelopes in place and to new files, for every framing a peer may send.

The package tests cover the journal; here the encodings: definite and
indefinite lengths, every small amount of spare room, and openssl reading
the result.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    decrypt_bytes,
    read_header,
    read_header_file,
    reencrypt,
)
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope._align import ContentFrame
from bidcrypt.errors import MalformedEnvelopeError, OutputError

from .conftest import EC256, P12, RSA, Cert, OpensslOpen

PLAIN = os.urandom(3000)


def _cbc(cert: Cert, reserve: int = 0, plain: bytes = PLAIN) -> bytes:
    builder = EnvelopeBuilder().set_cipher(ContentCipher.AES_256_CBC).add_recipient(cert(RSA))
    return builder.set_reserve(reserve).encrypt_bytes(plain)


def _definite(data: bytes) -> bytes:
    """The same BER with definite lengths everywhere (constructed strings stay constructed)."""

    def element(at: int) -> tuple[bytes, int]:
        head = ber.parse_head(data, at, len(data))
        start = at + head.header_length
        if not head.constructed:
            assert head.length is not None
            return data[at : start + head.length], start + head.length
        children, position = [], start
        while (
            data[position : position + 2] != b"\0\0"
            if head.length is None
            else position < start + head.length
        ):
            child, position = element(position)
            children.append(child)
        if head.length is None:
            position += 2  # the end-of-contents octets
        body = b"".join(children)
        return bytes([data[at]]) + _length(len(body)) + body, position

    encoded, end = element(0)
    assert end == len(data)
    return encoded


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _opens(path: Path, p12: P12, name: str, openssl_open: OpensslOpen, plain: bytes) -> None:
    assert decrypt_bytes(path.read_bytes(), p12(name)) == plain
    assert openssl_open(path, name) == plain


@pytest.mark.openssl
@pytest.mark.parametrize("size", [5, 100, 3000])  # lengths on both sides of 128 and 256
@pytest.mark.parametrize("reserve", [0, 40, 1024])
@pytest.mark.parametrize("in_place", [False, True], ids=["new-file", "in-place"])
def test_a_definite_length_source_is_rewritten_right(
    cert: Cert,
    p12: P12,
    openssl_open: OpensslOpen,
    tmp_path: Path,
    size: int,
    reserve: int,
    in_place: bool,
) -> None:
    plain = PLAIN[:size]
    source = tmp_path / "bid.p7m"
    source.write_bytes(_definite(_cbc(cert, reserve, plain)))
    assert not read_header_file(source).indefinite
    output = None if in_place else tmp_path / "new.p7m"
    try:
        reencrypt(source, output, p12(RSA), [cert(EC256)])
    except OutputError:
        assert in_place and reserve == 0  # no room: refused, and nothing changed
        assert decrypt_bytes(source.read_bytes(), p12(RSA)) == plain
        return
    _opens(output or source, p12, EC256, openssl_open, plain)


@pytest.mark.parametrize("reserve", range(6, 40))
def test_every_small_room_is_filled_exactly(cert: Cert, p12: P12, tmp_path: Path, reserve: int) -> None:
    """Empty segments give any size but one byte; a longer length field gives that byte."""
    source = tmp_path / "bid.p7m"
    source.write_bytes(_cbc(cert, reserve))
    before = _ciphertext_start(source)
    reencrypt(source, None, p12(RSA), [cert("bidder-a/enc-replaced")])
    assert _ciphertext_start(source) == before  # the ciphertext stayed where it was
    assert decrypt_bytes(source.read_bytes(), p12("bidder-a/enc-replaced")) == PLAIN


def _ciphertext_start(path: Path) -> int:
    with path.open("rb") as stream:
        return ContentFrame.read(stream, read_header(stream)).copy_from


def test_a_file_that_shrinks_inside_a_run_of_empty_segments_is_truncated() -> None:
    data = b"\x04\x00" * 100
    reader = ber.StreamReader(io.BytesIO(data), len(data) + 50)  # the size taken before it shrank
    with pytest.raises(MalformedEnvelopeError, match="truncated"):
        reader.skip_empty_segments()
