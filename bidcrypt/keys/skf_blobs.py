"""SKF's fixed-layout blobs, to and from what the rest of bidcrypt reads (GM/T 0016, ``docs/skf.md``).

- ``ECCCIPHERBLOB``: ``XCoordinate[64] YCoordinate[64] HASH[32] CipherLen(ULONG) Cipher[CipherLen]``,
  the 32-byte coordinates right-aligned in their 64-byte fields; the DER
  ``SM2Cipher`` of GM/T 0009 on the other side (:mod:`bidcrypt.gm`).
- ``ECCSIGNATUREBLOB``: ``r[64] s[64]``, right-aligned; a DER SM2Signature on the other side.
- the DER ``DigestInfo`` that ``SKF_RSASignData`` pads and signs.

A blob from a library is read strictly: wrong lengths, non-zero padding,
a point off the curve or a value out of range are :class:`SkfBlobError`.
"""

from __future__ import annotations

import struct

from bidcrypt.gm import Sm2CiphertextError, from_raw, to_raw
from bidcrypt.keys.sm2_digest import sm2_signature_der

FIELD = 64
COORDINATE = 32
HASH = 32
#: The fixed part of an ECCCIPHERBLOB: X, Y, HASH and CipherLen.
ECC_CIPHER_HEADER = 2 * FIELD + HASH + 4
#: The largest C2 bidcrypt puts in or reads from an ECCCIPHERBLOB: content keys are short.
MAX_CIPHER = 4096
ECC_SIGNATURE_SIZE = 2 * FIELD

#: DER ``DigestInfo`` prefixes (RFC 8017, section 9.2), to which the digest is appended.
DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_DIGEST_SIZE = {"sha256": 32, "sha384": 48, "sha512": 64}


class SkfBlobError(ValueError):
    """A blob that is not what GM/T 0016 lays out, or holds values no valid one holds."""


def _right_aligned(value: bytes) -> bytes:
    return value.rjust(FIELD, b"\0")


def _field_value(field: bytes, what: str) -> bytes:
    """The 32-byte value right-aligned in a 64-byte *field*; its left half must be zero."""
    if any(field[: FIELD - COORDINATE]):
        raise SkfBlobError(f"the {what} field holds more than 32 bytes")
    return field[FIELD - COORDINATE :]


def ecc_cipher_blob(sm2_cipher_der: bytes) -> bytes:
    """The ECCCIPHERBLOB of a DER SM2Cipher (:class:`SkfBlobError` when *sm2_cipher_der* is none)."""
    try:
        raw = to_raw(sm2_cipher_der, "c1c3c2", prefix=False)
    except Sm2CiphertextError as exc:
        raise SkfBlobError(str(exc)) from None
    x, y = raw[:COORDINATE], raw[COORDINATE : 2 * COORDINATE]
    digest, body = raw[2 * COORDINATE : 2 * COORDINATE + HASH], raw[2 * COORDINATE + HASH :]
    if len(body) > MAX_CIPHER:
        raise SkfBlobError(f"an SM2 ciphertext of {len(body)} bytes is longer than a content key")
    return _right_aligned(x) + _right_aligned(y) + digest + struct.pack("<I", len(body)) + body


def sm2_cipher_der(blob: bytes) -> bytes:
    """The DER SM2Cipher of an ECCCIPHERBLOB of exactly ``164 + CipherLen`` bytes."""
    if len(blob) < ECC_CIPHER_HEADER + 1:
        raise SkfBlobError(f"an ECCCIPHERBLOB has more than {ECC_CIPHER_HEADER} bytes, not {len(blob)}")
    (length,) = struct.unpack_from("<I", blob, 2 * FIELD + HASH)
    if not 0 < length <= MAX_CIPHER or length != len(blob) - ECC_CIPHER_HEADER:
        raise SkfBlobError(f"CipherLen {length} does not match a blob of {len(blob)} bytes")
    x = _field_value(blob[:FIELD], "XCoordinate")
    y = _field_value(blob[FIELD : 2 * FIELD], "YCoordinate")
    digest = blob[2 * FIELD : 2 * FIELD + HASH]
    try:
        return from_raw(x + y + digest + blob[ECC_CIPHER_HEADER:], "c1c3c2", prefix=False)
    except Sm2CiphertextError as exc:
        raise SkfBlobError(str(exc)) from None


def sm2_signature_of_blob(blob: bytes) -> bytes:
    """The DER SM2Signature of an ECCSIGNATUREBLOB (128 bytes, r and s right-aligned)."""
    if len(blob) != ECC_SIGNATURE_SIZE:
        raise SkfBlobError(f"an ECCSIGNATUREBLOB has {ECC_SIGNATURE_SIZE} bytes, not {len(blob)}")
    r = _field_value(blob[:FIELD], "r")
    s = _field_value(blob[FIELD:], "s")
    try:
        return sm2_signature_der(r, s)
    except ValueError as exc:
        raise SkfBlobError(str(exc)) from None


def digest_info(hash_name: str, digest: bytes) -> bytes:
    """The DER ``DigestInfo`` of *digest* by *hash_name* (sha256, sha384, sha512)."""
    if hash_name not in DIGEST_INFO_PREFIX:
        raise SkfBlobError(f"no RSA DigestInfo for {hash_name}")
    if len(digest) != _DIGEST_SIZE[hash_name]:
        raise SkfBlobError(f"a {hash_name} digest has {_DIGEST_SIZE[hash_name]} bytes, not {len(digest)}")
    return DIGEST_INFO_PREFIX[hash_name] + digest


__all__ = [
    "DIGEST_INFO_PREFIX",
    "ECC_CIPHER_HEADER",
    "ECC_SIGNATURE_SIZE",
    "MAX_CIPHER",
    "SkfBlobError",
    "digest_info",
    "ecc_cipher_blob",
    "sm2_cipher_der",
    "sm2_signature_of_blob",
]
