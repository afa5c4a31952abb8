"""An envelope's front (the bytes before the encrypted content) is enough to unwrap its content key."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    content_prefix,
    read_front,
    read_header,
    unwrap_content_key,
)
from bidcrypt.errors import BidcryptError, MalformedEnvelopeError
from bidcrypt.keys import KeySource

PLAINTEXT = os.urandom(100_000)


@pytest.fixture(scope="module", params=["bidder-a/enc", "bidder-b/enc", "sm2/bidder-a/enc"])
def envelope(request: pytest.FixtureRequest, cert: Callable[[str], x509.Certificate]) -> tuple[str, bytes]:
    """BER (AES-GCM, RSA or EC) and DER (GM/T 0010, SM2) envelopes."""
    name = str(request.param)
    return name, EnvelopeBuilder().add_recipient(cert(name)).set_chunk_size(4096).encrypt_bytes(PLAINTEXT)


def test_the_front_unwraps_the_key_and_the_key_decrypts_the_start(
    envelope: tuple[str, bytes], p12: Callable[[str], KeySource]
) -> None:
    name, data = envelope
    header = read_header(io.BytesIO(data))
    front = data[: header.content.offset]
    part = read_front(front)
    assert part.cipher == header.cipher and part.recipients == header.recipients
    with unwrap_content_key(part, p12(name)) as key:
        assert key.cipher in (ContentCipher.AES_256_GCM, ContentCipher.SM4_CBC)
        assert content_prefix(io.BytesIO(data), header, key, 64) == PLAINTEXT[:64]
    with pytest.raises(MalformedEnvelopeError):
        read_front(front[: header.encrypted_content_info])  # stops before the content's algorithm


@given(cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_cut_or_changed_fronts_never_crash(envelope: tuple[str, bytes], cut: int, flip: int) -> None:
    _, data = envelope
    changed = bytearray(data[:cut])
    if flip < len(changed):
        changed[flip] ^= 0x40
    with contextlib.suppress(BidcryptError):
        read_front(bytes(changed))
