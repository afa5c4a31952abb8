"""Property tests: the small elements read and written with asn1crypto.

Each element round-trips, is written byte for byte as the hand-written DER
of earlier versions wrote it (so envelopes keep their bytes), and any bytes
at all -- random, or a valid element with one byte changed -- either parse
or give an envelope error, never anything else.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope import key_agreement as ka
from bidcrypt.envelope import key_transport as kt
from bidcrypt.envelope.algorithms import CipherParameters, ContentCipher, KeyTransport
from bidcrypt.envelope.identifiers import RecipientId, RecipientIdentifier, RecipientKind
from bidcrypt.errors import EnvelopeError

from .conftest import EC256, RSA, Cert

_ciphers = st.sampled_from(list(ContentCipher))
_wraps = st.sampled_from(list(alg.KEY_WRAPS))
_octets = st.binary(min_size=1, max_size=80)
_serials = st.integers(min_value=1, max_value=(1 << 159) - 1)
_ISSUER_SERIAL = RecipientIdentifier.ISSUER_AND_SERIAL


@st.composite
def _cipher_parameters(draw: st.DrawFn) -> CipherParameters:
    cipher = draw(_ciphers)
    if cipher.is_aead:
        nonce = draw(st.binary(min_size=alg.GCM_NONCE_RANGE.start, max_size=alg.GCM_NONCE_RANGE.stop - 1))
        return CipherParameters(cipher, nonce, draw(st.sampled_from(alg.GCM_TAG_LENGTHS)))
    return CipherParameters(cipher, draw(st.binary(min_size=16, max_size=16)))


def _hand_written(parameters: CipherParameters) -> bytes:
    """The ContentEncryptionAlgorithmIdentifier as bidcrypt wrote it by hand before asn1crypto."""
    if parameters.cipher.is_aead:
        body = der.octet_string(parameters.iv)
        if parameters.tag_length != 12:  # DER leaves out a DEFAULT value
            body += der.integer(parameters.tag_length)
        return der.algorithm(parameters.cipher.oid, der.sequence(body))
    return der.algorithm(parameters.cipher.oid, der.octet_string(parameters.iv))


@given(_cipher_parameters())
def test_content_cipher_parameters_round_trip_with_the_same_bytes(parameters: CipherParameters) -> None:
    encoded = parameters.encode()
    assert encoded == _hand_written(parameters)
    assert CipherParameters.parse(encoded) == parameters


@given(st.sampled_from(list(KeyTransport)))
def test_key_transport_identifiers_round_trip(transport: KeyTransport) -> None:
    assert kt.parse_key_transport(kt.encode_key_transport(transport)) is transport


@given(wrap=_wraps, ukm=st.none() | st.binary(max_size=64), kek_length=st.sampled_from([16, 24, 32]))
def test_ecc_cms_shared_info_has_the_bytes_of_rfc_5753(wrap: str, ukm: bytes | None, kek_length: int) -> None:
    key_wrap = alg.key_wrap_algorithm(wrap)
    assert key_wrap == der.algorithm(wrap)
    expected = der.sequence(
        key_wrap,
        der.context(0, der.octet_string(ukm)) if ukm is not None else b"",
        der.context(2, der.octet_string((kek_length * 8).to_bytes(4, "big"))),
    )
    assert alg.ecc_cms_shared_info(key_wrap, ukm, kek_length) == expected


class _FixedKey:
    """An RSA public key stand-in whose 'encryption' is given (the bytes under test are the framing)."""

    def __init__(self, out: bytes) -> None:
        self.out = out

    def encrypt(self, data: bytes, padding: Any) -> bytes:
        return self.out


def _rid(draw: st.DrawFn, certificate: x509.Certificate) -> RecipientId:
    if draw(st.booleans()):
        return RecipientId(subject_key_identifier=draw(_octets))
    issuer = RecipientId.of(certificate, _ISSUER_SERIAL).issuer
    return RecipientId(issuer=issuer, serial_number=draw(_serials))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), transport=st.sampled_from(list(KeyTransport)), wrapped=_octets)
def test_key_trans_recipient_infos_round_trip_with_the_same_bytes(
    cert: Cert, data: st.DataObject, transport: KeyTransport, wrapped: bytes
) -> None:
    rid = _rid(data.draw, cert(RSA))
    encoded = kt.key_transport_info(rid, _FixedKey(wrapped), transport, b"k" * 32)  # type: ignore[arg-type]
    if rid.subject_key_identifier is not None:
        version, rid_der = 2, der.context(0, rid.subject_key_identifier, constructed=False)
    else:
        assert rid.issuer is not None and rid.serial_number is not None
        version, rid_der = 0, der.sequence(rid.issuer, der.integer(rid.serial_number))
    hand_written = der.sequence(
        der.integer(version), rid_der, kt.encode_key_transport(transport), der.octet_string(wrapped)
    )
    assert encoded == hand_written
    recipient = kt.parse_key_transport_info(3, encoded)
    assert (recipient.index, recipient.kind, recipient.rid) == (3, RecipientKind.KEY_TRANSPORT, rid)
    assert recipient.key_transport is transport and recipient.encrypted_key == wrapped
    assert recipient.problem is None


_content_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(data=st.data(), content_key=_content_keys)
def test_key_agree_recipient_infos_round_trip(cert: Cert, data: st.DataObject, content_key: bytes) -> None:
    rid = _rid(data.draw, cert(EC256))
    public_key = cert(EC256).public_key()
    encoded = ka.key_agreement_info(rid, public_key, content_key)  # type: ignore[arg-type]
    (recipient,) = ka.parse_key_agreement_info(0, encoded)
    assert recipient.kind is RecipientKind.KEY_AGREEMENT and recipient.rid == rid
    assert recipient.problem is None and recipient.ukm is not None and len(recipient.ukm) == ka.UKM_LENGTH
    assert recipient.originator_curve is None and recipient.originator_point is not None
    assert recipient.key_wrap == alg.key_wrap_algorithm(alg.key_wrap_for(len(content_key)))
    assert recipient.algorithm == alg.CURVES[alg.SECP256R1].scheme_oid
    # The layout the hand-written encoder had: [1] { version 3, [0] { [1] { ecPublicKey, point } }, ... }.
    point = recipient.originator_point
    originator = der.context(0, der.context(1, der.algorithm(alg.EC_PUBLIC_KEY) + der.bit_string(point)))
    assert encoded.startswith(der.context(1, b"")[:1]) and originator in encoded


@given(
    ukm=st.none() | _octets,
    keys=st.lists(st.tuples(_octets, _octets), min_size=1, max_size=3),
    wrap=_wraps,
    point=_octets,
)
def test_key_agree_recipient_infos_from_other_writers_are_read(
    ukm: bytes | None, keys: list[tuple[bytes, bytes]], wrap: str, point: bytes
) -> None:
    """Hand-made DER, as another CMS library writes it: with a ukm, several keys, a named curve."""
    scheme = alg.CURVES[alg.SECP384R1].scheme_oid
    originator = der.context(
        0, der.context(1, der.algorithm(alg.EC_PUBLIC_KEY, der.oid(alg.SECP384R1)) + der.bit_string(point))
    )
    ukm_der = der.context(1, der.octet_string(ukm)) if ukm is not None else b""
    encrypted_keys = der.sequence(
        *(der.sequence(der.context(0, der.octet_string(ski)), der.octet_string(key)) for ski, key in keys)
    )
    encoded = der.context(
        1, der.integer(3) + originator + ukm_der + der.algorithm(scheme, der.algorithm(wrap)) + encrypted_keys
    )
    found = ka.parse_key_agreement_info(5, encoded)
    assert [(r.rid.subject_key_identifier if r.rid else None, r.encrypted_key) for r in found] == keys
    for recipient in found:
        assert recipient.ukm == ukm and recipient.originator_point == point
        assert recipient.originator_curve == alg.SECP384R1 and recipient.key_wrap_oid == wrap
        assert recipient.key_wrap == der.algorithm(wrap) and recipient.problem is None


def _parsers() -> list[Any]:
    return [
        CipherParameters.parse,
        kt.parse_key_transport,
        lambda data: kt.parse_key_transport_info(0, data),
        lambda data: ka.parse_key_agreement_info(0, data),
    ]


@pytest.mark.parametrize("parse", _parsers(), ids=["cipher", "key-transport", "ktri", "kari"])
@given(data=st.binary(max_size=200))
def test_any_bytes_parse_or_are_an_envelope_error(parse: Any, data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        parse(data)


_VALID = {
    "cipher": CipherParameters(ContentCipher.AES_256_GCM, b"n" * 12, 16).encode(),
    "key-transport": kt.encode_key_transport(KeyTransport.OAEP_SHA256),
}


@pytest.mark.parametrize("parse", _parsers(), ids=["cipher", "key-transport", "ktri", "kari"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_valid_element_with_one_byte_changed_parses_or_is_an_envelope_error(
    cert: Cert, parse: Any, data: st.DataObject
) -> None:
    samples = [
        *_VALID.values(),
        kt.key_transport_info(
            RecipientId.of(cert(RSA), _ISSUER_SERIAL),
            _FixedKey(b"w" * 256),  # type: ignore[arg-type]
            KeyTransport.OAEP_SHA256,
            b"k",
        ),
        ka.key_agreement_info(
            RecipientId(subject_key_identifier=b"s" * 20),
            cert(EC256).public_key(),  # type: ignore[arg-type]
            b"k" * 32,
        ),
    ]
    sample = bytearray(data.draw(st.sampled_from(samples)))
    at = data.draw(st.integers(0, len(sample) - 1))
    sample[at] = data.draw(st.integers(0, 255))
    with contextlib.suppress(EnvelopeError):
        parse(bytes(sample))
