"""The unwrap contract: what a key tries, and whose fault each failure is (the bid's or the machine's).

A bulk opening records a failure that belongs to the bid as that bid's outcome and goes on; only
a failure of the machine stops it. So :func:`unwrap_content_key` raises
:class:`~bidcrypt.errors.EnvelopeError` subclasses for the envelope's faults and
:class:`~bidcrypt.errors.KeySourceError` subclasses for the key source's, and nothing else. Each case
runs with the key in a PKCS#12 file and on the SoftHSM UKey.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    decrypt_bytes,
    read_header,
    unwrap_content_key,
)
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.opening import pkcs1v15_failure
from bidcrypt.errors import (
    BidcryptError,
    EnvelopeError,
    KeySourceError,
    KeyTransportUnsupportedError,
    MalformedEnvelopeError,
    TokenAbsentError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from tests.conftest import Pki, SoftHsm

from .conftest import AUTHORITY, EC256, RSA, TOKENS, Cert

PLAIN = b"sealed bid " * 300
OpenKeys = Callable[[str], KeySource]


@pytest.fixture(params=["pkcs12", "softhsm"])
def keys(request: pytest.FixtureRequest, pki: Pki) -> Iterator[OpenKeys]:
    """Open an identity's key from its PKCS #12 file, or on its SoftHSM token (closed after the test)."""
    pins = PinSource.of_value(pki.pin)
    opened: list[KeySource] = []

    def open_keys(name: str) -> KeySource:
        if request.param == "pkcs12":
            source = open_key_source(str(pki.p12(name)), pins)
        else:
            softhsm = request.getfixturevalue("softhsm")
            source = open_key_source(softhsm.uri(TOKENS[name], "enc"), pins)
        opened.append(source)
        return source

    yield open_keys
    for source in opened:
        source.close()


def _sealed(cert: Cert, *names: str, transport: KeyTransport = KeyTransport.PKCS1V15, **kw: object) -> bytes:
    builder = EnvelopeBuilder().set_cipher(kw.pop("cipher", ContentCipher.AES_256_GCM))  # type: ignore[arg-type]
    for name in names:
        builder = builder.add_recipient(cert(name), key_transport=transport)
    return builder.encrypt_bytes(PLAIN)


def _with_recipient_info(envelope: bytes, index: int, change: Callable[[bytes], bytes]) -> bytes:
    """The envelope with its RecipientInfo *index* changed (same length, so the framing holds)."""
    info = read_header(io.BytesIO(envelope)).recipient_infos[index]
    changed = change(info)
    assert len(changed) == len(info) and envelope.count(info) == 1
    return envelope.replace(info, changed)


def _opens_or_raises(envelope: bytes, source: KeySource) -> BidcryptError | None:
    try:
        decrypt_bytes(envelope, source)
    except BidcryptError as error:
        return error
    return None


# --- the bid's faults --------------------------------------------------------------------


def test_an_unknown_key_encryption_algorithm_is_the_bids_fault(cert: Cert, keys: OpenKeys) -> None:
    envelope = _sealed(cert, RSA)
    rsa_encryption, unknown = der.oid(alg.RSA_ENCRYPTION), der.oid("1.2.840.113549.1.1.99")
    assert len(rsa_encryption) == len(unknown)
    hostile = _with_recipient_info(envelope, 0, lambda info: info.replace(rsa_encryption, unknown))
    header = read_header(io.BytesIO(hostile))
    with pytest.raises(UnsupportedAlgorithmError, match=r"1\.2\.840\.113549\.1\.1\.99") as caught:
        unwrap_content_key(header, keys(RSA))
    assert not isinstance(caught.value, KeySourceError)
    # A recipient that does not name the key is not looked at, whatever its algorithm.
    both = _with_recipient_info(
        _sealed(cert, RSA, AUTHORITY), 0, lambda i: i.replace(rsa_encryption, unknown)
    )
    header = read_header(io.BytesIO(both))
    unnamed = next(r for r in header.recipients if r.problem is None)
    assert decrypt_bytes(both, keys(AUTHORITY if unnamed.index == 1 else RSA)) == PLAIN


def test_an_invalid_ec_point_is_the_bids_fault(cert: Cert, keys: OpenKeys) -> None:
    envelope = _sealed(cert, EC256)
    header = read_header(io.BytesIO(envelope))
    point = header.recipients[0].originator_point
    assert point is not None and envelope.count(point) == 1
    off_curve = point[:-1] + bytes([point[-1] ^ 0x01])
    with pytest.raises(ValueError):
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), off_curve)
    hostile = envelope.replace(point, off_curve)
    with pytest.raises(MalformedEnvelopeError, match="originator public key") as caught:
        unwrap_content_key(read_header(io.BytesIO(hostile)), keys(EC256))
    assert not isinstance(caught.value, KeySourceError)


@pytest.mark.parametrize("garbage", ["random", "ones", "zeros", "short"])
@pytest.mark.parametrize("transport", [KeyTransport.OAEP_SHA1, KeyTransport.PKCS1V15])
def test_a_garbage_wrapped_key_is_a_wrong_key(
    cert: Cert, keys: OpenKeys, garbage: str, transport: KeyTransport
) -> None:
    """In a RecipientInfo that names the key: WrongKeyError, never another error."""
    envelope = _sealed(cert, RSA, transport=transport)
    wrapped = read_header(io.BytesIO(envelope)).recipients[0].encrypted_key
    replacement = {
        "random": os.urandom(len(wrapped)),
        "ones": b"\xff" * len(wrapped),  # larger than the modulus
        "zeros": bytes(len(wrapped)),
        "short": os.urandom(len(wrapped) - 100).rjust(len(wrapped), b"\x00"),
    }[garbage]
    hostile = _with_recipient_info(envelope, 0, lambda info: info.replace(wrapped, replacement))
    error = _opens_or_raises(hostile, keys(RSA))
    assert type(error) is WrongKeyError
    if transport is KeyTransport.PKCS1V15:
        assert error.message() == pkcs1v15_failure().message()


def test_a_key_transport_the_key_cannot_undo_is_the_bids_fault(
    cert: Cert, pki: Pki, softhsm: SoftHsm
) -> None:
    """OAEP with SHA-256 on SoftHSM2 (which does SHA-1 only): not a failure of the token."""
    envelope = _sealed(cert, RSA, transport=KeyTransport.OAEP_SHA256)
    uri = softhsm.uri(TOKENS[RSA], "enc")
    with open_key_source(uri, PinSource.of_value(pki.pin)) as source:
        with pytest.raises(KeyTransportUnsupportedError, match=r"RSAES-OAEP \(SHA-256\)") as caught:
            unwrap_content_key(read_header(io.BytesIO(envelope)), source)
        assert isinstance(caught.value, UnsupportedAlgorithmError)
        assert not isinstance(caught.value, KeySourceError)
        # The same token opens the next bid, made with a transport it does.
        assert decrypt_bytes(_sealed(cert, RSA, transport=KeyTransport.OAEP_SHA1), source) == PLAIN


# --- no padding oracle (RFC 3218 section 2.3) ---------------------------------------------


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
def test_every_failure_after_a_pkcs1v15_unwrap_is_one_and_the_same(
    cert: Cert, keys: OpenKeys, cipher: ContentCipher
) -> None:
    """A bad padding, another key's wrapped key, a key of the wrong length, an altered file: one message."""
    envelope = _sealed(cert, RSA, cipher=cipher)
    header = read_header(io.BytesIO(envelope))
    wrapped = header.recipients[0].encrypted_key
    authority_key = read_header(io.BytesIO(_sealed(cert, AUTHORITY, cipher=cipher))).recipients[0]
    short_key = cert(RSA).public_key().encrypt(os.urandom(16), KeyTransport.PKCS1V15.padding())  # type: ignore[union-attr]
    altered = bytearray(envelope)
    altered[header.content.offset + header.content.length // 2] ^= 0x01
    altered[-20 if cipher.is_aead else header.content.end - 20] ^= 0x01  # the tag, or the last block
    cases = {
        "bad padding": _with_recipient_info(
            envelope, 0, lambda i: i.replace(wrapped, os.urandom(len(wrapped)))
        ),
        "another key's": _with_recipient_info(
            envelope, 0, lambda i: i.replace(wrapped, authority_key.encrypted_key)
        ),
        "wrong length": _with_recipient_info(envelope, 0, lambda i: i.replace(wrapped, short_key)),
        "altered": bytes(altered),
    }
    source = keys(RSA)
    messages = set()
    # A random key passes CBC's padding check once in 256 tries and yields noise (CBC is not
    # authenticated: documented); each try draws a new random key, so four make that 2**-32.
    tries = 1 if cipher.is_aead else 4
    for name, data in cases.items():
        # The unwrap itself never fails after v1.5: it is the content that does.
        unwrap_content_key(read_header(io.BytesIO(data)), source)
        error = next(filter(None, (_opens_or_raises(data, source) for _ in range(tries))), None)
        assert type(error) is WrongKeyError, name
        messages.add((error.message("en"), error.message("zh"), error.hint("en")))
    assert len(messages) == 1
    assert "cannot tell a wrong key from a damaged or altered file" in messages.pop()[0]
    assert "or the file was altered" not in pkcs1v15_failure().message()


# --- the machine's faults ------------------------------------------------------------------


class _PulledToken(KeyEntry):
    """A key entry whose token was pulled out: every operation fails as the token's failure."""

    def __init__(self, inner: KeyEntry) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)

    @property
    def has_private_key(self) -> bool:
        return True

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        raise TokenAbsentError(token=self.source, available="-")

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        raise TokenAbsentError(token=self.source, available="-")

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        raise AssertionError("no signing here")

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        return tuple(t.scheme for t in KeyTransport)


@pytest.mark.parametrize("name", [RSA, EC256])
@pytest.mark.parametrize("transport", list(KeyTransport))
def test_a_pulled_token_stays_the_machines_fault(
    cert: Cert, pki: Pki, name: str, transport: KeyTransport
) -> None:
    """Even after PKCS#1 v1.5: no random key stands in for a token that did not answer."""
    envelope = _sealed(cert, name, transport=transport)
    with open_key_source(str(pki.p12(name)), PinSource.of_value(pki.pin)) as source:
        entry = _PulledToken(source.entries()[0])
        with pytest.raises(TokenAbsentError) as caught:
            unwrap_content_key(read_header(io.BytesIO(envelope)), [entry])
    assert isinstance(caught.value, KeySourceError) and not isinstance(caught.value, EnvelopeError)
