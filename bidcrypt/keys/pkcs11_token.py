"""A UKey (any PKCS#11 token) as a key source, through python-pkcs11.

Rules kept here:

* one login per source, on the first private-key operation, never repeated
  after a wrong PIN (the error is remembered and raised again);
* the PIN-count-low / final-try / locked flags are read before the login;
  a locked token is never logged in to, and a final try is only made with
  a PIN a person has just typed (see :mod:`bidcrypt.keys.pkcs11_login`,
  which also covers PIN-pad tokens and keys that ask for the PIN before
  each use);
* a key the token does not allow to decrypt, agree or sign (its
  ``CKA_DECRYPT`` / ``CKA_DERIVE`` / ``CKA_SIGN`` is false) is refused
  with that reason;
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
from typing import Any, TypeVar

import pkcs11.exceptions as p11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import KDF, MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ecdsa_signature

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
from bidcrypt.keys.base import KeyEntry, KeySource, KeyTransport
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.pkcs11_login import PinState, TokenInfo, load_module
from bidcrypt.keys.uri import Pkcs11Uri

__all__ = ["PinState", "Pkcs11Entry", "Pkcs11Source", "TokenInfo", "load_module"]

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
                    certificate = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
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


class Pkcs11Entry(KeyEntry):
    """A certificate on a token and, once looked up, its private key."""

    def __init__(
        self, source: Pkcs11Source, label: str, key_id: bytes, certificate: x509.Certificate
    ) -> None:
        super().__init__(label, key_id, certificate, source.description)
        self._token = source
        self._key: Any = None
        self._looked_up = False
        self._always_authenticate: bool | None = None

    def _private_key(self) -> Any:
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        self._require_private_key()
        return self._key

    def _key_for(self, method: str, attribute: str, what_en: str, what_zh: str) -> Any:
        """The private key, when the token lets it do *method*; else say which attribute forbids it."""
        key = self._private_key()
        if not hasattr(key, method):  # python-pkcs11 gives a key only the operations its attributes allow
            raise MechanismUnsupportedError(
                Text(
                    "the key {label} on the token does not allow {what_en} ({attribute} is not set)",
                    "U-KEY 上的密钥 {label2} 不允许{what_zh}（未设置 {attribute}）",
                    label=repr(self.label),
                    what_en=what_en,
                    attribute=attribute,
                    label2=self.label,
                    what_zh=what_zh,
                ),
                source=self.source,
                operation=Text(what_en, what_zh),
            )
        return key

    def _operation_pin(self, key: Any) -> dict[str, str]:
        """``{"pin": PIN}`` for a key that needs a context-specific login before each use, else ``{}``."""
        if self._always_authenticate is None:
            self._always_authenticate = self._token.run(lambda: login.always_authenticate(key))
        return {"pin": self._token.context_pin()} if self._always_authenticate else {}

    @property
    def has_private_key(self) -> bool:
        """True when the token holds the private key (logs in to find out)."""
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        return self._key is not None

    def rsa_decrypt(self, ciphertext: bytes, transport: KeyTransport) -> bytes:
        """Unwrap with ``CKM_RSA_PKCS`` or ``CKM_RSA_PKCS_OAEP`` on the token."""
        key = self._key_for("decrypt", "CKA_DECRYPT", "decryption", "解密")
        pin = self._operation_pin(key)
        if transport is KeyTransport.PKCS1V15:
            return bytes(
                self._token.unwrap(lambda: key.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS, **pin))
            )
        parameters = _OAEP_PARAMETERS[transport]
        return bytes(
            self._token.unwrap(
                lambda: key.decrypt(
                    ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=parameters, **pin
                )
            )
        )

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """Derive the raw shared secret with ``CKM_ECDH1_DERIVE`` (no KDF) and read it out.

        No context-specific login: ``CKA_ALWAYS_AUTHENTICATE`` concerns signing and decryption.
        """
        key = self._key_for("derive_key", "CKA_DERIVE", "key agreement", "密钥协商")
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
        key = self._key_for("sign", "CKA_SIGN", "signing", "签名")
        pin = self._operation_pin(key)
        digest = hashes.Hash(_HASHES[hash_name]())
        digest.update(data)
        value = digest.finalize()
        public_key = self.certificate.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            to_sign = _DIGEST_INFO_PREFIX[hash_name] + value
            return bytes(self._token.run(lambda: key.sign(to_sign, mechanism=Mechanism.RSA_PKCS, **pin)))
        raw = bytes(self._token.run(lambda: key.sign(value, mechanism=Mechanism.ECDSA, **pin)))
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
