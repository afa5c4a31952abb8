"""Hostile input: whatever the bytes, bidcrypt answers with its own errors, and never wrong plaintext."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    decrypt_bytes,
    read_header,
    read_header_file,
    summary_lines,
)
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.errors import (
    BidcryptError,
    IntegrityError,
    MalformedEnvelopeError,
    PaddingError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.keys import KeySource

from .conftest import AUTHORITY, EC256, P12, RSA, Cert

PLAIN = b"The bid price is 1,234,567.89 yuan. " * 40


@pytest.fixture(scope="module")
def samples(cert: Cert) -> list[tuple[str, bytes, bool]]:
    """(key, envelope, authenticated) for a spread of envelope shapes."""
    from asn1crypto import core

    gcm = EnvelopeBuilder().set_chunk_size(256)
    return [
        (RSA, gcm.add_recipient(cert(RSA), key_transport=KeyTransport.PKCS1V15).encrypt_bytes(PLAIN), True),
        (RSA, gcm.set_der().add_recipient(cert(RSA)).encrypt_bytes(PLAIN), True),
        (
            EC256,
            gcm.add_recipient(cert(EC256))
            .add_authenticated_attribute("2.25.9", core.UTF8String("lot").dump())
            .encrypt_bytes(PLAIN),
            True,
        ),
        (
            RSA,
            EnvelopeBuilder()
            .set_cipher(ContentCipher.AES_256_CBC)
            .add_recipient(cert(RSA), key_transport=KeyTransport.OAEP_SHA1)
            .add_recipient(cert(EC256))
            .encrypt_bytes(PLAIN),
            False,
        ),
    ]


def _open(data: bytes, keys: KeySource) -> bytes:
    header = read_header(io.BytesIO(data))
    summary_lines(header)
    header.to_dict()
    return decrypt_bytes(data, keys)


@st.composite
def mutations(draw: st.DrawFn, size: int) -> Callable[[bytes], bytes]:
    kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "duplicate"]))
    position = draw(st.integers(min_value=0, max_value=size - 1))
    if kind == "flip":
        bit = draw(st.integers(min_value=0, max_value=7))
        return lambda d: d[:position] + bytes([d[position] ^ (1 << bit)]) + d[position + 1 :]
    if kind == "set":
        value = draw(st.sampled_from([0x00, 0x80, 0xFF, 0x30, 0x04, 0x24, 0xA0, 0x84, 0x7F]))
        return lambda d: d[:position] + bytes([value]) + d[position + 1 :]
    if kind == "truncate":
        return lambda d: d[:position]
    if kind == "insert":
        extra = draw(st.binary(min_size=1, max_size=8))
        return lambda d: d[:position] + extra + d[position:]
    length = draw(st.integers(min_value=1, max_value=64))
    if kind == "delete":
        return lambda d: d[:position] + d[position + length :]
    return lambda d: d[: position + length] + d[position : position + length] + d[position + length :]


@given(data=st.data(), which=st.integers(min_value=0, max_value=3))
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_envelopes_raise_only_bidcrypt_errors(
    samples: list[tuple[str, bytes, bool]], p12: P12, data: st.DataObject, which: int
) -> None:
    key, envelope, authenticated = samples[which]
    mutate = data.draw(mutations(len(envelope)))
    mutated = mutate(envelope)
    try:
        plain = _open(mutated, p12(key))
    except BidcryptError:
        return
    if authenticated:
        assert plain == PLAIN  # AES-GCM: anything that opens is the original


def test_every_truncation_is_malformed(samples: list[tuple[str, bytes, bool]], p12: P12) -> None:
    for _, envelope, _ in samples[:2]:
        for length in [*range(0, 600), *range(len(envelope) - 40, len(envelope))]:
            with pytest.raises(MalformedEnvelopeError):
                read_header(io.BytesIO(envelope[:length]))


def test_trailing_data_and_random_files_are_malformed(samples: list[tuple[str, bytes, bool]]) -> None:
    envelope = samples[1][1]
    for data in (envelope + b"\x00", envelope + b"junk", b"PK\x03\x04 not cms", b"\x30\x80", b"\xff" * 64):
        with pytest.raises(MalformedEnvelopeError):
            read_header(io.BytesIO(data))


def test_wrong_content_type_says_what_the_file_is() -> None:
    signed = der.sequence(der.oid(alg.SIGNED_DATA), der.context(0, der.sequence(der.integer(1))))
    with pytest.raises(MalformedEnvelopeError, match="signedData"):
        read_header(io.BytesIO(signed))


def _algorithm_of(envelope: bytes) -> bytes:
    header = read_header(io.BytesIO(envelope))
    encoded = header.cipher.encode()
    assert envelope.count(encoded) == 1
    return encoded


def test_unknown_content_cipher_is_unsupported(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"x")  # BER: inner lengths are free
    sm4 = der.algorithm("1.2.156.10197.1.104", der.octet_string(b"\x00" * 16))
    with pytest.raises(UnsupportedAlgorithmError, match="sm4"):
        read_header(io.BytesIO(envelope.replace(_algorithm_of(envelope), sm4)))


def test_aead_inside_enveloped_data_and_cbc_inside_auth_enveloped_data_are_refused(cert: Cert) -> None:
    cbc = EnvelopeBuilder().set_cipher(ContentCipher.AES_256_CBC).add_recipient(cert(RSA)).encrypt_bytes(b"x")
    gcm = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"x" * 16)
    with pytest.raises(UnsupportedAlgorithmError, match="AuthEnvelopedData"):
        read_header(io.BytesIO(cbc.replace(_algorithm_of(cbc), _algorithm_of(gcm))))
    with pytest.raises(UnsupportedAlgorithmError, match="AuthEnvelopedData"):
        read_header(io.BytesIO(gcm.replace(_algorithm_of(gcm), _algorithm_of(cbc))))


def test_a_pkcs1v15_failure_and_a_wrong_key_fail_the_same_way(cert: Cert, p12: P12) -> None:
    """No padding oracle: a bad unwrap with the named key reads exactly like an unrelated key."""
    authority_ski = cert(AUTHORITY).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    bidder_ski = cert(RSA).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    envelope = (
        EnvelopeBuilder()
        .add_recipient(cert(AUTHORITY), key_transport=KeyTransport.PKCS1V15)
        .encrypt_bytes(b"x")
    )
    misnamed = envelope.replace(authority_ski, bidder_ski)  # now the bidder's key is asked to unwrap it
    errors = []
    for data in (misnamed, envelope):
        with pytest.raises(WrongKeyError) as caught:
            decrypt_bytes(data, p12(RSA))
        errors.append(type(caught.value))
    assert errors == [WrongKeyError, WrongKeyError]


def test_a_content_key_of_the_wrong_length_is_a_wrong_key(cert: Cert, p12: P12) -> None:
    envelope = (
        EnvelopeBuilder()
        .set_cipher(ContentCipher.AES_128_GCM)
        .add_recipient(cert(RSA), key_transport=KeyTransport.PKCS1V15)
        .encrypt_bytes(b"x")
    )
    aes128, aes256 = der.oid(ContentCipher.AES_128_GCM.oid), der.oid(ContentCipher.AES_256_GCM.oid)
    assert len(aes128) == len(aes256) and envelope.count(aes128) == 1
    with pytest.raises(WrongKeyError):
        decrypt_bytes(envelope.replace(aes128, aes256), p12(RSA))


def test_deeply_nested_content_is_malformed(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"")
    empty_segment = b"\xa0\x80\x04\x00\x00\x00"
    assert envelope.count(empty_segment) == 1
    nested = b"\xa0\x80" + b"\x24\x80" * 40 + b"\x04\x00" + b"\x00\x00" * 40 + b"\x00\x00"
    with pytest.raises(MalformedEnvelopeError, match="nested too deeply"):
        read_header(io.BytesIO(envelope.replace(empty_segment, nested)))


def test_over_long_content_length_is_malformed(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"abc")
    assert envelope.count(b"\x04\x03") >= 1
    head = envelope.index(b"\xa0\x80\x04\x03") + 2
    data = envelope[:head] + b"\x04\x84\x7f\xff\xff\xff" + envelope[head + 2 :]
    with pytest.raises(MalformedEnvelopeError, match=r"truncated|exceeds"):
        read_header(io.BytesIO(data))


def test_detached_content_is_unsupported(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"")
    detached = envelope.replace(b"\xa0\x80\x04\x00\x00\x00", b"")
    with pytest.raises(UnsupportedAlgorithmError, match="not in the file"):
        read_header(io.BytesIO(detached))


def test_tampering_is_an_integrity_error(cert: Cert, p12: P12) -> None:
    for cipher in (ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC):
        envelope = (
            EnvelopeBuilder().set_cipher(cipher).set_der().add_recipient(cert(EC256)).encrypt_bytes(PLAIN)
        )
        header = read_header(io.BytesIO(envelope))
        content_start = header.content.end - header.content.length
        targets = [content_start + 5]
        if cipher.is_aead:
            targets.append(len(envelope) - 1)  # the tag
        else:
            targets.append(header.content.end - 17)  # last byte of the next-to-last block: the padding
        for position in targets:
            data = bytearray(envelope)
            data[position] ^= 0x01
            if cipher.is_aead:
                with pytest.raises(IntegrityError) as caught:
                    decrypt_bytes(bytes(data), p12(EC256))
                assert type(caught.value) is IntegrityError and caught.value.code == "tampered"
            elif position != content_start + 5:
                # A wrong padding is not called tampering: a wrong key or a damaged file.
                with pytest.raises(PaddingError) as padding:
                    decrypt_bytes(bytes(data), p12(EC256))
                assert padding.value.code == "bad-padding" and "damaged" in padding.value.message()
            else:
                assert decrypt_bytes(bytes(data), p12(EC256)) != PLAIN  # CBC alone does not notice


def _reframe(envelope: bytes, content: bytes) -> bytes:
    """The BER envelope with its ``[0]`` encryptedContent element replaced by *content*."""
    header = read_header(io.BytesIO(envelope))
    return envelope[: header.content.offset] + content + envelope[header.content.end :]


def _ciphertext(envelope: bytes) -> bytes:
    header = read_header(io.BytesIO(envelope))
    from bidcrypt.envelope._stream import ContentReader

    reader = ContentReader(io.BytesIO(envelope), header)
    buffer = bytearray(header.content.length)
    assert reader.readinto(memoryview(buffer)) == header.content.length
    return bytes(buffer)


def test_nested_constructed_segments_are_read(cert: Cert, p12: P12) -> None:
    """BER allows constructed OCTET STRINGs inside constructed ones, definite or not: all are followed."""
    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(PLAIN)
    data = _ciphertext(envelope)
    a, b, c = data[:100], data[100:1000], data[1000:]
    inner_definite = der.tlv(0x24, der.octet_string(b) + der.octet_string(b""))
    nested = (
        b"\xa0\x80"
        + der.octet_string(a)
        + b"\x24\x80"
        + inner_definite
        + b"\x24\x80"
        + der.octet_string(c)
        + b"\x00\x00"
        + b"\x00\x00"
        + b"\x00\x00"
    )
    reframed = _reframe(envelope, nested)
    assert read_header(io.BytesIO(reframed)).content.segments == 4
    assert decrypt_bytes(reframed, p12(EC256)) == PLAIN
    # A definite-length [0] primitive content works as well (that is DER).
    assert decrypt_bytes(_reframe(envelope, der.tlv(0x80, data)), p12(EC256)) == PLAIN


@pytest.mark.parametrize("run", [1, 2, 33_000])  # 33 000 empty segments: longer than one skip window
@pytest.mark.parametrize("source", ["file", "memory"])
def test_runs_of_empty_segments_anywhere_are_read(
    cert: Cert, p12: P12, tmp_path: Path, run: int, source: str
) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(PLAIN)
    data = _ciphertext(envelope)
    empty, few = b"\x04\x00" * run, b"\x04\x00" * min(run, 2)
    pieces = (
        b"\xa0\x80" + empty + der.octet_string(data[:99]) + few + b"\x04\x81\x00" + few
        + der.octet_string(data[99:]) + few + b"\x00\x00"
    )  # fmt: skip
    reframed = _reframe(envelope, pieces)
    if source == "file":
        (tmp_path / "bid.p7m").write_bytes(reframed)
        header = read_header_file(tmp_path / "bid.p7m")
    else:
        header = read_header(io.BytesIO(reframed))
    assert header.content.length == len(data)
    assert decrypt_bytes(reframed, p12(EC256)) == PLAIN


def test_content_cut_into_millions_of_pieces_is_refused_early(cert: Cert) -> None:
    from bidcrypt.envelope import _segments as header_module

    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(b"")
    pieces = b"\xa0\x80" + b"\x04\x00" * (header_module.MANY_SEGMENTS + 10) + b"\x00\x00"
    with pytest.raises(MalformedEnvelopeError, match="too many tiny pieces"):
        read_header(io.BytesIO(_reframe(envelope, pieces)))


def _count_heads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from bidcrypt.envelope import _ber as ber

    counter = [0]
    original = ber.StreamReader.head

    def counting(self: ber.StreamReader, end: int | None = None) -> ber.Head:
        counter[0] += 1
        return original(self, end)

    monkeypatch.setattr(ber.StreamReader, "head", counting)
    return counter


@pytest.mark.parametrize(
    "pieces",
    [b"\x04\x00" * (4 << 20), b"\x24\x80\x00\x00" * (2 << 20), b"\x24\x02\x04\x00" * (2 << 20)],
    ids=["empty-segments", "empty-constructed-indefinite", "empty-constructed-definite"],
)
def test_eight_megabytes_of_empty_pieces_in_the_content_are_refused_within_the_budget(
    cert: Cert, monkeypatch: pytest.MonkeyPatch, pieces: bytes
) -> None:
    from bidcrypt.envelope import _segments as header_module

    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(b"")
    data = _reframe(envelope, b"\xa0\x80" + pieces + b"\x04\x00\x00\x00")
    heads = _count_heads(monkeypatch)
    with pytest.raises(MalformedEnvelopeError, match="too many tiny pieces"):
        read_header(io.BytesIO(data))
    assert heads[0] <= header_module.MANY_SEGMENTS + 100


def test_eight_megabytes_of_empty_elements_in_the_recipients_are_refused_within_the_budget(
    cert: Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bidcrypt.envelope import _ber as ber

    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"x")
    infos = der.set_of(read_header(io.BytesIO(envelope)).recipient_infos)
    assert envelope.count(infos) == 1
    data = envelope.replace(infos, b"\x31\x80" + b"\x04\x00" * (4 << 20) + b"\x00\x00")
    heads = _count_heads(monkeypatch)
    with pytest.raises(MalformedEnvelopeError, match="recipient infos: too many elements"):
        read_header(io.BytesIO(data))
    assert heads[0] <= ber.MAX_NODES + 100


def _auth_attrs_element(envelope: bytes) -> bytes:
    header = read_header(io.BytesIO(envelope))
    assert header.aad is not None
    element = b"\xa1" + header.aad[1:]
    assert envelope.count(element) == 1
    return element


def test_authenticated_attributes_without_the_content_type_are_malformed(cert: Cert) -> None:
    """RFC 5083 section 2.1: authAttrs, when present, MUST include the content-type attribute."""
    from asn1crypto import core

    envelope = (
        EnvelopeBuilder()
        .add_recipient(cert(EC256))
        .add_authenticated_attribute("2.25.9", core.UTF8String("lot").dump())
        .encrypt_bytes(PLAIN)
    )
    content_type, message_digest = der.oid(alg.CONTENT_TYPE_ATTRIBUTE), der.oid(alg.MESSAGE_DIGEST_ATTRIBUTE)
    assert len(content_type) == len(message_digest)
    element = _auth_attrs_element(envelope)
    renamed = envelope.replace(element, element.replace(content_type, message_digest))
    with pytest.raises(MalformedEnvelopeError, match="must include the content-type attribute"):
        read_header(io.BytesIO(renamed))


def test_authenticated_attributes_are_required_for_content_other_than_data(cert: Cert) -> None:
    """RFC 5083 section 2.1: authAttrs MUST be present when the content type is not id-data."""
    envelope = (
        EnvelopeBuilder().add_recipient(cert(EC256)).set_content_type(alg.SIGNED_DATA).encrypt_bytes(PLAIN)
    )
    assert read_header(io.BytesIO(envelope)).inner_content_type == alg.SIGNED_DATA
    stripped = envelope.replace(_auth_attrs_element(envelope), b"")
    with pytest.raises(MalformedEnvelopeError, match="required for content of type signedData"):
        read_header(io.BytesIO(stripped))
    empty = envelope.replace(_auth_attrs_element(envelope), b"\xa1\x00")
    with pytest.raises(MalformedEnvelopeError, match="empty authenticated attributes"):
        read_header(io.BytesIO(empty))


def test_id_data_without_authenticated_attributes_is_fine(cert: Cert, p12: P12) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(PLAIN)
    header = read_header(io.BytesIO(envelope))
    assert header.aad is None and header.authenticated_attributes == ()
    assert decrypt_bytes(envelope, p12(EC256)) == PLAIN


def test_a_second_content_type_attribute_is_malformed(cert: Cert) -> None:
    from asn1crypto import core

    other = "1.2.840.113549.1.9.99"  # the same length as the content-type OID
    envelope = (
        EnvelopeBuilder()
        .add_recipient(cert(EC256))
        .add_authenticated_attribute(other, core.ObjectIdentifier(alg.DATA).dump())
        .encrypt_bytes(PLAIN)
    )
    element = _auth_attrs_element(envelope)
    twice = envelope.replace(element, element.replace(der.oid(other), der.oid(alg.CONTENT_TYPE_ATTRIBUTE)))
    with pytest.raises(MalformedEnvelopeError, match="content-type attribute once"):
        read_header(io.BytesIO(twice))
