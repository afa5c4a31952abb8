"""A UKey (any PKCS#11 token) as a key source, through python-pkcs11.

Rules kept here:

* one login per source, on the first private-key operation, never repeated
  after a wrong PIN (the error is remembered and raised again);
* the PIN-count-low / final-try / locked flags are read before the login;
  a locked token is never logged in to, and a final try is only made with
  a PIN a person has just typed;
* operations are serialised on the one session by a lock, so threads can
  share a source;
* digests are computed in software and the token signs with the plain
  ``CKM_RSA_PKCS`` / ``CKM_ECDSA`` mechanisms most UKeys support.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pkcs11
import pkcs11.exceptions as p11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import KDF, MGF, Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11.util.ec import encode_ecdsa_signature

from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
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
from bidcrypt.i18n import pick
from bidcrypt.keys.base import KeyEntry, KeySource, KeyTransport
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.uri import Pkcs11Uri

_T = TypeVar("_T")

_DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_OAEP_PARAMETERS = {
    KeyTransport.OAEP_SHA1: (Mechanism.SHA_1, MGF.SHA1, None),
    KeyTransport.OAEP_SHA256: (Mechanism.SHA256, MGF.SHA256, None),
}


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


def load_module(path: str | None) -> Any:
    """Load a PKCS#11 module, with bidcrypt's errors for a missing or broken one."""
    if not path:
        raise ModuleMissingError()
    if not Path(path).exists():
        raise ModuleLoadError(pick("no such file", "文件不存在"), module=path)
    try:
        return pkcs11.lib(path)
    except p11.PKCS11Error as exc:
        raise ModuleLoadError(str(exc), module=path) from exc


def _translate(source: str) -> Callable[[p11.PKCS11Error], BidcryptError]:
    def translate(exc: p11.PKCS11Error) -> BidcryptError:
        if isinstance(exc, p11.PinIncorrect | p11.PinInvalid | p11.PinLenRange):
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


#: Failures that say something about the token or session, not about the wrapped key.
_KEEP_ON_UNWRAP = (
    p11.TokenNotPresent,
    p11.DeviceRemoved,
    p11.DeviceError,
    p11.DeviceMemory,
    p11.SessionClosed,
    p11.SessionHandleInvalid,
    p11.UserNotLoggedIn,
    p11.PinLocked,
    p11.PinExpired,
    p11.MechanismInvalid,
    p11.MechanismParamInvalid,
    p11.FunctionNotSupported,
    p11.ArgumentsBad,
)


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
        self._translate = _translate(self.description)
        self._lock = threading.RLock()
        self._public_session: Any = None
        self._user_session: Any = None
        self._login_error: BidcryptError | None = None
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
        available = ", ".join(t.label.strip() for t in tokens if t.label.strip()) or pick("none", "无")
        if not matching:
            raise TokenAbsentError(token=self.description, available=available)
        if len(matching) > 1:
            raise TokenAbsentError(
                pick("several tokens match; name one with token=", "有多个 U-KEY 匹配，请用 token= 指定"),
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

    def info(self) -> TokenInfo:
        """Label, maker, serial, PIN flags and mechanisms, read without logging in."""
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
                pin=PinState.of(int(token.flags)),
                mechanisms=mechanisms,
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
            if self._user_session is not None:
                return self._user_session
            if self._login_error is not None:
                raise self._login_error
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
        state = self.info().pin
        if state.locked:
            raise PinLockedError(source=self.description)
        if state.final_try:
            if not self.pin_source.can_ask_person():
                raise PinFinalTryError(source=self.description)
            self.pin_source.warn(
                pick(
                    f"warning: one more wrong PIN locks {self.description}",
                    f"警告：再输错一次 PIN 码，{self.description} 将被锁定",
                )
            )
        elif state.count_low:
            self.pin_source.warn(
                pick(
                    f"warning: a wrong PIN was entered on {self.description} before; a few more lock it",
                    f"警告：{self.description} 曾输错 PIN 码，多次输错将被锁定",
                )
            )
        pin = self.pin_source.obtain(self.description)
        if state.final_try and not pin.typed_by_person:
            raise PinFinalTryError(source=self.description)
        with self._calling():
            return self._token.open(user_pin=pin.value)

    def close(self) -> None:
        """Close the sessions (logging out)."""
        with self._lock:
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
                    certificate = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
                    found.append(Pkcs11Entry(self, label, key_id, certificate))
            self._entries = found
            if not found and (self.uri.object or self.uri.id):
                raise KeyNotFoundError(
                    what=pick("certificate", "证书"), ref=f"{self.description}:{self.uri.object or ''}"
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
        with self._calling():
            return operation()

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
            except _KEEP_ON_UNWRAP as exc:
                raise self._translate(exc) from exc
            except p11.PKCS11Error as exc:
                raise WrongKeyError() from exc

    def mechanisms(self) -> frozenset[Any]:
        """The mechanisms the token's slot lists."""
        with self._calling():
            return frozenset(self._token.slot.get_mechanisms())


class Pkcs11Entry(KeyEntry):
    """A certificate on a token and, once looked up, its private key."""

    def __init__(
        self, source: Pkcs11Source, label: str, key_id: bytes, certificate: x509.Certificate
    ) -> None:
        super().__init__(label, key_id, certificate, source.description)
        self._token = source
        self._key: Any = None
        self._looked_up = False

    def _private_key(self) -> Any:
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        self._require_private_key()
        return self._key

    @property
    def has_private_key(self) -> bool:
        """True when the token holds the private key (logs in to find out)."""
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        return self._key is not None

    def rsa_decrypt(self, ciphertext: bytes, transport: KeyTransport) -> bytes:
        """Unwrap with ``CKM_RSA_PKCS`` or ``CKM_RSA_PKCS_OAEP`` on the token."""
        key = self._private_key()
        if transport is KeyTransport.PKCS1V15:
            return bytes(self._token.unwrap(lambda: key.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS)))
        parameters = _OAEP_PARAMETERS[transport]
        return bytes(
            self._token.unwrap(
                lambda: key.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=parameters)
            )
        )

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """Derive the raw shared secret with ``CKM_ECDH1_DERIVE`` (no KDF) and read it out."""
        key = self._private_key()
        point = peer.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        size = (peer.curve.key_size + 7) // 8

        def derive() -> bytes:
            secret = key.derive_key(
                KeyType.GENERIC_SECRET,
                size * 8,
                mechanism=Mechanism.ECDH1_DERIVE,
                mechanism_param=(KDF.NULL, None, point),
                template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False},
            )
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()

        return self._token.unwrap(derive)

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """Hash in software, sign the digest on the token."""
        key = self._private_key()
        digest = hashes.Hash(_HASHES[hash_name]())
        digest.update(data)
        value = digest.finalize()
        public_key = self.certificate.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            to_sign = _DIGEST_INFO_PREFIX[hash_name] + value
            return bytes(self._token.run(lambda: key.sign(to_sign, mechanism=Mechanism.RSA_PKCS)))
        raw = bytes(self._token.run(lambda: key.sign(value, mechanism=Mechanism.ECDSA)))
        return bytes(encode_ecdsa_signature(raw))

    def claimed_transports(self) -> tuple[KeyTransport, ...]:
        """From the slot's mechanism list: OAEP (both hashes) and/or PKCS#1 v1.5."""
        if not isinstance(self.certificate.public_key(), rsa.RSAPublicKey):
            return ()
        mechanisms = self._token.mechanisms()
        claimed: list[KeyTransport] = []
        if Mechanism.RSA_PKCS_OAEP in mechanisms:
            claimed += [KeyTransport.OAEP_SHA256, KeyTransport.OAEP_SHA1]
        if Mechanism.RSA_PKCS in mechanisms:
            claimed.append(KeyTransport.PKCS1V15)
        return tuple(claimed)


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value).strip()
