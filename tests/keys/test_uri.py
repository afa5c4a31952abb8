"""RFC 7512 PKCS#11 URIs."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.errors import KeyRefError
from bidcrypt.keys.uri import Pkcs11Uri


def test_parse_full_uri() -> None:
    uri = Pkcs11Uri.parse(
        "pkcs11:token=bidder-a;object=enc;type=private;id=%02?module-path=/usr/lib/softhsm/libsofthsm2.so"
    )
    assert uri.token == "bidder-a"
    assert uri.object == "enc"
    assert uri.type == "private"
    assert uri.id == b"\x02"
    assert uri.module() == "/usr/lib/softhsm/libsofthsm2.so"


def test_percent_encoded_chinese_label() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=" + quote("湖北楚天") + ";object=" + quote("加密 证书"))
    assert uri.token == "湖北楚天"
    assert uri.object == "加密 证书"


def test_module_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDCRYPT_PKCS11_MODULE", "/env.so")
    assert Pkcs11Uri.parse("pkcs11:token=t").module() == "/env.so"
    assert Pkcs11Uri.parse("pkcs11:token=t").module("/flag.so") == "/flag.so"
    assert Pkcs11Uri.parse("pkcs11:token=t?module-path=/uri.so").module("/flag.so") == "/uri.so"
    monkeypatch.delenv("BIDCRYPT_PKCS11_MODULE")
    assert Pkcs11Uri.parse("pkcs11:token=t").module() is None


def test_pin_value_is_refused_and_not_echoed() -> None:
    with pytest.raises(KeyRefError) as caught:
        Pkcs11Uri.parse("pkcs11:token=t?pin-value=secret123&module-path=/x.so")
    assert "secret123" not in str(caught.value)
    assert "BIDCRYPT_PIN" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "token=t",
        "pkcs11:token",
        "pkcs11:colour=red",
        "pkcs11:token=a;token=b",
        "pkcs11:slot-id=x",
        "pkcs11:type=secret",
        "pkcs11:token=t?pin-source=file:/x",
    ],
)
def test_malformed_uris(text: str) -> None:
    with pytest.raises(KeyRefError):
        Pkcs11Uri.parse(text)


labels = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(labels, labels, st.binary(min_size=1, max_size=8))
def test_round_trip(token: str, obj: str, object_id: bytes) -> None:
    text = f"pkcs11:token={quote(token, safe='')};object={quote(obj, safe='')};id={quote(object_id, safe='')}"
    uri = Pkcs11Uri.parse(text)
    assert (uri.token, uri.object, uri.id) == (token, obj, object_id)
