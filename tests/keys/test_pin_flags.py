"""Never lock a UKey: the PIN flags are read before the login and decide whether to log in."""

from __future__ import annotations

import dataclasses

import pytest

from bidcrypt.errors import PinFinalTryError, PinLockedError
from bidcrypt.keys import Pin, PinSource, open_key_source
from bidcrypt.keys.pkcs11_token import PinState, Pkcs11Source

from ..conftest import SoftHsm


@dataclasses.dataclass(frozen=True)
class ScriptedPins(PinSource):
    """A person at a terminal typing the right PIN; records warnings and prompts."""

    person: bool = True
    log: list[str] = dataclasses.field(default_factory=list)
    right_pin: str = ""

    def can_ask_person(self) -> bool:
        return self.person

    def obtain(self, what: str) -> Pin:
        self.log.append("asked")
        return Pin(self.right_pin, typed_by_person=self.person)

    def obtain_from_person(self, what: str) -> Pin:
        if not self.person:
            raise PinFinalTryError(source=what)
        return self.obtain(what)


def _source_with_flags(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch, pins: PinSource, **flags: bool
) -> Pkcs11Source:
    source = open_key_source(softhsm.uri("bidder-a", "sign"), pins)
    assert isinstance(source, Pkcs11Source)
    real_info = source.info

    def info():  # type: ignore[no-untyped-def]
        state = PinState(
            **{"count_low": False, "final_try": False, "locked": False, "to_be_changed": False, **flags}
        )
        return dataclasses.replace(real_info(), pin=state)

    monkeypatch.setattr(source, "info", info)
    return source


def test_locked_token_is_not_logged_in_to(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = ScriptedPins(right_pin=softhsm.pin)
    source = _source_with_flags(softhsm, monkeypatch, pins, locked=True)
    with pytest.raises(PinLockedError):
        source.entry().sign(b"x")
    assert pins.log == []  # the PIN was never even asked for
    assert source._user_session is None


def test_final_try_refuses_a_pin_from_the_environment(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = ScriptedPins(right_pin=softhsm.pin, person=False)
    source = _source_with_flags(softhsm, monkeypatch, pins, final_try=True)
    with pytest.raises(PinFinalTryError) as caught:
        source.entry().sign(b"x")
    assert "terminal" in caught.value.hint()
    assert source._user_session is None


def test_final_try_with_a_person_warns_then_logs_in(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    pins = ScriptedPins(right_pin=softhsm.pin, warn=warnings.append)
    source = _source_with_flags(softhsm, monkeypatch, pins, final_try=True, count_low=True)
    with source:
        assert source.entry().sign(b"x")
    assert len(warnings) == 1 and "locks" in warnings[0]
    assert pins.log == ["asked"]


def test_count_low_warns(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    pins = ScriptedPins(right_pin=softhsm.pin, person=False, warn=warnings.append)
    source = _source_with_flags(softhsm, monkeypatch, pins, count_low=True)
    with source:
        source.entry().sign(b"x")
    assert len(warnings) == 1 and "wrong PIN" in warnings[0]


def test_pin_state_decoding() -> None:
    assert PinState.of(0x00010000).count_low
    assert PinState.of(0x00020000).final_try
    assert PinState.of(0x00040000).locked
    assert not PinState.of(0x42D).locked
