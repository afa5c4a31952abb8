"""Hostile GM/T 0010 envelopes through the CLI: each a clean refusal with its exit code, no output left.

Truncated and bit-flipped envelopes, a point off the curve (another curve's)
in the wrapped key, bad point encodings, a ciphertext in the wrong order, a
wrong key, a certificate whose SM2 key is not on the curve. Never exit 70.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.envelope import RecipientId, RecipientIdentifier, decrypt_bytes
from bidcrypt.envelope import _der as der
from bidcrypt.errors import (
    CertificateError,
    MalformedEnvelopeError,
    PaddingError,
    PinIncorrectError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.gm import oids
from tests.conftest import Pki, run_cli
from tests.envelope.conftest import EC256, P12, Cert
from tests.envelope.gm_helpers import PASSWORD, assemble, recipient_info, vector
from tests.gm.envelope_pki import Sm2Ca, vector_identity

MALFORMED = exit_code_for(MalformedEnvelopeError)
WRONG_KEY = exit_code_for(WrongKeyError)
PADDING = exit_code_for(PaddingError)
UNSUPPORTED = exit_code_for(UnsupportedAlgorithmError)
BIDDER = vector_identity()


def _decrypt(envelope: bytes, tmp_path: Path, key: Path | None = None, pin: str = PASSWORD) -> Result:
    source = tmp_path / "in.der"
    source.write_bytes(envelope)
    output = tmp_path / "out.bin"
    if output.exists():
        output.unlink()
    result = run_cli(
        "envelope", "decrypt", source, "-o", output, "--key", key or vector("pki/bidder-enc.p12"),
        env={"BIDCRYPT_PIN": pin},
    )  # fmt: skip
    assert result.exit_code != 70, result.output
    if result.exit_code != 0:
        assert not output.exists(), "a refused envelope left output behind"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "a temporary file was left"
    return result


def _der_cipher(x: int, y: int, digest: bytes, body: bytes) -> bytes:
    """A DER SM2Cipher of any parts, checked by nothing."""
    return der.sequence(der.integer(x), der.integer(y), der.octet_string(digest), der.octet_string(body))


def _with_wrapped(wrapped: bytes) -> bytes:
    key = os.urandom(16)
    return assemble([recipient_info(BIDDER, key, wrapped=wrapped)], key, b"hostile")


def test_the_vector_opens_through_the_cli(tmp_path: Path) -> None:
    result = _decrypt(vector("cms/env-short.der").read_bytes(), tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.bin").read_bytes() == vector("data/short.txt").read_bytes()


def test_every_truncation_is_malformed(tmp_path: Path) -> None:
    data = vector("cms/env-short.der").read_bytes()
    for length in (*range(0, len(data), 7), len(data) - 1, len(data) - 16):
        result = _decrypt(data[:length], tmp_path)
        assert result.exit_code == MALFORMED, (length, result.output)


def test_bit_flips_are_refused_cleanly_or_change_only_the_plaintext(tmp_path: Path) -> None:
    """CBC has no integrity check: a flip in the ciphertext may decrypt (the signed manifest of a
    package catches it); anywhere else, and in the padding, it is a refusal with its own code."""
    data = vector("cms/env-short.der").read_bytes()
    content_start = len(data) - 192
    codes: set[int] = set()
    for position in range(0, len(data), 3):
        flipped = bytearray(data)
        flipped[position] ^= 1 << (position % 8)
        result = _decrypt(bytes(flipped), tmp_path)
        codes.add(result.exit_code)
        assert result.exit_code in (0, MALFORMED, UNSUPPORTED, WRONG_KEY, PADDING), (position, result.output)
        if result.exit_code == 0:
            # The issuer (a case change: names compare as RFC 5280 says), the serial (the renewal
            # rule), the inner content type (any type may be encrypted), the IV or the content:
            # never the structure, the algorithms or the wrapped key.
            assert 38 <= position < 134 or 277 <= position < 287 or position >= 299, position
    assert {MALFORMED, WRONG_KEY} <= codes
    last_block = bytearray(data)
    last_block[-1] ^= 0x80
    assert _decrypt(bytes(last_block), tmp_path).exit_code == PADDING
    assert content_start > 0


def test_a_point_of_another_curve_in_the_wrapped_key_is_malformed(tmp_path: Path) -> None:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    wrapped = _der_cipher(numbers.x, numbers.y, os.urandom(32), os.urandom(16))
    result = _decrypt(_with_wrapped(wrapped), tmp_path)
    assert result.exit_code == MALFORMED and "no SM2 ciphertext" in result.output


@pytest.mark.parametrize(
    "wrapped",
    [
        _der_cipher(0, 0, bytes(32), bytes(16)),  # the point at "infinity" written as (0, 0)
        _der_cipher(1 << 257, 5, bytes(32), bytes(16)),  # a coordinate longer than 32 bytes
        b"\x03" + bytes(112),  # a compressed-point prefix in a raw ciphertext
        b"\x04" + bytes(40),  # too short for any raw ciphertext
        b"",  # nothing
        b"\x30\x03\x02\x01\x01",  # a truncated SM2Cipher
    ],
    ids=["zero-point", "long-coordinate", "prefix-03", "short", "empty", "truncated-der"],
)
def test_bad_point_encodings_are_malformed(wrapped: bytes, tmp_path: Path) -> None:
    assert _decrypt(_with_wrapped(wrapped), tmp_path).exit_code == MALFORMED


def test_a_ciphertext_in_the_wrong_order_is_refused(tmp_path: Path) -> None:
    """A DER SM2Cipher with C2 where C3 belongs: the hash field has the wrong length."""
    from bidcrypt.gm import from_raw, to_raw

    key = os.urandom(16)
    right = BIDDER.key.public_key().encrypt(key)
    raw = to_raw(right, "c1c3c2")
    swapped = raw[:65] + raw[65 + 32 :] + raw[65 : 65 + 32]  # C1 C2 C3 ...
    wrong = _der_cipher(
        int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big"), raw[65 + 32 :], raw[65 : 65 + 32]
    )
    result = _decrypt(assemble([recipient_info(BIDDER, key, wrapped=wrong)], key, b"x"), tmp_path)
    assert result.exit_code == MALFORMED
    # ... while the raw C1C2C3 order is a variant of the field, and opens.
    assert from_raw(swapped, "c1c2c3") == right
    ok = _decrypt(assemble([recipient_info(BIDDER, key, wrapped=swapped)], key, b"x"), tmp_path)
    assert ok.exit_code == 0, ok.output


def test_a_changed_hash_c3_is_a_wrong_key(tmp_path: Path) -> None:
    key = os.urandom(16)
    raw = bytearray(BIDDER.key.public_key().encrypt(key))
    raw[-20] ^= 1  # inside C2 (the last OCTET STRING): C3 no longer matches
    result = _decrypt(assemble([recipient_info(BIDDER, key, wrapped=bytes(raw))], key, b"x"), tmp_path)
    assert result.exit_code == WRONG_KEY


def test_an_envelope_for_another_key_is_a_wrong_key(tmp_path: Path, pki: Pki) -> None:
    other = Sm2Ca().issue("someone else")
    key = os.urandom(16)
    envelope = assemble([recipient_info(other, key)], key, b"not yours")
    assert _decrypt(envelope, tmp_path).exit_code == WRONG_KEY
    # An EC P-256 key (another curve) for an SM2 envelope: nothing names it.
    mine = assemble([recipient_info(BIDDER, key)], key, b"sm2 only")
    result = _decrypt(mine, tmp_path, key=pki.p12(EC256), pin=pki.pin)
    assert result.exit_code == WRONG_KEY, result.output


def test_a_wrong_password_is_not_an_envelope_error(tmp_path: Path) -> None:
    result = _decrypt(vector("cms/env-short.der").read_bytes(), tmp_path, pin="wrong")
    assert result.exit_code == exit_code_for(PinIncorrectError), result.output


def test_an_unknown_sm4_mode_is_unsupported(tmp_path: Path) -> None:
    key = os.urandom(16)
    envelope = assemble([recipient_info(BIDDER, key)], key, b"x", cipher=oids.SM4_ECB)
    assert _decrypt(envelope, tmp_path).exit_code == UNSUPPORTED


def test_a_certificate_whose_sm2_point_is_off_the_curve_is_refused(tmp_path: Path) -> None:
    """A certificate naming the SM2 curve with a P-256 point: refused before anything is written."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    from asn1crypto import keys

    spki = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": keys.ECDomainParameters("named", oids.SM2_CURVE)},
            "public_key": point,
        }
    ).dump()
    hostile = Sm2Ca().issue("off the curve", spki=spki)
    certificate = tmp_path / "bad.pem"
    certificate.write_bytes(hostile.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "plain").write_bytes(b"x")
    result = run_cli(
        "envelope", "encrypt", tmp_path / "plain", "-o", tmp_path / "e", "--recipient", certificate
    )
    assert result.exit_code == exit_code_for(CertificateError), result.output
    assert not (tmp_path / "e").exists()


def test_an_sm2_recipient_naming_an_ec_certificate_is_a_wrong_key(cert: Cert, p12: P12) -> None:
    """The key named is on another curve (P-256): SM2 decryption is not attempted with it."""
    key = os.urandom(16)
    theirs = RecipientId.of(cert(EC256), RecipientIdentifier.ISSUER_AND_SERIAL).issuer_and_serial()
    info = der.sequence(
        der.integer(1),
        bytes(theirs.dump()),
        der.algorithm(oids.SM2_ENCRYPT_GMSSL),
        der.octet_string(BIDDER.key.public_key().encrypt(key)),
    )
    envelope = assemble([info], key, b"x")
    with pytest.raises(WrongKeyError):
        decrypt_bytes(envelope, p12(EC256))


def test_an_rsa_recipient_naming_an_sm2_certificate_is_a_wrong_key(cert: Cert) -> None:
    key = os.urandom(16)
    identifier = RecipientId.of(BIDDER.certificate, RecipientIdentifier.ISSUER_AND_SERIAL)
    rsa_info = der.sequence(
        der.integer(0),
        bytes(identifier.issuer_and_serial().dump()),
        der.algorithm("1.2.840.113549.1.1.7", der.sequence()),
        der.octet_string(os.urandom(256)),
    )
    with pytest.raises(WrongKeyError):
        decrypt_bytes(assemble([rsa_info], key, b"x"), BIDDER.entry())
