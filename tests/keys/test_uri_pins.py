"""Key references: no PIN ever printed, in any form; labels that are not UTF-8 are a clean refusal."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bidcrypt.errors import BidcryptError, KeyRefError
from bidcrypt.keys import PinSource, open_key_source, redact_reference
from bidcrypt.keys.uri import Pkcs11Uri

from ..conftest import run_bidcrypt, run_cli


def _all_text(error: BidcryptError) -> str:
    """Every text an error can show, in both languages, and its JSON form."""
    return "\n".join(
        [
            error.message("en"),
            error.message("zh"),
            error.hint("en"),
            error.hint("zh"),
            str(error),
            repr(error),
            json.dumps(error.to_dict("en"), ensure_ascii=False),
        ]
    )


def _refusal(reference: str) -> BidcryptError:
    with pytest.raises(BidcryptError) as caught:
        source = open_key_source(reference, PinSource.of_value("0"))
        source.close()
    return caught.value


def test_a_label_that_is_not_utf8_names_the_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    for label in ("%E6%B9%96%E5", quote("湖北楚天".encode("gbk"))):  # cut mid-character; GBK
        with pytest.raises(KeyRefError) as caught:
            Pkcs11Uri.parse(f"pkcs11:token={label};object=enc")
        message = caught.value.message()
        assert "'token' is not UTF-8" in message and "GBK" in message
    monkeypatch.setenv("BIDCRYPT_LANG", "zh_CN.UTF-8")
    with pytest.raises(KeyRefError, match="'object' 的值经百分号解码后不是 UTF-8"):
        Pkcs11Uri.parse("pkcs11:object=%FF")


def test_a_label_that_is_not_utf8_on_the_command_line(tmp_path: Path) -> None:
    uri = "pkcs11:token=" + quote("湖北".encode("gbk"))
    (tmp_path / "in").write_bytes(b"0")
    decrypt = ["envelope", "decrypt", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--key", uri]
    for args in (["doctor", "--token", uri], decrypt):
        result = run_cli(*args)
        assert result.exit_code == 18, result.stderr
        assert "internal error" not in result.stderr and "'token' is not UTF-8" in result.stderr


def test_slot_ids_are_ascii_digits_within_reason() -> None:
    for slot in ("²", "١٢", "1" * 21, "-1", "0x10"):
        with pytest.raises(KeyRefError, match="slot-id must be a number"):
            Pkcs11Uri.parse(f"pkcs11:slot-id={quote(slot)}")
    assert Pkcs11Uri.parse("pkcs11:slot-id=18446744073709551615").slot_id == 2**64 - 1


PIN_NAMES = [
    "pin-value",
    "PIN-VALUE",
    "Pin-Value",
    "pin%2Dvalue",
    "pin%2dvalue",
    "%70in-value",
    "%2570in-value",  # encoded twice
    "%50%49%4E-value",
    " pin-value",
    "pin-source",
    "PIN-Source",
    "pin_value",
    "pin",
    "ｐｉｎ-value",  # fullwidth
]


@st.composite
def references_with_a_pin(draw: st.DrawFn) -> tuple[str, str]:
    """A key reference with a PIN written somewhere in it, malformed in any way, and the PIN."""
    pin = draw(st.text(min_size=4, max_size=16).filter(lambda p: p.strip() == p and "\x00" not in p))
    name = draw(st.sampled_from(PIN_NAMES))
    value = draw(st.sampled_from([pin, quote(pin, safe=""), quote(pin)]))
    separator = draw(st.sampled_from(["=", "%3D", "%3d", ":"]))
    pin_part = f"{name}{separator}{value}"
    filler = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(
                    ["token=bidder-a", "object=enc", "module-path=/usr/lib/x.so", "colour=red", "=", "type=x"]
                ),
                filler,
            ),
            max_size=4,
        )
    )
    parts.insert(draw(st.integers(0, len(parts))), pin_part)
    if draw(st.booleans()):  # the same PIN twice
        parts.insert(draw(st.integers(0, len(parts))), pin_part)
    separators = [draw(st.sampled_from([";", "?", "&"])) for _ in parts]
    body = "".join(sep + part for sep, part in zip(separators, parts, strict=True))[1:]
    scheme = draw(st.sampled_from(["pkcs11:", "PKCS11:", "pkcs11:/", "", " pkcs11:"]))
    reference = scheme + body + draw(filler)
    # The PIN must not be written elsewhere in the reference, where nothing says it is a PIN.
    others = reference.replace(pin_part, "")
    assume(pin not in others and quote(pin, safe="") not in others and quote(pin) not in others)
    return reference, pin


@given(references_with_a_pin())
@example(("pkcs11:token=t?pin-value=secret123&module-path=/x.so", "secret123"))
@example(("pkcs11:pin-value=12;34;token=t", "12;34"))
@example(("pkcs11:token=t;pin-value%3D9876%3Bobject=x", "9876"))
@example(("pkcs11:token=x%3Bpin-value%3D5555", "5555"))
@example(("pkcs11:object=o;Pin-Value=4321?module-path=/x;pin-value=4321", "4321"))
@example(("pin-value=2468", "2468"))
@example(("pkcs11:token=t;pin-source=file:/home/a/pin.txt", "file:/home/a/pin.txt"))
def test_a_pin_is_never_in_any_message(case: tuple[str, str]) -> None:
    reference, pin = case
    forms = sorted({pin, quote(pin, safe=""), quote(pin)}, key=len, reverse=True)
    without_pin = reference
    for form in forms:
        without_pin = without_pin.replace(form, "")
    # A PIN such as "BIDC" or "key " is in bidcrypt's own words: only PINs they do not hold tell.
    assume(not any(form in _all_text(_refusal(without_pin)) for form in forms))
    text = _all_text(_refusal(reference)) + redact_reference(reference)
    for form in forms:
        assert form not in text


def test_the_reference_is_shown_up_to_the_pin() -> None:
    assert redact_reference("pkcs11:token=t;object=o?pin-value=1234") == "pkcs11:token=t;object=o?[…]"
    assert redact_reference("pkcs11:token=t;object=o") == "pkcs11:token=t;object=o"
    assert redact_reference("/home/pinto/keys.p12") == "/home/pinto/keys.p12"  # no PIN there
    with pytest.raises(KeyRefError) as caught:
        Pkcs11Uri.parse("pkcs11:token=t;object=o?pin-value=1234")
    assert "pkcs11:token=t;object=o?[…]" in str(caught.value)
    assert "BIDCRYPT_PIN" in str(caught.value)


def test_no_pin_on_stderr_or_in_doctor_reports() -> None:
    reference = "pkcs11:token=t;PIN%2Dvalue=80808080;colour=red"
    for args in (
        ["doctor", "--token", reference, "--json"],
        ["doctor", "--token", reference],
        ["envelope", "decrypt", __file__, "-o", "/nonexistent/out", "--key", reference],
        ["doctor", "--token", "pin-value=80808080"],
    ):
        result = run_bidcrypt(*args)
        assert result.returncode not in (0, 70), result.stderr
        assert "80808080" not in result.stdout + result.stderr
        assert "internal error" not in result.stderr


@given(st.text().map(lambda text: "pkcs11:" + text) | st.text())
def test_any_text_parses_or_is_a_clean_refusal(text: str) -> None:
    try:
        Pkcs11Uri.parse(text)
    except KeyRefError as error:
        assert error.message()
