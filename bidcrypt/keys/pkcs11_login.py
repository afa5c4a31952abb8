"""Logging in to a UKey without ever locking it: the PIN flags, PIN pads and keys that ask each time.

The rules (see :class:`~bidcrypt.keys.pkcs11_token.Pkcs11Source`):

* the token's PIN flags are read before every login, context-specific
  logins included; a locked token is never logged in to, and a final try
  is only made with a PIN a person has just typed;
* a wrong PIN is never retried: the error is remembered and raised again;
* a PIN-pad token (``CKF_PROTECTED_AUTHENTICATION_PATH``) is logged in to
  with no PIN: the person types it on the UKey's keypad, and bidcrypt
  says so on stderr;
* a key with ``CKA_ALWAYS_AUTHENTICATE`` needs a context-specific login
  before each signature or decryption. The PIN is asked once, at the
  login, kept while the key source is open (one batch) and dropped when
  it closes; it is kept at all only when the token holds such a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pkcs11
import pkcs11.exceptions as p11
from pkcs11 import Attribute, ObjectClass, TokenFlag

from bidcrypt.errors import (
    BidcryptError,
    MechanismUnsupportedError,
    ModuleLoadError,
    ModuleMissingError,
    PinFinalTryError,
    PinIncorrectError,
    PinLockedError,
    TokenAbsentError,
    TokenError,
    WrongKeyError,
)
from bidcrypt.files import regular_file_problem
from bidcrypt.i18n import pick
from bidcrypt.keys.pin import Pin, PinSource, check_before_login, obtain_for_login

__all__ = [
    "KEEP_ON_UNWRAP",
    "PIN_REFUSED",
    "PinState",
    "TokenInfo",
    "always_authenticate",
    "check_before_context_login",
    "check_before_login",
    "has_pin_pad",
    "holds_always_authenticate_keys",
    "load_module",
    "log_in",
    "translator",
]


@dataclass(frozen=True)
class PinState:
    """The token's PIN flags, read without logging in."""

    count_low: bool
    final_try: bool
    locked: bool
    to_be_changed: bool

    @classmethod
    def of(cls, flags: int) -> PinState:
        """Decode ``CK_TOKEN_INFO.flags``."""
        return cls(
            count_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
            final_try=bool(flags & TokenFlag.USER_PIN_FINAL_TRY),
            locked=bool(flags & TokenFlag.USER_PIN_LOCKED),
            to_be_changed=bool(flags & TokenFlag.USER_PIN_TO_BE_CHANGED),
        )

    def describe(self) -> str:
        """One phrase for reports."""
        if self.locked:
            return pick("locked", "已锁定")
        if self.final_try:
            return pick("one try left", "仅剩最后一次尝试")
        if self.count_low:
            return pick("a wrong PIN was entered before", "曾输错过 PIN 码")
        return pick("ok", "正常")


@dataclass(frozen=True)
class TokenInfo:
    """What a token says about itself before any login."""

    label: str
    manufacturer: str
    model: str
    serial: str
    pin: PinState
    mechanisms: frozenset[str]
    #: The PIN is typed on the UKey's own keypad (``CKF_PROTECTED_AUTHENTICATION_PATH``).
    pin_pad: bool = False


def has_pin_pad(flags: int) -> bool:
    """True when ``CK_TOKEN_INFO.flags`` says the PIN is entered on the token's keypad."""
    return bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH)


def load_module(path: str | None) -> Any:
    """Load a PKCS#11 module, with bidcrypt's errors for a missing or broken one."""
    if not path:
        raise ModuleMissingError()
    problem = regular_file_problem(path)
    if problem is not None:
        raise ModuleLoadError(problem, module=path)
    try:
        return pkcs11.lib(path)
    except p11.PKCS11Error as exc:
        raise ModuleLoadError(str(exc), module=path) from exc


#: PKCS#11 failures that mean the PIN was refused.
PIN_REFUSED = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)


def translator(source: str) -> Callable[[p11.PKCS11Error], BidcryptError]:
    """The function turning a PKCS#11 failure on the token *source* into bidcrypt's error."""

    def translate(exc: p11.PKCS11Error) -> BidcryptError:
        if isinstance(exc, PIN_REFUSED):
            return PinIncorrectError(source=source)
        if isinstance(exc, p11.PinLocked):
            return PinLockedError(source=source)
        if isinstance(exc, p11.TokenNotPresent | p11.DeviceRemoved | p11.SlotIDInvalid):
            return TokenAbsentError(type(exc).__name__, token=source, available="-")
        if isinstance(
            exc,
            p11.MechanismInvalid | p11.MechanismParamInvalid | p11.FunctionNotSupported | p11.ArgumentsBad,
        ):
            return MechanismUnsupportedError(type(exc).__name__, source=source, operation="-")
        if isinstance(exc, p11.EncryptedDataInvalid | p11.EncryptedDataLenRange | p11.DataInvalid):
            return WrongKeyError()
        return TokenError(type(exc).__name__, source=source)

    return translate


#: Failures that say something about the token, session or PIN, not about the wrapped key.
KEEP_ON_UNWRAP = (
    p11.TokenNotPresent,
    p11.DeviceRemoved,
    p11.DeviceError,
    p11.DeviceMemory,
    p11.SessionClosed,
    p11.SessionHandleInvalid,
    p11.UserNotLoggedIn,
    p11.PinLocked,
    p11.PinExpired,
    *PIN_REFUSED,
    p11.MechanismInvalid,
    p11.MechanismParamInvalid,
    p11.FunctionNotSupported,
    p11.ArgumentsBad,
)


def check_before_context_login(state: PinState, description: str) -> None:
    """Before a per-operation login with the kept PIN: a locked or final-try token stops the batch."""
    if state.locked:
        raise PinLockedError(source=description)
    if state.final_try:  # the kept PIN was not typed just now: never a final try with it
        raise PinFinalTryError(source=description)


def log_in(token: Any, info: TokenInfo, pins: PinSource, description: str) -> tuple[Any, Pin | None]:
    """Open a logged-in session on *token*; return it with the PIN used (None on a PIN pad).

    *info* is what the token said just before. Raises PKCS#11 errors for
    the caller to translate, and bidcrypt's own errors for what the flags
    forbid.
    """
    state = info.pin
    check_before_login(state, pins, description)
    if info.pin_pad:
        pins.warn(
            pick(
                f"enter the PIN on the UKey's keypad ({description})",
                f"请在 U-KEY 的键盘上输入 PIN 码（{description}）",
            )
        )
        return token.open(user_pin=pkcs11.PROTECTED_AUTH), None
    pin = obtain_for_login(state, pins, description)
    return token.open(user_pin=pin.value), pin


def holds_always_authenticate_keys(session: Any) -> bool:
    """True when a private key on the token needs a login before each use (``CKA_ALWAYS_AUTHENTICATE``)."""
    try:
        template = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ALWAYS_AUTHENTICATE: True}
        return any(True for _ in session.get_objects(template))
    except p11.PKCS11Error:
        return False


def always_authenticate(key: Any) -> bool:
    """The key's ``CKA_ALWAYS_AUTHENTICATE`` (False where the token does not know the attribute)."""
    try:
        return bool(key[Attribute.ALWAYS_AUTHENTICATE])
    except (p11.PKCS11Error, KeyError):
        return False
