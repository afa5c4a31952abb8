"""The SM2 engine (bidcrypt.gm) on GmSSL's vectors, in round trips, and on hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt import gm
from bidcrypt.gm import ciphertext

VECTORS = Path(__file__).parent / "vectors"
KEY32 = bytes(range(32))


def _key(name: str) -> gm.Sm2PrivateKey:
    return gm.Sm2PrivateKey.from_pem((VECTORS / "pki" / f"{name}.key.pem").read_bytes())


ENC = _key("bidder-enc")
SIGN = _key("bidder-sign")
OTHER = gm.Sm2PrivateKey.generate()


@pytest.mark.parametrize("number", [1, 2, 3])
def test_gmssl_ciphertexts_decrypt_to_the_published_key(number: int) -> None:
    wrapped = (VECTORS / "sm2" / f"cipher-key32-{number}.der").read_bytes()
    assert ENC.decrypt(wrapped) == KEY32 == (VECTORS / "data" / "key32.bin").read_bytes()


@pytest.mark.parametrize("name", ["short.txt", "bulk-100k.bin"])
def test_gmssl_signatures_verify_with_the_default_id(name: str) -> None:
    stem = name.split(".")[0]
    signature = (VECTORS / "sm2" / f"sig-{stem}.der").read_bytes()
    data = (VECTORS / "data" / name).read_bytes()
    public = gm.Sm2PublicKey.from_spki_der(_pem_body((VECTORS / "pki" / "bidder-sign.pub.pem").read_bytes()))
    public.verify(signature, data)
    with pytest.raises(gm.InvalidSignature):
        public.verify(signature, data, distid=b"another id")
    with pytest.raises(gm.InvalidSignature):
        public.verify(signature, data + b"\x00")


def _pem_body(pem: bytes) -> bytes:
    import base64

    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return base64.b64decode("".join(lines))


def test_the_public_key_matches_the_certificate_and_the_pkcs12_file() -> None:
    loaded = gm.load_pkcs12((VECTORS / "pki" / "bidder-enc.p12").read_bytes(), b"gm-vectors")
    assert loaded.key is not None
    assert loaded.key.public_key() == ENC.public_key()
    assert loaded.certificate == (VECTORS / "pki" / "bidder-enc.der").read_bytes()
    assert loaded.additional_certificates == [(VECTORS / "pki" / "root-ca.der").read_bytes()]


def test_a_wrong_pkcs12_password_is_refused() -> None:
    with pytest.raises(gm.Pkcs12Error):
        gm.load_pkcs12((VECTORS / "pki" / "bidder-enc.p12").read_bytes(), b"wrong")
    with pytest.raises(gm.Pkcs12Error):
        gm.load_pkcs12(b"\x30\x03\x02\x01\x03", b"gm-vectors")


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=300))
def test_encryption_round_trips(plaintext: bytes) -> None:
    wrapped = ENC.public_key().encrypt(plaintext)
    assert ENC.decrypt(wrapped) == plaintext
    with pytest.raises(gm.Sm2DecryptError):
        OTHER.decrypt(wrapped)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=500), distid=st.binary(min_size=1, max_size=40))
def test_signatures_round_trip_and_bind_the_id(data: bytes, distid: bytes) -> None:
    signature = SIGN.sign(data, distid=distid)
    SIGN.public_key().verify(signature, data, distid=distid)
    with pytest.raises(gm.InvalidSignature):
        OTHER.public_key().verify(signature, data, distid=distid)
    if distid != gm.DEFAULT_ID:
        with pytest.raises(gm.InvalidSignature):
            SIGN.public_key().verify(signature, data)


def test_a_signature_is_sm3_over_z_and_the_message() -> None:
    data = b"bid manifest"
    public = SIGN.public_key()
    e = gm.sm3(public.z_value() + data)
    public.verify_digest(SIGN.sign(data), e)
    public.verify(SIGN.sign_digest(e), data)
    with pytest.raises(gm.InvalidSignature):
        public.verify_digest(SIGN.sign(data), gm.sm3(data))


@settings(max_examples=30, deadline=None)
@given(
    plaintext=st.binary(min_size=1, max_size=64),
    order=st.sampled_from(ciphertext.ORDERS),
    prefix=st.booleans(),
)
def test_every_field_encoding_converts_back_and_decrypts(
    plaintext: bytes, order: ciphertext.Order, prefix: bool
) -> None:
    der = ENC.public_key().encrypt(plaintext)
    raw = ciphertext.to_raw(der, order, prefix=prefix)
    assert len(raw) == (65 if prefix else 64) + 32 + len(plaintext)
    assert ciphertext.from_raw(raw, order, prefix=prefix) == ciphertext.normalise_der(der)
    decrypted = []
    for candidate in ciphertext.der_candidates(raw):
        try:
            decrypted.append(ENC.decrypt(candidate))
        except gm.Sm2DecryptError:
            continue
    assert decrypted == [plaintext]


def test_short_and_unsigned_coordinates_are_normalised() -> None:
    der = ENC.public_key().encrypt(KEY32)
    x, y, digest, body = (ciphertext._Sm2Cipher.load(der)[name] for name in ("x", "y", "hash", "ciphertext"))
    # A writer that drops the sign byte: the coordinates as 32 unsigned bytes in the INTEGERs.
    sloppy = core.Sequence.load(
        b"\x30"
        + _length(
            _integer(x.native.to_bytes(32, "big"))
            + _integer(y.native.to_bytes(32, "big"))
            + digest.dump()
            + body.dump()
        )
    ).dump()
    assert ENC.decrypt(ciphertext.normalise_der(sloppy)) == KEY32


def _integer(contents: bytes) -> bytes:
    return b"\x02" + _length(contents)


def _length(contents: bytes) -> bytes:
    size = len(contents)
    return (bytes([size]) if size < 128 else bytes([0x81, size])) + contents


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x04", b"\x30\x00", bytes(96), b"\x04" + bytes(96), b"\x30\x82\xff\xff" + bytes(10)],
)
def test_bytes_in_no_encoding_are_one_clear_error(blob: bytes) -> None:
    with pytest.raises(gm.Sm2CiphertextError):
        ciphertext.der_candidates(blob)


def test_tampered_ciphertexts_do_not_decrypt() -> None:
    der = ENC.public_key().encrypt(KEY32)
    raw = bytearray(ciphertext.to_raw(der))
    for position in (1, 40):  # C1's x and y: the point leaves the curve
        changed = bytearray(raw)
        changed[position] ^= 0x01
        with pytest.raises(gm.Sm2CiphertextError):
            ciphertext.from_raw(bytes(changed))
    for position in (70, 100, len(raw) - 1):  # C3, C2
        changed = bytearray(raw)
        changed[position] ^= 0x01
        with pytest.raises(gm.Sm2DecryptError):
            ENC.decrypt(ciphertext.from_raw(bytes(changed)))
    with pytest.raises(gm.Sm2DecryptError):
        ENC.decrypt(der[:-1])


def test_keys_of_other_curves_and_points_off_the_curve_are_refused() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    spki = p256.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(gm.Sm2KeyError):
        gm.Sm2PublicKey.from_spki_der(spki)
    pkcs8 = p256.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(gm.Sm2KeyError):
        gm.Sm2PrivateKey.from_pkcs8_der(pkcs8)
    point = bytearray(ENC.public_key().point)
    point[-1] ^= 0x01
    with pytest.raises(gm.Sm2KeyError):
        gm.Sm2PublicKey.from_point(bytes(point))
    with pytest.raises(gm.Sm2KeyError):
        gm.Sm2PublicKey.from_point(b"\x04" + bytes(64))
    with pytest.raises(gm.Sm2KeyError):
        gm.Sm2PublicKey.from_spki_der(spki + b"\x00")


def test_keys_round_trip_through_pkcs8_and_points() -> None:
    key = gm.Sm2PrivateKey.generate()
    again = gm.Sm2PrivateKey.from_pkcs8_der(key.pkcs8_der())
    assert again.public_key() == key.public_key()
    assert gm.Sm2PublicKey.from_point(key.public_key().point) == key.public_key()
    compressed = bytes([2 + (key.public_key().point[-1] & 1)]) + key.public_key().point[1:33]
    assert gm.Sm2PublicKey.from_point(compressed) == key.public_key()
    assert again.decrypt(key.public_key().encrypt(b"k")) == b"k"
