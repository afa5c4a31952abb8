"""DER encoding of the few ASN.1 types an envelope is made of.

Small, explicit helpers instead of a schema library: every byte bidcrypt
writes is visible here, including the indefinite-length framing of the
streaming writer (:func:`indefinite`, :data:`EOC`).
"""

from __future__ import annotations

from collections.abc import Iterable

# Identifier octets of the universal types used in envelopes.
TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_SET = 0x31

#: The end-of-contents octets closing an indefinite-length encoding.
EOC = b"\x00\x00"


def length(n: int) -> bytes:
    """The definite-length octets for a content of *n* bytes."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """A definite-length encoding with the one-byte identifier *tag*."""
    return bytes([tag]) + length(len(content)) + content


def header(tag: int, content_length: int) -> bytes:
    """Identifier and length octets only, for content written afterwards."""
    return bytes([tag]) + length(content_length)


def indefinite(tag: int) -> bytes:
    """The identifier of a constructed encoding followed by the indefinite-length octet."""
    return bytes([tag | 0x20, 0x80])


def sequence(*items: bytes) -> bytes:
    """SEQUENCE of already-encoded items."""
    return tlv(TAG_SEQUENCE, b"".join(items))


def set_of(items: Iterable[bytes]) -> bytes:
    """SET OF already-encoded items, sorted as DER requires."""
    return tlv(TAG_SET, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    """INTEGER in minimal two's complement."""
    magnitude = value if value >= 0 else -value - 1
    size = magnitude.bit_length() // 8 + 1
    return tlv(TAG_INTEGER, value.to_bytes(size, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    """OCTET STRING (primitive)."""
    return tlv(TAG_OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """BIT STRING of whole octets (no unused bits)."""
    return tlv(TAG_BIT_STRING, b"\x00" + value)


def null() -> bytes:
    """NULL."""
    return b"\x05\x00"


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form."""
    return tlv(TAG_OID, oid_content(dotted))


def oid_content(dotted: str) -> bytes:
    """The content octets of an OBJECT IDENTIFIER."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or any(a < 0 for a in arcs):
        raise ValueError(f"invalid object identifier {dotted}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def context(number: int, content: bytes, *, constructed: bool = True) -> bytes:
    """A context-specific tag ``[number]`` (0-30) around *content*.

    EXPLICIT tagging is ``context(n, encoded_inner)``; IMPLICIT tagging of a
    constructed type is ``context(n, inner_content)``; of a primitive type,
    ``context(n, inner_content, constructed=False)``.
    """
    if not 0 <= number <= 30:
        raise ValueError("context tag out of range")
    return tlv(0x80 | (0x20 if constructed else 0) | number, content)


def algorithm(dotted: str, parameters: bytes | None = None) -> bytes:
    """AlgorithmIdentifier with encoded *parameters*, or with them absent."""
    return sequence(oid(dotted), parameters or b"")
