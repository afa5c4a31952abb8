"""SM2 ciphertext encodings met in the field, converted to and from the DER SM2Cipher.

An SM2 ciphertext has three parts: C1, the ephemeral point (x, y); C3, the
SM3 hash of x2 ‖ M ‖ y2 (32 bytes); and C2, the message XORed with the key
stream (as long as the message). They travel as:

- **DER** ``SM2Cipher`` ``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING,
  ciphertext OCTET STRING }`` (GM/T 0009, GB/T 35276; GmSSL, OpenSSL, CFCA
  SADK 3.2 and later). x and y are INTEGERs: 33 bytes with a leading zero when
  the top bit is set, shorter when they begin with zero bytes, and some
  writers drop the sign byte.
- **raw C1 ‖ C3 ‖ C2** (the 2012 standard's order), with C1 as ``04 ‖ x ‖ y``
  (BouncyCastle's ``SM2Engine`` in C1C3C2 mode) or as ``x ‖ y`` (sm-crypto).
- **raw C1 ‖ C2 ‖ C3** (the 2010 draft's order: CFCA before SADK 3.2,
  BouncyCastle's default mode, sm-crypto's ``cipherMode 0``), with or
  without the ``04``.

With a 32-byte key C3 and C2 have the same length, so nothing in the bytes
says which order a raw ciphertext is in: :func:`der_candidates` gives every
reading, and the decryption tries them (C3 tells the right one: a wrong
reading fails its hash check).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from asn1crypto import core

from bidcrypt.gm.errors import Sm2CiphertextError
from bidcrypt.gm.sm2 import on_curve

Order = Literal["c1c3c2", "c1c2c3"]
ORDERS: tuple[Order, ...] = ("c1c3c2", "c1c2c3")
_COORDINATE = 32
_HASH = 32
#: The largest plaintext bidcrypt reads in an SM2 ciphertext: content keys and shares are short.
MAX_PLAINTEXT = 4096


class _Sm2Cipher(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[str, type[core.Asn1Value]]]] = [
        ("x", core.Integer),
        ("y", core.Integer),
        ("hash", core.OctetString),
        ("ciphertext", core.OctetString),
    ]


def _unsigned(value: core.Integer) -> int:
    """An INTEGER's contents read as unsigned (some writers forget the sign byte)."""
    return int.from_bytes(bytes(value.contents or b""), "big")


def _parts_of_der(der: bytes) -> tuple[int, int, bytes, bytes]:
    try:
        parsed = _Sm2Cipher.load(der, strict=True)
        x, y = _unsigned(parsed["x"]), _unsigned(parsed["y"])
        digest, body = parsed["hash"].native, parsed["ciphertext"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise Sm2CiphertextError(f"not a DER SM2Cipher: {exc}") from None
    if x.bit_length() > 256 or y.bit_length() > 256:
        raise Sm2CiphertextError("an SM2Cipher coordinate is longer than 32 bytes")
    if not on_curve(x, y):
        raise Sm2CiphertextError("the SM2 ciphertext's point C1 is not on the curve")
    if len(digest) != _HASH:
        raise Sm2CiphertextError(f"an SM2Cipher hash has 32 bytes, not {len(digest)}")
    if not 0 < len(body) <= MAX_PLAINTEXT:
        raise Sm2CiphertextError(f"an SM2Cipher holds 1 to {MAX_PLAINTEXT} bytes, not {len(body)}")
    return x, y, digest, body


def _der(x: int, y: int, digest: bytes, body: bytes) -> bytes:
    encoded = _Sm2Cipher(
        {"x": x, "y": y, "hash": core.OctetString(digest), "ciphertext": core.OctetString(body)}
    ).dump(force=True)
    assert isinstance(encoded, bytes)
    return encoded


def normalise_der(der: bytes) -> bytes:
    """*der* as a canonical DER SM2Cipher (minimal, positive INTEGERs).

    :class:`Sm2CiphertextError` when it is none.
    """
    return _der(*_parts_of_der(der))


def to_raw(der: bytes, order: Order = "c1c3c2", *, prefix: bool = True) -> bytes:
    """The raw form of a DER SM2Cipher: C1 (``04‖x‖y`` when *prefix*, else ``x‖y``), C3 and C2 in *order*."""
    x, y, digest, body = _parts_of_der(der)
    c1 = (b"\x04" if prefix else b"") + x.to_bytes(_COORDINATE, "big") + y.to_bytes(_COORDINATE, "big")
    return c1 + (digest + body if order == "c1c3c2" else body + digest)


def from_raw(raw: bytes, order: Order = "c1c3c2", *, prefix: bool = True) -> bytes:
    """The DER SM2Cipher of a raw ciphertext in *order*, its C1 with the ``04`` when *prefix*."""
    start = 1 if prefix else 0
    if prefix and raw[:1] != b"\x04":
        raise Sm2CiphertextError("a raw SM2 ciphertext with a point prefix begins with 04")
    body_length = len(raw) - start - 2 * _COORDINATE - _HASH
    if not 0 < body_length <= MAX_PLAINTEXT:
        raise Sm2CiphertextError(f"{len(raw)} bytes is not the length of a raw SM2 ciphertext")
    x = int.from_bytes(raw[start : start + _COORDINATE], "big")
    y = int.from_bytes(raw[start + _COORDINATE : start + 2 * _COORDINATE], "big")
    if not on_curve(x, y):
        raise Sm2CiphertextError("the SM2 ciphertext's point C1 is not on the curve")
    rest = raw[start + 2 * _COORDINATE :]
    digest, body = (rest[:_HASH], rest[_HASH:]) if order == "c1c3c2" else (rest[-_HASH:], rest[:-_HASH])
    return _der(x, y, digest, body)


def der_candidates(blob: bytes) -> list[bytes]:
    """Every DER SM2Cipher *blob* may be, the most likely first; :class:`Sm2CiphertextError` when none.

    A DER SM2Cipher is taken as it is. Otherwise *blob* is read as raw
    C1C3C2 and C1C2C3, with the ``04`` point prefix when it begins with 04,
    and without it.
    """
    try:
        return [normalise_der(blob)]
    except Sm2CiphertextError:
        pass
    candidates: list[bytes] = []
    prefixes = (True, False) if blob[:1] == b"\x04" else (False,)
    for prefix in prefixes:
        for order in ORDERS:
            try:
                candidate = from_raw(blob, order, prefix=prefix)
            except Sm2CiphertextError:
                continue
            if candidate not in candidates:
                candidates.append(candidate)
    if not candidates:
        raise Sm2CiphertextError(
            f"{len(blob)} bytes are no SM2 ciphertext: neither DER SM2Cipher nor raw C1C3C2 or C1C2C3"
        )
    return candidates


__all__ = ["MAX_PLAINTEXT", "ORDERS", "Order", "der_candidates", "from_raw", "normalise_der", "to_raw"]
