"""SKF's blobs: ECCCIPHERBLOB <-> DER SM2Cipher, ECCSIGNATUREBLOB -> DER, the RSA DigestInfo."""

from __future__ import annotations

import hashlib
import struct

import pytest
from asn1crypto import algos
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.gm import ORDER, Sm2PrivateKey, normalise_der, to_raw
from bidcrypt.keys.skf_blobs import (
    ECC_CIPHER_HEADER,
    SkfBlobError,
    digest_info,
    ecc_cipher_blob,
    sm2_cipher_der,
    sm2_signature_of_blob,
)
from bidcrypt.keys.sm2_digest import sm2_signing_digest

KEY = Sm2PrivateKey.generate()


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=64))
def test_ecc_cipher_blob_round_trip(plaintext: bytes) -> None:
    der = KEY.public_key().encrypt(plaintext)
    blob = ecc_cipher_blob(der)
    assert len(blob) == ECC_CIPHER_HEADER + len(plaintext)
    # The coordinates are right-aligned in 64-byte fields; CipherLen is the length of C2.
    assert blob[:32] == bytes(32) and blob[64:96] == bytes(32)
    assert struct.unpack_from("<I", blob, 160)[0] == len(plaintext)
    assert sm2_cipher_der(blob) == normalise_der(der)
    assert KEY.decrypt(sm2_cipher_der(blob)) == plaintext


def test_blob_layout_is_the_standard_one() -> None:
    der = KEY.public_key().encrypt(b"k" * 16)
    blob = ecc_cipher_blob(der)
    raw = to_raw(der, "c1c3c2", prefix=False)
    assert blob[32:64] == raw[:32] and blob[96:128] == raw[32:64]
    assert blob[128:160] == raw[64:96] and blob[164:] == raw[96:]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_hostile_cipher_blobs_are_refused_cleanly(blob: bytes) -> None:
    try:
        der = sm2_cipher_der(blob)
    except SkfBlobError:
        return
    assert normalise_der(der) == der


def test_cipher_blob_with_wrong_length_or_padding_is_refused() -> None:
    blob = ecc_cipher_blob(KEY.public_key().encrypt(b"x" * 16))
    with pytest.raises(SkfBlobError, match="CipherLen"):
        sm2_cipher_der(blob[:-1])
    with pytest.raises(SkfBlobError, match="CipherLen"):
        sm2_cipher_der(blob + b"\0")
    with pytest.raises(SkfBlobError, match="more than 32"):
        sm2_cipher_der(b"\1" + blob[1:])
    with pytest.raises(SkfBlobError):
        sm2_cipher_der(blob[:32] + bytes(32) + blob[64:])  # x = 0: not on the curve
    huge = blob[:160] + struct.pack("<I", 0xFFFFFFFF) + blob[164:]
    with pytest.raises(SkfBlobError):
        sm2_cipher_der(huge)


def test_ecc_cipher_blob_of_garbage_is_refused() -> None:
    with pytest.raises(SkfBlobError):
        ecc_cipher_blob(b"\x30\x03\x02\x01\x01")


@settings(max_examples=100, deadline=None)
@given(st.integers(1, ORDER - 1), st.integers(1, ORDER - 1))
def test_signature_blob_to_der(r: int, s: int) -> None:
    blob = r.to_bytes(64, "big") + s.to_bytes(64, "big")
    parsed = algos.DSASignature.load(sm2_signature_of_blob(blob))
    assert (parsed["r"].native, parsed["s"].native) == (r, s)


def test_a_token_signature_verifies() -> None:
    data = b"bid manifest"
    e = sm2_signing_digest(KEY.public_key(), data)
    der = KEY.sign(data)
    parsed = algos.DSASignature.load(der)
    blob = parsed["r"].native.to_bytes(64, "big") + parsed["s"].native.to_bytes(64, "big")
    signature = sm2_signature_of_blob(blob)
    KEY.public_key().verify(signature, data)
    KEY.public_key().verify_digest(signature, e)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_hostile_signature_blobs_are_refused_cleanly(blob: bytes) -> None:
    try:
        der = sm2_signature_of_blob(blob)
    except SkfBlobError:
        return
    parsed = algos.DSASignature.load(der)
    assert 0 < parsed["r"].native < ORDER and 0 < parsed["s"].native < ORDER


@pytest.mark.parametrize(
    "blob", [bytes(128), ORDER.to_bytes(64, "big") + (1).to_bytes(64, "big"), b"\1" * 128]
)
def test_impossible_signatures_are_refused(blob: bytes) -> None:
    with pytest.raises(SkfBlobError):
        sm2_signature_of_blob(blob)


@pytest.mark.parametrize(
    ("name", "function"), [("sha256", hashlib.sha256), ("sha384", hashlib.sha384), ("sha512", hashlib.sha512)]
)
def test_digest_info_is_der(name: str, function: object) -> None:
    digest = function(b"x").digest()  # type: ignore[operator]
    encoded = digest_info(name, digest)
    parsed = algos.DigestInfo.load(encoded)
    assert parsed["digest_algorithm"]["algorithm"].native == name
    assert parsed["digest"].native == digest
    assert parsed.dump(force=True) == encoded


def test_digest_info_refuses_wrong_sizes_and_hashes() -> None:
    with pytest.raises(SkfBlobError):
        digest_info("sha256", bytes(31))
    with pytest.raises(SkfBlobError):
        digest_info("sm3", bytes(32))
