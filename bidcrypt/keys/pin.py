"""Where a PIN or password comes from: an environment variable, a person at a terminal, or the caller.

Never from argv. A PIN is kept only as long as the login needs it and never
appears in a message.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bidcrypt.errors import PinFinalTryError, PinLockedError, PinUnavailableError
from bidcrypt.i18n import pick

DEFAULT_PIN_ENV = "BIDCRYPT_PIN"


@dataclass(frozen=True)
class Pin:
    """A PIN value and whether a person typed it just now."""

    value: str = field(repr=False)
    typed_by_person: bool


@dataclass(frozen=True)
class PinSource:
    """How to obtain the PIN for a key source.

    In order: the fixed value given by the embedding software, the
    environment variable ``env_var``, then (when ``interactive``) a prompt on
    the terminal. ``warn`` receives warnings such as "one more wrong PIN
    locks the token" before the prompt.
    """

    env_var: str = DEFAULT_PIN_ENV
    interactive: bool = True
    fixed: str | None = field(default=None, repr=False)
    warn: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))

    @classmethod
    def of_value(cls, value: str) -> PinSource:
        """A source that always answers *value* (for software embedding bidcrypt)."""
        return cls(fixed=value, interactive=False)

    def can_ask_person(self) -> bool:
        """True when a prompt on a terminal is possible."""
        return self.interactive and sys.stdin.isatty()

    def obtain(self, what: str) -> Pin:
        """The PIN for *what* (a token or file description), or :class:`PinUnavailableError`."""
        if self.fixed is not None:
            return Pin(self.fixed, typed_by_person=False)
        value = os.environ.get(self.env_var)
        if value:
            return Pin(value, typed_by_person=False)
        if self.can_ask_person():
            prompt = pick(f"PIN or password for {what}: ", f"请输入 {what} 的 PIN 码或密码：")
            typed = getpass.getpass(prompt)
            if typed:
                return Pin(typed, typed_by_person=True)
        raise PinUnavailableError(source=what)

    def obtain_from_person(self, what: str) -> Pin:
        """A PIN a person types now, for a final try: never the environment's nor a fixed one.

        :class:`PinFinalTryError` when there is no terminal or nothing was typed.
        """
        if self.can_ask_person():
            prompt = pick(
                f"PIN for {what} (one try left; type it yourself): ",
                f"请输入 {what} 的 PIN 码（仅剩一次机会，请亲自输入）：",
            )
            typed = getpass.getpass(prompt)
            if typed:
                return Pin(typed, typed_by_person=True)
        raise PinFinalTryError(source=what)


class PinStatus(Protocol):
    """What a token says about its user PIN before a login (PKCS#11's flags, SKF's retry counts)."""

    @property
    def count_low(self) -> bool:
        """A wrong PIN was entered since the last good one."""
        ...

    @property
    def final_try(self) -> bool:
        """One more wrong PIN locks the token."""
        ...

    @property
    def locked(self) -> bool:
        """The PIN is locked: no login may be tried."""
        ...


def check_before_login(state: PinStatus, pins: PinSource, description: str) -> None:
    """Refuse or warn from the PIN flags, before any PIN is asked for or sent."""
    if state.locked:
        raise PinLockedError(source=description)
    if state.final_try:
        if not pins.can_ask_person():
            raise PinFinalTryError(source=description)
        pins.warn(
            pick(
                f"warning: one more wrong PIN locks {description}",
                f"警告：再输错一次 PIN 码，{description} 将被锁定",
            )
        )
    elif state.count_low:
        pins.warn(
            pick(
                f"warning: a wrong PIN was entered on {description} before; a few more lock it",
                f"警告：{description} 曾输错 PIN 码，多次输错将被锁定",
            )
        )


def obtain_for_login(state: PinStatus, pins: PinSource, description: str) -> Pin:
    """The PIN for a login, after :func:`check_before_login`: on a final try only one a person types now.

    On a final try the environment's PIN is passed over and the person at
    the terminal is asked (:meth:`PinSource.obtain_from_person`).
    """
    pin = pins.obtain_from_person(description) if state.final_try else pins.obtain(description)
    if state.final_try and not pin.typed_by_person:
        raise PinFinalTryError(source=description)
    return pin
