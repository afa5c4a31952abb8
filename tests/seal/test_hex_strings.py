"""The one-pass hex string reader reads what pyHanko's byte-at-a-time reader reads, and stops there."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic

from bidcrypt.certs import load_certificates
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.seal import SealKind, _hex_strings, apply_seal, choose_entry, verify_seals

from ..conftest import Pki
from .conftest import document, seal_image, trust_store

#: Hex digits mostly, with whitespace, comments, stray characters and the closing bracket.
_PIECES = st.sampled_from(
    [b"0", b"7", b"a", b"F", b"e", b" ", b"\n", b"\r", b"\t", b"\x00", b"\x0c", b"%", b"g", b"(", b">", b"<"]
)
_BODIES = st.lists(st.one_of(_PIECES, st.binary(max_size=3)), max_size=60).map(b"".join)


def _read(reader: Any, data: bytes) -> tuple[str, object, int]:
    """What *reader* makes of *data* after a 3-byte prefix: its result or error, and where it stopped."""
    stream = io.BytesIO(b"xx " + data)
    stream.seek(3)
    try:
        value = reader(stream)
    except Exception as exc:  # pyHanko's errors for a broken string: the kind must match
        return "error", type(exc), -1
    return type(value).__name__, bytes(value.original_bytes), stream.tell()


@given(_BODIES, st.booleans(), st.binary(max_size=8))
def test_as_pyhanko_reads_it(body: bytes, closed: bool, after: bytes) -> None:
    data = b"<" + body + (b">" if closed else b"") + after
    assert _read(_hex_strings.read_hex_string, data) == _read(_hex_strings._pyhanko_reader, data)


@pytest.mark.parametrize(
    "data",
    [
        b"<>",
        b"<48656c6c6f>",
        b"<48 65\n6c\t6c 6f>",
        b"<486>",
        b"<FEFF0041>",
        b"<00ff>rest",
        b"<" + b"ab" * 40000 + b">",
    ],
)
def test_the_usual_form_is_read_in_one_pass(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _read(_hex_strings._pyhanko_reader, data)

    def not_called(stream: Any) -> None:
        raise AssertionError("handed to pyHanko")

    monkeypatch.setattr(_hex_strings, "_pyhanko_reader", not_called)
    assert _read(_hex_strings.read_hex_string, data) == expected


@pytest.mark.parametrize("data", [b"<48%comment\n65>", b"<48 zz>", b"<4865"])
def test_anything_else_is_pyhankos_to_decide(data: bytes) -> None:
    assert _read(_hex_strings.read_hex_string, data) == _read(_hex_strings._pyhanko_reader, data)


def test_a_sealed_document_verifies_with_it(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing the verifier installs the reader; a seal's /Contents goes through it, and verifies."""
    from bidcrypt.seal import verify as seal_verify

    assert seal_verify is not None
    assert generic.read_hex_string_from_stream is _hex_strings.read_hex_string
    sealed = tmp_path / "sealed.pdf"
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
        entry = choose_entry(source, SealKind.COMPANY)
        apply_seal(
            document(),
            sealed,
            entry,
            kind=SealKind.COMPANY,
            image=seal_image("bidder-a", "company"),
            chain=load_certificates(pki.chain("bidder-a/sign")),
        )
    longest: list[int] = [0]

    def measured(stream: Any) -> Any:
        value = _hex_strings.read_hex_string(stream)
        longest[0] = max(longest[0], len(value.original_bytes))
        return value

    monkeypatch.setattr(generic, "read_hex_string_from_stream", measured)
    report = verify_seals(sealed, trust=trust_store(pki))
    assert report.valid and len(report.company_seals) == 1
    assert longest[0] > 1000  # the signature itself was read by it
