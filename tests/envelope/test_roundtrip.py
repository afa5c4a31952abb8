"""Property tests: whatever the size, chunking, cipher, framing and recipients, every recipient opens it."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    RecipientIdentifier,
    decrypt_bytes,
    decrypt_file,
    read_header,
)
from bidcrypt.keys import KeySource

from .conftest import AUTHORITY, EC256, EC384, RSA

IDENTITIES = [RSA, EC256, EC384, AUTHORITY]


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, int, bytes]:
    chunk = draw(st.sampled_from([16, 64, 1024, 4096, 65536]))
    size = draw(
        st.one_of(
            st.sampled_from([0, 1, 15, 16, 17, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk - 16]),
            st.integers(min_value=0, max_value=20_000),
        )
    )
    seed = draw(st.binary(min_size=1, max_size=64))
    data = (seed * (size // len(seed) + 1))[:size]
    return chunk, size, data


recipient_mixes = st.lists(
    st.tuples(
        st.sampled_from(IDENTITIES),
        st.sampled_from(list(KeyTransport)),
        st.sampled_from(list(RecipientIdentifier)),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda r: r[0],
)


@given(
    case=cases(),
    cipher=st.sampled_from(list(ContentCipher)),
    definite=st.booleans(),
    recipients=recipient_mixes,
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip(
    cert: Callable[[str], x509.Certificate],
    p12: Callable[[str], KeySource],
    case: tuple[int, int, bytes],
    cipher: ContentCipher,
    definite: bool,
    recipients: list[tuple[str, KeyTransport, RecipientIdentifier]],
) -> None:
    chunk, size, data = case
    builder = EnvelopeBuilder().set_cipher(cipher).set_der(definite).set_chunk_size(chunk)
    for name, transport, identifier in recipients:
        builder = builder.add_recipient(cert(name), key_transport=transport, identifier=identifier)
    envelope = builder.encrypt_bytes(data)
    header = read_header(io.BytesIO(envelope))
    assert header.cipher.cipher is cipher
    assert header.indefinite is not definite
    assert len(header.recipients) == len(recipients)
    expected_length = size if cipher.is_aead else (size // 16 + 1) * 16
    assert header.content.length == expected_length
    if not definite and expected_length:
        assert header.content.segments == -(-expected_length // chunk)
    for name, _, _ in recipients:
        assert decrypt_bytes(envelope, p12(name)) == data


@given(size=st.integers(min_value=0, max_value=300_000), cipher=st.sampled_from(list(ContentCipher)))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_file_round_trip(
    cert: Callable[[str], x509.Certificate],
    p12: Callable[[str], KeySource],
    size: int,
    cipher: ContentCipher,
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        source = directory / "bid.bin"
        data = bytes(i * 7 % 251 for i in range(size))
        source.write_bytes(data)
        builder = EnvelopeBuilder().set_cipher(cipher).set_chunk_size(65536).add_recipient(cert(EC256))
        result = builder.encrypt_file(source, directory / "bid.p7m")
        assert result.plaintext_size == size
        assert result.envelope_size == (directory / "bid.p7m").stat().st_size
        opened = decrypt_file(directory / "bid.p7m", directory / "out.bin", p12(EC256))
        assert opened.plaintext_size == size
        assert (directory / "out.bin").read_bytes() == data
        assert sorted(p.name for p in directory.iterdir()) == ["bid.bin", "bid.p7m", "out.bin"]
