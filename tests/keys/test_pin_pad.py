"""PIN-pad UKeys (protected authentication path): no PIN asked, typed on the keypad instead.

SoftHSM2 has no keypad, so a thin wrapper over the python-pkcs11 library
reports ``CKF_PROTECTED_AUTHENTICATION_PATH`` for the fixture tokens, and
answers a login with no PIN (``PROTECTED_AUTH``) as the keypad would: with
the PIN the person types there. Everything else is the real SoftHSM2 token.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pkcs11
import pytest
from pkcs11 import TokenFlag

import bidcrypt.keys.pkcs11_token as pkcs11_token
from bidcrypt.certs import Purpose
from bidcrypt.envelope import probe_transports
from bidcrypt.errors import MechanismUnsupportedError, PinFinalTryError, PinLockedError
from bidcrypt.keys import Pin, PinSource, open_key_source
from bidcrypt.keys.pkcs11_token import Pkcs11Source

from ..conftest import SoftHsm, run_cli


class Keypad:
    """What happened at the keypad and on the wire."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.logins: list[str] = []


class _Delegate:
    def __init__(self, real: Any, keypad: Keypad) -> None:
        self._real = real
        self._keypad = keypad

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class PinPadToken(_Delegate):
    @property
    def flags(self) -> int:
        return int(self._real.flags) | TokenFlag.PROTECTED_AUTHENTICATION_PATH

    @property
    def slot(self) -> PinPadSlot:
        return PinPadSlot(self._real.slot, self._keypad)

    def open(self, rw: bool = False, user_pin: Any = None, **kwargs: Any) -> Any:
        if user_pin is pkcs11.PROTECTED_AUTH:
            self._keypad.logins.append("keypad")
            return self._real.open(rw=rw, user_pin=self._keypad.pin, **kwargs)
        if user_pin is not None:
            self._keypad.logins.append("PIN sent by software")
        return self._real.open(rw=rw, user_pin=user_pin, **kwargs)


class PinPadSlot(_Delegate):
    def get_token(self) -> PinPadToken:
        return PinPadToken(self._real.get_token(), self._keypad)


class PinPadLibrary(_Delegate):
    def get_slots(self, token_present: bool = False) -> list[PinPadSlot]:
        return [PinPadSlot(slot, self._keypad) for slot in self._real.get_slots(token_present=token_present)]


@dataclasses.dataclass(frozen=True)
class NoPinExpected(PinSource):
    """A person at a terminal, who must never be asked for the PIN here."""

    notices: list[str] = dataclasses.field(default_factory=list)
    asked: list[str] = dataclasses.field(default_factory=list)

    def can_ask_person(self) -> bool:
        return self.interactive

    def obtain(self, what: str) -> Pin:
        self.asked.append(what)
        return Pin("wrong", typed_by_person=True)


@pytest.fixture
def keypad(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> Keypad:
    pad = Keypad(softhsm.pin)
    real_load = pkcs11_token.load_module
    monkeypatch.setattr(pkcs11_token, "load_module", lambda path: PinPadLibrary(real_load(path), pad))
    return pad


def test_a_pin_pad_token_is_logged_in_to_with_no_pin(softhsm: SoftHsm, keypad: Keypad) -> None:
    pins = NoPinExpected(warn=lambda text: pins.notices.append(text))
    with open_key_source(softhsm.uri("bidder-a"), pins) as source:
        assert isinstance(source, Pkcs11Source) and source.info().pin_pad
        signer = source.entry(Purpose.SIGNING)
        assert signer.sign(b"one") and signer.sign(b"two")
        encryption = source.entry(Purpose.ENCRYPTION)
        assert probe_transports(encryption)
    assert keypad.logins == ["keypad"]  # one login, with no PIN from software
    assert pins.asked == []
    assert pins.notices == ["enter the PIN on the UKey's keypad (bidder-a)"]


def test_the_keypad_notice_goes_to_stderr(softhsm: SoftHsm, keypad: Keypad, tmp_path: Any) -> None:
    result = run_cli("doctor", "--token", softhsm.uri("bidder-a"), "--login")
    assert result.exit_code == 0, result.stderr
    assert "enter the PIN on the UKey's keypad" in result.stderr
    assert "PIN pad" in result.stdout
    assert keypad.logins == ["keypad"]


@pytest.mark.parametrize(
    ("flags", "error"), [({"locked": True}, PinLockedError), ({"final_try": True}, PinFinalTryError)]
)
def test_the_never_lock_rules_hold_on_a_pin_pad(
    softhsm: SoftHsm, keypad: Keypad, monkeypatch: pytest.MonkeyPatch, flags: dict[str, bool], error: type
) -> None:
    unattended = NoPinExpected(interactive=False)
    source = open_key_source(softhsm.uri("bidder-a", "sign"), unattended)
    assert isinstance(source, Pkcs11Source)
    real_info = source.info
    monkeypatch.setattr(
        source,
        "info",
        lambda: dataclasses.replace(real_info(), pin=dataclasses.replace(real_info().pin, **flags)),
    )
    with source, pytest.raises(error):
        source.entry().sign(b"x")
    assert keypad.logins == []  # no keypad prompt either: the token was not asked


def test_a_final_try_on_a_pin_pad_with_a_person_warns_then_asks_the_keypad(
    softhsm: SoftHsm, keypad: Keypad, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = NoPinExpected(warn=lambda text: pins.notices.append(text))
    source = open_key_source(softhsm.uri("bidder-a", "sign"), pins)
    assert isinstance(source, Pkcs11Source)
    real_info = source.info
    final = lambda: dataclasses.replace(real_info(), pin=dataclasses.replace(real_info().pin, final_try=True))  # noqa: E731
    monkeypatch.setattr(source, "info", final)
    with source:
        assert source.entry().sign(b"x")
    assert [n.split(":")[0] for n in pins.notices] == [
        "warning",
        "enter the PIN on the UKey's keypad (bidder-a)",
    ]
    assert keypad.logins == ["keypad"] and pins.asked == []


def test_a_pin_pad_key_that_asks_before_each_use_is_refused_clearly(
    softhsm: SoftHsm, keypad: Keypad, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bidcrypt.keys.pkcs11_login as login

    monkeypatch.setattr(login, "always_authenticate", lambda key: True)
    source = open_key_source(softhsm.uri("bidder-a", "sign"), NoPinExpected())
    with source, pytest.raises(MechanismUnsupportedError, match="typed on the UKey's keypad"):
        source.entry().sign(b"x")
