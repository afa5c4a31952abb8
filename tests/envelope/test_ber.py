"""The BER reader and DER writer under the envelope: forms, limits, hostile encodings."""

from __future__ import annotations

import io

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.errors import MalformedEnvelopeError


@pytest.mark.parametrize("n", [0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24, (1 << 32) + 5])
def test_length_octets_are_minimal_der(n: int) -> None:
    encoded = der.length(n)
    head = ber.parse_head(b"\x04" + encoded, 0, 1 + len(encoded))
    assert head.length == n
    assert head.header_length == 1 + len(encoded)
    assert (len(encoded) == 1) == (n < 128)


@given(st.integers(min_value=-(1 << 200), max_value=1 << 200))
@settings(max_examples=60)
def test_integers_match_asn1crypto(value: int) -> None:
    assert der.integer(value) == core.Integer(value).dump()
    assert _asn1.load(core.Integer, der.integer(value), "INTEGER").native == value


@pytest.mark.parametrize(
    "dotted",
    [
        "1.2.840.113549.1.9.16.1.23",
        "2.16.840.1.101.3.4.1.46",
        "1.3.132.1.11.1",
        "2.25.149577572356276075589610191221236026354",
    ],
)
def test_object_identifiers_round_trip_and_match_asn1crypto(dotted: str) -> None:
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()
    assert _asn1.load(core.ObjectIdentifier, der.oid(dotted), "OID").dotted == dotted


def test_set_of_is_sorted_as_der_requires() -> None:
    items = [der.octet_string(b"\x02"), der.octet_string(b"\x01\x01"), der.octet_string(b"\x01")]
    assert der.set_of(items) == der.tlv(der.TAG_SET, b"".join(sorted(items)))
    assert ber.parse(der.set_of(items)).children[0].raw == der.octet_string(b"\x01")


def test_indefinite_lengths_and_constructed_strings_are_read() -> None:
    # A constructed OCTET STRING, indefinite, holding a nested constructed one (BER only).
    data = bytes.fromhex("24800402aabb24800401cc00000000")
    node = ber.parse(data)
    assert node.head.length is None
    assert core.OctetString.load(data).native == b"\xaa\xbb\xcc"
    assert node.raw == data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (bytes.fromhex("3005020100"), "exceeds"),
        (bytes.fromhex("0480"), "indefinite length on a primitive"),
        (bytes.fromhex("04ff"), "length field too long"),
        (bytes.fromhex("0489010000000000000000"), "length field too long"),
        (bytes.fromhex("3080020100"), "truncated"),
        (bytes.fromhex("30030000"), "exceeds"),
        (bytes.fromhex("30020001"), "end-of-contents"),
        (bytes.fromhex("1f80"), "badly encoded tag number"),
        (bytes.fromhex("1fffffffff7f00"), "tag number too large"),
        (bytes.fromhex("020100ff"), "unexpected data after"),
        (bytes.fromhex("0000"), ""),
    ],
)
def test_hostile_encodings_are_malformed(data: bytes, reason: str) -> None:
    try:
        node = ber.parse(data)
    except MalformedEnvelopeError as error:
        assert reason in str(error)
        return
    # End-of-contents on its own parses as an empty primitive; nothing else may.
    assert data == b"\x00\x00" and node.head.is_eoc


def test_nesting_is_limited() -> None:
    deep = b"\x30\x80" * (ber.MAX_DEPTH + 2) + b"\x00\x00" * (ber.MAX_DEPTH + 2)
    with pytest.raises(MalformedEnvelopeError, match="nested too deeply"):
        ber.parse(deep)
    shallow = b"\x30\x80" * 8 + b"\x00\x00" * 8
    assert ber.parse(shallow).raw == shallow


def test_element_count_is_limited() -> None:
    many = der.sequence(*([der.null()] * (ber.MAX_NODES + 1)))
    with pytest.raises(MalformedEnvelopeError, match="too many elements"):
        ber.parse(many)


def test_element_size_is_limited_before_reading() -> None:
    head = b"\x30\x84" + (ber.MAX_ELEMENT + 1).to_bytes(4, "big")
    stream = io.BytesIO(head + bytes(ber.MAX_ELEMENT + 1))
    reader = ber.StreamReader(stream, len(stream.getvalue()))
    with pytest.raises(MalformedEnvelopeError, match="too large"):
        reader.read_element("thing")


def test_stream_reader_reports_truncation_and_overlong_lengths() -> None:
    data = bytes.fromhex("3010") + b"\x04\x02ab"
    reader = ber.StreamReader(io.BytesIO(data), len(data))
    with pytest.raises(MalformedEnvelopeError, match="truncated"):
        reader.head()
    inner = bytes.fromhex("30040405abcdefabcd")
    reader = ber.StreamReader(io.BytesIO(inner), len(inner))
    reader.head()
    with pytest.raises(MalformedEnvelopeError, match="exceeds the enclosing element"):
        reader.head(end=6)


@pytest.mark.parametrize("content", [b"\x80\x01", b"\x2a\x86", b"", b"\x2a\x80\x01"])
def test_bad_object_identifiers(content: bytes) -> None:
    with pytest.raises(MalformedEnvelopeError, match="object identifier"):
        _asn1.load(core.ObjectIdentifier, der.tlv(0x06, content), "object identifier")


# --- tag and INTEGER forms -------------------------------------------------------------


@given(cls=st.integers(0, 3), constructed=st.booleans(), number=st.integers(0, 30))
def test_the_high_tag_number_form_is_refused_below_31(cls: int, constructed: bool, number: int) -> None:
    """X.690 8.1.2.2: tags 0 to 30 have one identifier octet; ``1f 05`` for 5 is not BER."""
    first = (cls << 6) | (0x20 if constructed else 0) | 0x1F
    with pytest.raises(MalformedEnvelopeError, match="badly encoded tag number"):
        ber.parse_head(bytes([first, number, 0x00]), 0, 3)


@given(number=st.integers(31, (1 << 28) - 1))
def test_the_high_tag_number_form_reads_31_and_above(number: int) -> None:
    octets = []
    value = number
    while True:
        octets.insert(0, value & 0x7F)
        value >>= 7
        if not value:
            break
    encoded = bytes([0x9F] + [o | 0x80 for o in octets[:-1]] + [octets[-1]] + [0x00])
    head = ber.parse_head(encoded, 0, len(encoded))
    assert (head.cls, head.number, head.length, head.header_length) == (ber.CONTEXT, number, 0, len(encoded))


@given(value=st.integers(min_value=-(1 << 100), max_value=1 << 100), extra=st.integers(1, 4))
def test_non_minimal_integers_are_refused(value: int, extra: int) -> None:
    """X.690 8.3.2: leading 00 before a clear bit, or ff before a set bit, is never BER."""
    minimal = der.integer(value)[2:]
    padded = (b"\xff" if value < 0 else b"\x00") * extra + minimal
    with pytest.raises(MalformedEnvelopeError, match="bad INTEGER"):
        _asn1.load(core.Integer, der.tlv(0x02, padded), "INTEGER")
    assert _asn1.load(core.Integer, der.tlv(0x02, minimal), "INTEGER").native == value


# --- property tests: arbitrary bytes, and trees in every encoding -------------------------


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_malformed(data: bytes) -> None:
    try:
        node = ber.parse(data)
    except MalformedEnvelopeError:
        return
    assert node.raw == data


_leaves = st.builds(lambda content: ("leaf", content), st.binary(max_size=40))
_trees = st.recursive(
    _leaves,
    lambda children: st.builds(lambda kids: ("set", kids), st.lists(children, max_size=4)),
    max_leaves=20,
)


def _encode(tree: tuple[str, object], draw_indefinite: st.DrawFn) -> bytes:
    kind, value = tree
    if kind == "leaf":
        assert isinstance(value, bytes)
        return der.octet_string(value)
    assert isinstance(value, list)
    body = b"".join(_encode(child, draw_indefinite) for child in value)
    if draw_indefinite(st.booleans()):
        return b"\x30\x80" + body + b"\x00\x00"
    return der.tlv(0x30, body)


def _decoded(node: ber.Node) -> tuple[str, object]:
    if node.is_(ber.UNIVERSAL, ber.OCTET_STRING):
        return ("leaf", core.OctetString.load(node.raw).native)
    return ("set", [_decoded(child) for child in node.children])


@given(tree=_trees, data=st.data())
def test_trees_read_back_the_same_in_definite_and_indefinite_forms(
    tree: tuple[str, object], data: st.DataObject
) -> None:
    encoded = _encode(tree, data.draw)
    node = ber.parse(encoded)
    assert node.raw == encoded
    assert _decoded(node) == tree
    # The same through the file reader: the whole element is found and read back.
    reader = ber.StreamReader(io.BytesIO(encoded), len(encoded))
    assert _decoded(reader.read_element("tree")) == tree
    assert reader.pos == len(encoded)


# --- budgets inside the walk of indefinite lengths -----------------------------------------


class _CountingReader(ber.StreamReader):
    """A stream reader that counts the element heads it reads."""

    heads = 0

    def head(self, end: int | None = None) -> ber.Head:
        self.heads += 1
        return super().head(end)


def test_megabytes_of_empty_elements_in_an_indefinite_element_are_refused_within_the_budget() -> None:
    """8 MB of ``04 00`` inside ``30 80``: refused once the node budget is spent, not at the end."""
    data = b"\x30\x80" + b"\x04\x00" * (4 << 20) + b"\x00\x00"
    reader = _CountingReader(io.BytesIO(data), len(data))
    with pytest.raises(MalformedEnvelopeError, match="too many elements"):
        reader.read_element("recipient infos")
    assert reader.heads <= ber.MAX_NODES + 1


def test_a_large_indefinite_element_is_refused_by_size_within_the_budget() -> None:
    """Few elements but more than MAX_ELEMENT bytes: refused as soon as the walk passes the limit."""
    piece = der.octet_string(bytes(60_000))
    data = b"\x30\x80" + piece * 200 + b"\x00\x00"
    reader = _CountingReader(io.BytesIO(data), len(data))
    with pytest.raises(MalformedEnvelopeError, match="too large"):
        reader.read_element("attributes")
    assert reader.heads <= ber.MAX_ELEMENT // len(piece) + 3


def test_deep_indefinite_nesting_is_refused_within_the_budget() -> None:
    data = b"\x30\x80" * 100_000 + b"\x00\x00" * 100_000
    reader = _CountingReader(io.BytesIO(data), len(data))
    with pytest.raises(MalformedEnvelopeError, match="nested too deeply"):
        reader.read_element("thing")
    assert reader.heads <= ber.MAX_DEPTH + 2
