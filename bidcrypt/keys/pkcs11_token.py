"""A UKey (any PKCS#11 token) as a key source, through python-pkcs11.

Rules kept here:

* one login per source, on the first private-key operation, never repeated
  after a wrong PIN (the error is remembered and raised again);
* the PIN-count-low / final-try / locked flags are read before the login;
  a locked token is never logged in to, and a final try is only made with
  a PIN a person has just typed (see :mod:`bidcrypt.keys.pkcs11_login`,
  which also covers PIN-pad tokens and keys that ask for the PIN before
  each use);
* operations are serialised on the one session by a lock, so threads can
  share a source;
* the certificates found are :class:`~bidcrypt.keys.pkcs11_entry.Pkcs11Entry`
  objects, which do the private-key operations through this source (a key
  the token does not allow to decrypt, agree or sign is refused with that
  reason; digests are computed in software, the token signs them).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pkcs11.exceptions as p11
from pkcs11 import Attribute, Mechanism, ObjectClass

from bidcrypt import certs
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    MechanismUnsupportedError,
    TokenAbsentError,
    TokenError,
    WrongKeyError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys import pkcs11_login as login
from bidcrypt.keys.base import KeyEntry, KeySource
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.pkcs11_entry import Pkcs11Entry
from bidcrypt.keys.pkcs11_login import PinState, TokenInfo, load_module
from bidcrypt.keys.uri import Pkcs11Uri

__all__ = ["PinState", "Pkcs11Entry", "Pkcs11Source", "TokenInfo", "load_module"]

_T = TypeVar("_T")


class Pkcs11Source(KeySource):
    """A PKCS#11 token selected by an RFC 7512 URI."""

    def __init__(
        self, uri: Pkcs11Uri, pin_source: PinSource | None = None, module: str | None = None
    ) -> None:
        self.uri = uri
        self.description = uri.describe()
        self.pin_source = pin_source or PinSource()
        self.module_path = uri.module(module)
        self._lib = load_module(self.module_path)
        self._token = self._find_token()
        self.description = self._token.label.strip() or self.description
        self._translate = login.translator(self.description)
        self._lock = threading.RLock()
        self._public_session: Any = None
        self._user_session: Any = None
        self._login_error: BidcryptError | None = None
        #: The PIN, kept only while the source is open and only for keys that ask for it at each use.
        self._context_pin: str | None = None
        self._entries: list[Pkcs11Entry] | None = None

    # -- token and session -----------------------------------------------------------------

    def _find_token(self) -> Any:
        try:
            slots = self._lib.get_slots(token_present=True)
            tokens = [slot.get_token() for slot in slots]
        except p11.PKCS11Error as exc:
            raise TokenError(type(exc).__name__, source=self.description) from exc
        wanted = self.uri
        matching = [
            t
            for t in tokens
            if (wanted.token is None or t.label.strip() == wanted.token)
            and (wanted.serial is None or _text(t.serial) == wanted.serial)
            and (wanted.manufacturer is None or t.manufacturer_id.strip() == wanted.manufacturer)
            and (wanted.model is None or t.model.strip() == wanted.model)
            and (wanted.slot_id is None or t.slot.slot_id == wanted.slot_id)
        ]
        available = ", ".join(t.label.strip() for t in tokens if t.label.strip()) or Text("none", "无")
        if not matching:
            raise TokenAbsentError(token=self.description, available=available)
        if len(matching) > 1:
            raise TokenAbsentError(
                Text("several tokens match; name one with token=", "有多个 U-KEY 匹配，请用 token= 指定"),
                token=self.description,
                available=available,
            )
        return matching[0]

    @contextmanager
    def _calling(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except p11.PKCS11Error as exc:
                raise self._translate(exc) from exc

    def _flags_now(self) -> int:
        """``CK_TOKEN_INFO.flags`` now (python-pkcs11's token keeps those of when it was found)."""
        with self._calling():
            return int(self._token.slot.get_token().flags)

    def pin_state(self) -> PinState:
        """The PIN flags as they are now, read without logging in."""
        return PinState.of(self._flags_now())

    def info(self) -> TokenInfo:
        """Label, maker, serial, PIN flags (as they are now) and mechanisms, read without logging in."""
        flags = self._flags_now()
        with self._calling():
            token = self._token
            mechanisms = frozenset(
                m.name if isinstance(m, Mechanism) else hex(m) for m in token.slot.get_mechanisms()
            )
            return TokenInfo(
                label=token.label.strip(),
                manufacturer=token.manufacturer_id.strip(),
                model=token.model.strip(),
                serial=_text(token.serial),
                pin=PinState.of(flags),
                mechanisms=mechanisms,
                pin_pad=login.has_pin_pad(flags),
            )

    def _session(self) -> Any:
        if self._user_session is not None:
            return self._user_session
        if self._public_session is None:
            with self._calling():
                self._public_session = self._token.open()
        return self._public_session

    def login(self) -> Any:
        """Log in once (reading the PIN flags first) and return the logged-in session."""
        with self._lock:
            if self._login_error is not None:
                raise self._login_error
            if self._user_session is not None:
                return self._user_session
            try:
                self._user_session = self._log_in()
            except BidcryptError as exc:
                self._login_error = exc
                raise
            if self._public_session is not None:
                with self._calling():
                    self._public_session.close()
                self._public_session = None
            return self._user_session

    def _log_in(self) -> Any:
        info = self.info()
        with self._calling():
            session, pin = login.log_in(self._token, info, self.pin_source, self.description)
            if pin is not None and login.holds_always_authenticate_keys(session):
                self._context_pin = pin.value
        return session

    def context_pin(self) -> str:
        """The PIN for a context-specific login before one operation of a key that always asks for it.

        The PIN flags are read first: a locked token, or one with a single
        try left, stops here (the kept PIN is not one a person just typed).
        """
        with self._lock:
            self.login()
            login.check_before_context_login(self.pin_state(), self.description)
            if self._context_pin is None:
                raise MechanismUnsupportedError(
                    Text(
                        "the key asks for the PIN before each use, and the PIN is typed on the UKey's "
                        "keypad: python-pkcs11 cannot ask the keypad again for one operation",
                        "该密钥每次使用前都要求输入 PIN 码，而 PIN 码须在 U-KEY 键盘上输入："
                        "python-pkcs11 无法为单次操作再次请求键盘输入",
                    ),
                    source=self.description,
                    operation=Text("a context-specific login", "单次操作登录"),
                )
            return self._context_pin

    def close(self) -> None:
        """Close the sessions (logging out) and drop the kept PIN."""
        with self._lock:
            self._context_pin = None
            for session in (self._user_session, self._public_session):
                if session is not None:
                    with contextlib.suppress(p11.PKCS11Error):
                        session.close()
            self._user_session = self._public_session = None

    # -- objects ---------------------------------------------------------------------------

    def entries(self) -> list[KeyEntry]:
        """The certificates on the token (filtered by the URI's object/id), without logging in."""
        if self._entries is None:
            with self._calling():
                found = []
                for obj in self._session().get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                    label = str(obj[Attribute.LABEL] or "")
                    key_id = bytes(obj[Attribute.ID] or b"")
                    if self.uri.object is not None and label != self.uri.object:
                        continue
                    if self.uri.id is not None and key_id != self.uri.id:
                        continue
                    try:
                        certificate = certs.from_der(bytes(obj[Attribute.VALUE]))
                    except certs.UNREADABLE:
                        continue  # a certificate object no one can read names no key: skip it
                    found.append(Pkcs11Entry(self, label, key_id, certificate))
            self._entries = found
            if not found and (self.uri.object or self.uri.id):
                raise KeyNotFoundError(
                    what=Text("certificate", "证书"), ref=f"{self.description}:{self.uri.object or ''}"
                )
        return list(self._entries)

    def private_key(self, entry: Pkcs11Entry) -> Any | None:
        """The private-key object of *entry* (same CKA_ID, else same label), logging in if needed."""
        session = self.login()
        with self._calling():
            for template in (
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: entry.key_id},
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: entry.label},
            ):
                if template.get(Attribute.ID) == b"":
                    continue
                keys = list(session.get_objects(template))
                if keys:
                    return keys[0]
        return None

    def run(self, operation: Callable[[], _T]) -> _T:
        """Run one token operation under the session lock, translating PKCS#11 errors."""
        with self._lock:
            try:
                return operation()
            except p11.PKCS11Error as exc:
                raise self._failed(exc) from exc

    def unwrap(self, operation: Callable[[], _T]) -> _T:
        """Run a key-unwrapping operation: any failure of the data or key is a wrong key.

        Tokens report a bad padding, a wrong key or a mangled ciphertext with
        different codes (SoftHSM2 says CKR_GENERAL_ERROR); all of them become
        :class:`WrongKeyError`, so no padding oracle leaks through the errors.
        Session, device and PIN failures keep their own errors.
        """
        with self._lock:
            try:
                return operation()
            except login.KEEP_ON_UNWRAP as exc:
                raise self._failed(exc) from exc
            except p11.PKCS11Error as exc:
                raise WrongKeyError() from exc

    def _failed(self, exc: p11.PKCS11Error) -> BidcryptError:
        """The error for *exc*; a refused or locked PIN (of a context-specific login) is never retried."""
        error = self._translate(exc)
        if isinstance(exc, (*login.PIN_REFUSED, p11.PinLocked)):
            self._login_error = error
            self._context_pin = None
        return error

    def mechanisms(self) -> frozenset[Any]:
        """The mechanisms the token's slot lists."""
        with self._calling():
            return frozenset(self._token.slot.get_mechanisms())


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value).strip()
