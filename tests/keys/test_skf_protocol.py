"""The SKF binding's sizes protocol, status translation and references, without a token."""

from __future__ import annotations

import ctypes
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt import errors
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.keys.skf_errors import (
    NAMES,
    SAR_APPLICATION_NOT_EXISTS,
    SAR_BUFFER_TOO_SMALL,
    SAR_CERTNOTFOUNTERR,
    SAR_DEVICE_REMOVED,
    SAR_FILE_NOT_EXIST,
    SAR_INDATAERR,
    SAR_NOTSUPPORTYETERR,
    SAR_OK,
    SAR_PIN_INCORRECT,
    SAR_PIN_LOCKED,
    SAR_RSADECERR,
    SkfCallError,
    Where,
    translate,
)
from bidcrypt.keys.skf_library import read_into, read_sized
from bidcrypt.keys.skf_uri import SkfName, SkfUri, decode_name, split_name_list
from bidcrypt.opening.batch import stops_the_batch


class FakeCall:
    """A library function answering (status, size, bytes) to each call, as a hostile library may."""

    def __init__(self, *answers: tuple[int, int, bytes]) -> None:
        self.answers = list(answers)
        self.calls: list[int | None] = []

    def __call__(self, buffer: Any, size: Any) -> int:
        status, answered, data = self.answers.pop(0)
        pointer = ctypes.cast(size, ctypes.POINTER(ctypes.c_uint32))
        self.calls.append(None if buffer is None else pointer.contents.value)
        if buffer is not None:
            ctypes.memmove(buffer, data, min(len(data), pointer.contents.value))
        pointer.contents.value = answered
        return status


def test_sizes_protocol_asks_then_fetches() -> None:
    call = FakeCall((SAR_OK, 5, b""), (SAR_OK, 5, b"hello"))
    assert read_sized("SKF_X", call, 100) == b"hello"
    assert call.calls == [None, 5]


def test_buffer_too_small_is_asked_again_once() -> None:
    call = FakeCall((SAR_OK, 3, b""), (SAR_BUFFER_TOO_SMALL, 6, b""), (SAR_OK, 6, b"abcdef"))
    assert read_sized("SKF_X", call, 100) == b"abcdef"
    assert call.calls == [None, 3, 6]
    again = FakeCall((SAR_OK, 3, b""), (SAR_BUFFER_TOO_SMALL, 6, b""), (SAR_BUFFER_TOO_SMALL, 9, b""))
    with pytest.raises(SkfCallError):
        read_sized("SKF_X", again, 100)


def test_an_answer_longer_than_the_buffer_is_refused() -> None:
    call = FakeCall((SAR_OK, 4, b""), (SAR_OK, 4000, b"abcd"))
    with pytest.raises(SkfCallError, match="4000 bytes in a buffer of 4") as caught:
        read_sized("SKF_X", call, 100)
    assert caught.value.status is None


def test_a_size_beyond_the_cap_is_refused_before_allocating() -> None:
    call = FakeCall((SAR_OK, 0xFFFFFFFF, b""))
    with pytest.raises(SkfCallError, match="at most 65536"):
        read_sized("SKF_X", call, 65536)
    assert call.calls == [None]


def test_empty_answer_and_failure_status() -> None:
    assert read_sized("SKF_X", FakeCall((SAR_OK, 0, b"")), 10) == b""
    with pytest.raises(SkfCallError) as caught:
        read_sized("SKF_X", FakeCall((SAR_CERTNOTFOUNTERR, 0, b"")), 10)
    assert caught.value.status == SAR_CERTNOTFOUNTERR


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([SAR_OK, SAR_BUFFER_TOO_SMALL, 0x0A000001]),
            st.integers(0, 2**32 - 1),
            st.binary(max_size=64),
        ),
        min_size=3,
        max_size=3,
    )
)
def test_hostile_size_answers_never_over_read(answers: list[tuple[int, int, bytes]]) -> None:
    cap = 64
    try:
        data = read_sized("SKF_X", FakeCall(*answers), cap)
    except SkfCallError:
        return
    assert len(data) <= cap


def test_read_into_gives_the_first_size() -> None:
    call = FakeCall((SAR_OK, 2, b"ok"))
    assert read_into("SKF_Y", call, 16, 16) == b"ok"


# -- the status codes ---------------------------------------------------------------------

WHERE = Where("dev/app/con", application="app", container="con", operation="SM2 signature")


@pytest.mark.parametrize(
    ("status", "cls", "exit_code"),
    [
        (SAR_DEVICE_REMOVED, errors.TokenRemovedError, 11),
        (SAR_PIN_INCORRECT, errors.PinIncorrectError, 13),
        (SAR_PIN_LOCKED, errors.PinLockedError, 14),
        (SAR_APPLICATION_NOT_EXISTS, errors.SkfApplicationMissingError, 12),
        (SAR_NOTSUPPORTYETERR, errors.MechanismUnsupportedError, 17),
        (SAR_CERTNOTFOUNTERR, errors.SkfCertificateMissingError, 12),
        (0x0A000006, errors.TokenError, 17),
        (0x0ABCDEF1, errors.TokenError, 17),
    ],
)
def test_status_codes(status: int, cls: type[errors.BidcryptError], exit_code: int) -> None:
    error = translate(SkfCallError("SKF_Something", status), WHERE)
    assert type(error) is cls
    assert exit_code_for(error) == exit_code
    if cls is not errors.PinIncorrectError:  # that one says the tries left instead
        assert f"0x{status:08X}" in error.message("en")
    assert "{" not in error.message("zh")


def test_container_missing_only_from_open_container() -> None:
    error = translate(SkfCallError("SKF_OpenContainer", SAR_FILE_NOT_EXIST), WHERE)
    assert isinstance(error, errors.SkfContainerMissingError)
    assert error.code == "skf-no-container" and "没有获取到容器" in error.message("zh")
    assert type(translate(SkfCallError("SKF_ReadFile", SAR_FILE_NOT_EXIST), WHERE)) is errors.TokenError


def test_unknown_code_is_quoted_in_hex() -> None:
    error = translate(SkfCallError("SKF_ECCSignData", 0x0A0000FF), WHERE)
    assert error.code == "token-error" and "0x0A0000FF" in str(error)
    assert 0x0A0000FF not in NAMES


def test_wrong_key_only_when_unwrapping() -> None:
    unwrapping = Where("d", unwrapping=True)
    for status in (SAR_RSADECERR, SAR_INDATAERR):
        assert isinstance(translate(SkfCallError("SKF_ECCDecrypt", status), unwrapping), errors.WrongKeyError)
        assert type(translate(SkfCallError("SKF_ECCDecrypt", status), WHERE)) is errors.TokenError


def test_pin_incorrect_says_the_tries_left() -> None:
    error = translate(SkfCallError("SKF_VerifyPIN", SAR_PIN_INCORRECT, retries=2), WHERE)
    assert "2 tries left" in error.message("en") and "还剩 2 次" in error.message("zh")
    assert error.code == "pin-incorrect"


def test_device_removed_stops_a_batch_and_impossible_answers_are_token_errors() -> None:
    assert stops_the_batch(translate(SkfCallError("SKF_DecryptUpdate", SAR_DEVICE_REMOVED), WHERE))
    error = translate(SkfCallError("SKF_EnumDev", None, "answers 9 bytes in a buffer of 4"), WHERE)
    assert type(error) is errors.TokenError and "9 bytes" in str(error)


def test_seed_words() -> None:
    app = errors.SkfApplicationMissingError(source="s", wanted="", available="无")
    assert app.message("zh").startswith("当前 UKey 不存在应用")
    container = errors.SkfContainerMissingError(source="s", application="a", wanted="", available="无")
    assert container.message("zh").startswith("没有获取到容器")
    from bidcrypt.certs import Purpose

    cert = errors.SkfCertificateMissingError(source="s", container="c", purpose=Purpose.SIGNING.text())
    assert cert.message("zh").startswith("未获取到签名证书")
    assert {app.code, container.code, cert.code} == {
        "skf-no-application",
        "skf-no-container",
        "skf-no-certificate",
    }


# -- references and names -------------------------------------------------------------------


def test_reference_full() -> None:
    uri = SkfUri.parse(
        "skf:device=" + quote("华大") + ";application=" + quote("投标应用") + ";container=c1"
        "?module-path=/opt/libskf.so&fast-path=no"
    )
    assert uri.device == "华大".encode() and uri.application == "投标应用".encode() and uri.container == b"c1"
    assert uri.module_path == "/opt/libskf.so" and uri.fast_path is False
    assert SkfUri.parse("skf:").fast_path is True


def test_module_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDCRYPT_SKF_MODULE", "/env.so")
    assert SkfUri.parse("skf:").module() == "/env.so"
    assert SkfUri.parse("skf:").module("/flag.so") == "/flag.so"
    assert SkfUri.parse("skf:?module-path=/uri.so").module("/flag.so") == "/uri.so"
    monkeypatch.delenv("BIDCRYPT_SKF_MODULE")
    assert SkfUri.parse("skf:").module() is None


@pytest.mark.parametrize(
    "text",
    [
        "skf:colour=red",
        "skf:device",
        "skf:device=a;device=b",
        "skf:?fast-path=maybe",
        "skf:container=",
        "skf:container=a%00b",
        "pkcs11:token=x",
    ],
)
def test_malformed_references(text: str) -> None:
    with pytest.raises(errors.KeyRefError):
        SkfUri.parse(text)


@pytest.mark.parametrize(
    "text", ["skf:container=c;pin-value=123456", "skf:pin-value=123456", "skf:?pin-source=123456"]
)
def test_pin_is_refused_and_never_shown(text: str) -> None:
    with pytest.raises(errors.KeyRefError) as caught:
        SkfUri.parse(text)
    assert "123456" not in caught.value.message("en") and "123456" not in caught.value.message("zh")


def test_names_utf8_then_gbk() -> None:
    assert decode_name("招标".encode()) == "招标"
    assert decode_name("招标".encode("gbk")) == "招标"
    gbk = SkfName.of("投标应用".encode("gbk"))
    assert gbk.text == "投标应用" and gbk.raw == "投标应用".encode("gbk")
    assert gbk.matches("投标应用".encode()) and gbk.matches("投标应用".encode("gbk"))
    assert not gbk.matches(b"other")
    names = split_name_list(b"a\0" + "容器".encode("gbk") + b"\0\0")
    assert [n.text for n in names] == ["a", "容器"]
    assert split_name_list(b"\0\0") == []


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20).filter(lambda t: "\0" not in t))
def test_reference_names_round_trip(name: str) -> None:
    uri = SkfUri.parse("skf:container=" + quote(name, safe=""))
    assert uri.container == name.encode()
    assert SkfName.of(name.encode()).matches(uri.container)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_token_name_decodes(raw: bytes) -> None:
    assert isinstance(decode_name(raw), str)
