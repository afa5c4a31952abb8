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

from bidcrypt.errors import PinUnavailableError
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
