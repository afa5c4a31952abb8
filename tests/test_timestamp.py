"""The RFC 3161 answer checks on hostile bytes: anything but a good token is a TimestampError."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache

import pytest
from asn1crypto import algos, tsp
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.aio import run_sync
from bidcrypt.errors import TimestampError
from bidcrypt.timestamp import async_check_token, check_request_match, parse_response

from .conftest import FIXTURES
from .seal.tsa import Quirks, make_response, tsa_identity

DIGEST = hashlib.sha256(b"bid").digest()
NONCE = 0x1234_5678_9ABC_DEF0
#: When the checks run: the test TSA certificate is valid from 2024 to 2055.
AT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
PKI = FIXTURES / "pki"


@cache
def _answer() -> tuple[bytes, bytes]:
    """A good answer to our request, and the pinned certificate's DER."""
    from cryptography.hazmat.primitives import serialization

    identity = tsa_identity(PKI)
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": DIGEST,
            },
            "nonce": NONCE,
            "cert_req": True,
        }
    )
    vendor = (PKI / "ca" / "vendor-rsa.pem").read_bytes()
    from cryptography import x509

    issuer = x509.load_pem_x509_certificate(vendor).public_bytes(serialization.Encoding.DER)
    body = make_response(request.dump(), identity, 1, Quirks(gen_time=AT), issuer)
    return body, identity.certificate.public_bytes(serialization.Encoding.DER)


def _check(body: bytes) -> dt.datetime:
    from cryptography import x509

    pinned = x509.load_der_x509_certificate(_answer()[1])
    token, info = parse_response(body)
    check_request_match(info, DIGEST, NONCE)
    return run_sync(async_check_token(token, sha256=DIGEST, at=AT, pinned=pinned)).time


def test_the_good_answer_passes() -> None:
    assert _check(_answer()[0]) == AT


@given(st.binary(max_size=300))
def test_random_bytes_are_refused(body: bytes) -> None:
    with pytest.raises(TimestampError):
        _check(body)


@settings(max_examples=300)
@given(st.data())
def test_a_mutated_answer_is_refused_or_still_good(data: st.DataObject) -> None:
    body = bytearray(_answer()[0])
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    try:
        moment = _check(bytes(body))
    except TimestampError:
        return
    assert moment == AT  # a change the checks let through changed nothing that matters


@given(st.integers(0, len(_answer()[0]) - 1))
def test_a_truncated_answer_is_refused(length: int) -> None:
    with pytest.raises(TimestampError):
        _check(_answer()[0][:length])


def _replace_last(body: bytes, old: bytes, new: bytes) -> bytes:
    index = body.rindex(old)
    return body[:index] + new + body[index + len(old) :]


SHA256_OID = bytes.fromhex("0609608648016503040201")


def test_an_unknown_digest_algorithm_of_the_signer_is_refused() -> None:
    """Found by fuzzing: pyHanko raises AttributeError for a digest OID it does not know."""
    body = _replace_last(_answer()[0], SHA256_OID, SHA256_OID[:-1] + b"\x7f")
    with pytest.raises(TimestampError, match="the token cannot be verified"):
        _check(body)


def test_a_certificate_of_an_impossible_version_is_refused() -> None:
    """Found by fuzzing: cryptography raises InvalidVersion (not a ValueError) for version 80."""
    body = _answer()[0]
    index = body.index(bytes.fromhex("a003020102"))  # the TSA certificate's version, v3
    body = body[:index] + bytes.fromhex("a00302014f") + body[index + 5 :]
    with pytest.raises(TimestampError):
        _check(body)
