"""A UKey driven through its SKF library (GM/T 0016) as a key source.

Opening the source loads the library, then picks the device, application
and container: the one the ``skf:`` reference names, else the only one
there is; with several and none named, the error lists them. The
container's signing and encryption certificates are its entries
(:class:`~bidcrypt.keys.skf_entry.SkfEntry`), which sign and recover
content keys through this source.

The rules are PKCS#11's (:mod:`bidcrypt.keys.pin`):

* one login per source, on the first private-key operation; the PIN's
  retry counts (``SKF_GetPINInfo``) are read first: a locked PIN is never
  tried, a final try is made only with a PIN a person has just typed;
* a wrong PIN is never retried: the error, with the tries left that
  ``SKF_VerifyPIN`` gave, is remembered and raised again;
* every call runs under one lock, so threads can share the source;
  :meth:`SkfSource.close` logs out and closes every handle.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

from bidcrypt import certs
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    KeyRefError,
    SkfApplicationMissingError,
    SkfCertificateMissingError,
    SkfContainerMissingError,
    TokenAbsentError,
    TokenError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys.base import KeyEntry, KeySource
from bidcrypt.keys.pin import PinSource, check_before_login, obtain_for_login
from bidcrypt.keys.skf_entry import SkfEntry
from bidcrypt.keys.skf_errors import SkfCallError, Where, translate
from bidcrypt.keys.skf_library import SkfLibrary
from bidcrypt.keys.skf_types import CONTAINER_ECC, CONTAINER_RSA, HANDLE, SkfDeviceInfo, SkfPinInfo
from bidcrypt.keys.skf_uri import SkfName, SkfUri, split_name_list

_T = TypeVar("_T")
#: The largest chunk bidcrypt hands ``SKF_DecryptUpdate``, whatever the token says it takes.
MAX_CHUNK = 1 << 20


def _names(names: list[SkfName]) -> str | Text:
    return ", ".join(n.text for n in names) or Text("none", "无")


class SkfSource(KeySource):
    """One container of an SKF UKey, selected by an ``skf:`` reference."""

    def __init__(self, uri: SkfUri, pin_source: PinSource | None = None, module: str | None = None) -> None:
        self.uri = uri
        self.pin_source = pin_source or PinSource()
        self.description = uri.describe()
        self.library = SkfLibrary(uri.module(module))
        self._lock = threading.RLock()
        self._device: HANDLE | None = None
        self._application: HANDLE | None = None
        self._container: HANDLE | None = None
        self._logged_in = False
        self._login_error: BidcryptError | None = None
        self._entries: list[SkfEntry] | None = None
        self._missing: dict[certs.Purpose, BidcryptError] = {}
        self._open_keys: set[object] = set()
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- selection ------------------------------------------------------------------------

    def _open(self) -> None:
        where = Where(self.description)
        self.device_names = split_name_list(self.call(self.library.enum_devices, where))
        self.device_name = self._choose(self.device_names, self.uri.device, "device")
        self.description = self.device_name.text
        self._device = self.call(lambda: self.library.connect(self.device_name.raw), Where(self.description))
        self.device_info = self._read_device_info()
        self.application_names = split_name_list(
            self.call(lambda: self.library.enum_applications(self._handle(self._device)), where)
        )
        self.application_name = self._choose(self.application_names, self.uri.application, "application")
        self._application = self.call(
            lambda: self.library.open_application(self._handle(self._device), self.application_name.raw),
            self.where(),
        )
        self.container_names = split_name_list(
            self.call(lambda: self.library.enum_containers(self._handle(self._application)), self.where())
        )
        self.container_name = self._choose(self.container_names, self.uri.container, "container")
        self.description = f"{self.device_name.text}/{self.application_name.text}/{self.container_name.text}"
        self._container = self.call(
            lambda: self.library.open_container(self._handle(self._application), self.container_name.raw),
            self.where(),
        )
        self.container_type = self.call(
            lambda: self.library.container_type(self._handle(self._container)), self.where()
        )

    def _choose(self, names: list[SkfName], wanted: bytes | None, kind: str) -> SkfName:
        if wanted is not None:
            for name in names:
                if name.matches(wanted):
                    return name
        elif len(names) == 1:
            return names[0]
        elif len(names) > 1:
            raise KeyRefError(
                Text(
                    "the UKey has several {kind}s ({names}); name one with {kind}= in the skf: reference",
                    "UKey 中有多个{kind_zh}（{names}），请在 skf: 引用中用 {kind}= 指定",
                    kind=kind,
                    kind_zh={"device": "设备", "application": "应用", "container": "容器"}[kind],
                    names=_names(names),
                ),
                ref=self.description,
            )
        shown = "" if wanted is None else f" {SkfName.of(wanted).text}"
        if kind == "device":
            return self._raise(TokenAbsentError(token=shown.strip() or "SKF", available=_names(names)))
        if kind == "application":
            return self._raise(
                SkfApplicationMissingError(source=self.description, wanted=shown, available=_names(names))
            )
        return self._raise(
            SkfContainerMissingError(
                source=self.description,
                application=self.application_name.text,
                wanted=shown,
                available=_names(names),
            )
        )

    @staticmethod
    def _raise(error: BidcryptError) -> SkfName:
        raise error

    def _read_device_info(self) -> SkfDeviceInfo:
        raw = self.call(lambda: self.library.device_info(self._handle(self._device)), Where(self.description))

        def text(value: bytes) -> str:
            return SkfName.of(value.split(b"\0")[0]).text.strip()

        return SkfDeviceInfo(
            label=text(raw.Label),
            manufacturer=text(raw.Manufacturer),
            issuer=text(raw.Issuer),
            serial=text(raw.SerialNumber),
            max_buffer=int(raw.MaxBufferSize),
        )

    @staticmethod
    def _handle(handle: HANDLE | None) -> HANDLE:
        if handle is None:
            raise TokenError("the SKF handle is closed", source="SKF")
        return handle

    def where(self, operation: str = "-", *, unwrapping: bool = False) -> Where:
        """The context of a call for its error: this device, application and container."""
        application = getattr(self, "application_name", None)
        container = getattr(self, "container_name", None)
        return Where(
            self.description,
            application=application.text if application else "-",
            container=container.text if container else "-",
            operation=operation,
            unwrapping=unwrapping,
        )

    # -- calls ------------------------------------------------------------------------------

    def call(self, function: Callable[[], _T], where: Where) -> _T:
        """Run one library call (or a few) under the device lock, translating SKF failures."""
        with self._lock:
            try:
                return function()
            except SkfCallError as failure:
                raise translate(failure, where) from None

    def run(self, function: Callable[[HANDLE], _T], operation: str, *, unwrapping: bool = False) -> _T:
        """Log in, then run *function* with the container handle (a private-key operation)."""
        with self._lock:
            self.login()
            return self.call(
                lambda: function(self._handle(self._container)), self.where(operation, unwrapping=unwrapping)
            )

    @property
    def fast_path(self) -> bool:
        """True when content keys are unwrapped by the library (its private-key decryption export)."""
        if not self.uri.fast_path:
            return False
        if self.container_type == CONTAINER_ECC:
            return self.library.has_ecc_decrypt
        if self.container_type == CONTAINER_RSA:
            return self.library.has_rsa_decrypt
        return False

    @property
    def max_chunk(self) -> int:
        """The most bytes one ``SKF_DecryptUpdate`` gets: the device's buffer, in whole blocks."""
        chunk = min(self.device_info.max_buffer, MAX_CHUNK) // 16 * 16
        if chunk <= 0:
            raise TokenError(
                Text(
                    "the token says it decrypts {size} bytes at a time",
                    "U-KEY 声称每次只能解密 {size} 字节",
                    size=self.device_info.max_buffer,
                ),
                source=self.description,
            )
        return chunk

    # -- PIN --------------------------------------------------------------------------------

    def pin_info(self) -> SkfPinInfo:
        """The user PIN's retry counts now, read without logging in."""
        most, left, default = self.call(
            lambda: self.library.pin_info(self._handle(self._application)), self.where()
        )
        return SkfPinInfo(most, left, default)

    def login(self) -> None:
        """Log in once: read the retry counts, refuse what the PIN rules forbid, verify the PIN."""
        with self._lock:
            if self._login_error is not None:
                raise self._login_error
            if self._logged_in:
                return
            try:
                state = self.pin_info()
                check_before_login(state, self.pin_source, self.description)
                pin = obtain_for_login(state, self.pin_source, self.description)
                self.call(
                    lambda: self.library.verify_pin(self._handle(self._application), pin.value.encode()),
                    self.where(),
                )
            except BidcryptError as exc:
                self._login_error = exc
                raise
            self._logged_in = True

    # -- entries ----------------------------------------------------------------------------

    def entries(self) -> list[KeyEntry]:
        """The container's signing and encryption certificates (no login needed)."""
        with self._lock:
            if self._entries is None:
                found = []
                for purpose in (certs.Purpose.SIGNING, certs.Purpose.ENCRYPTION):
                    entry = self._entry_of(purpose)
                    if entry is not None:
                        found.append(entry)
                if not found:
                    raise SkfCertificateMissingError(
                        source=self.description,
                        container=self.container_name.text,
                        purpose=Text("signing or encryption", "签名或加密"),
                    )
                self._entries = found
            return list(self._entries)

    def _entry_of(self, purpose: certs.Purpose) -> SkfEntry | None:
        signing = purpose is certs.Purpose.SIGNING
        try:
            der = self.call(
                lambda: self.library.export_certificate(self._handle(self._container), signing),
                self.where(),
            )
        except SkfCertificateMissingError:
            der = b""
        if not der:
            self._missing[purpose] = SkfCertificateMissingError(
                source=self.description, container=self.container_name.text, purpose=purpose.text()
            )
            return None
        try:
            certificate = certs.from_der(der)
        except certs.UNREADABLE:
            raise TokenError(
                Text(
                    "the {purpose} certificate in the container {container} is unreadable ({size} bytes)",
                    "容器 {container} 中的{purpose}证书无法读取（{size} 字节）",
                    purpose=purpose.text(),
                    container=self.container_name.text,
                    size=len(der),
                ),
                source=self.description,
            ) from None
        return SkfEntry(self, purpose, certificate)

    def entry(self, purpose: certs.Purpose | None = None) -> KeyEntry:
        """The entry for *purpose*; a missing certificate is said in the seeds' words."""
        try:
            return super().entry(purpose)
        except KeyNotFoundError:
            missing = None if purpose is None else self.missing_certificate(purpose)
            if missing is not None:
                raise missing from None
            raise

    def missing_certificate(self, purpose: certs.Purpose) -> BidcryptError | None:
        """:class:`SkfCertificateMissingError` when the container has no certificate for *purpose*."""
        self.entries()
        return self._missing.get(purpose)

    def missing_certificates(self) -> tuple[certs.Purpose, ...]:
        """The purposes whose certificate the container lacks."""
        self.entries()
        return tuple(self._missing)

    # -- content keys -----------------------------------------------------------------------

    def track(self, key: object, *, open_: bool) -> None:
        """Remember an imported content key until closed (:meth:`close` closes those left)."""
        with self._lock:
            if open_:
                self._open_keys.add(key)
            else:
                self._open_keys.discard(key)

    def close(self) -> None:
        """Destroy imported keys, log out, close the container and application, disconnect."""
        with self._lock:
            for key in list(self._open_keys):
                close = getattr(key, "close", None)
                if close is not None:
                    with contextlib.suppress(BidcryptError):
                        close()
            self._open_keys.clear()
            steps: list[tuple[HANDLE | None, Callable[[HANDLE], None]]] = (
                [
                    (self._application if self._logged_in else None, self.library.clear_secure_state),
                    (self._container, self.library.close_container),
                    (self._application, self.library.close_application),
                    (self._device, self.library.disconnect),
                ]
                if hasattr(self, "library")
                else []
            )
            for handle, step in steps:
                if handle is not None:
                    with contextlib.suppress(SkfCallError):
                        step(handle)
            self._container = self._application = self._device = None
            self._logged_in = False


__all__ = ["SkfDeviceInfo", "SkfPinInfo", "SkfSource"]
