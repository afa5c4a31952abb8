"""The ctypes binding of a vendor SKF library (GM/T 0016): loading, prototypes, the sizes protocol.

Exactly the subset of ``docs/skf.md``: ``ULONG`` is ``c_uint32`` and ``BOOL``
``c_int32`` (also on 64-bit Linux), structures are packed, handles are
``void *``; ``WinDLL`` on Windows (``__stdcall`` on 32-bit), ``CDLL``
elsewhere. Every function answers a status; anything but ``SAR_OK`` is a
:class:`~bidcrypt.keys.skf_errors.SkfCallError`, and so is an answer that
cannot be true (a size larger than the buffer given, or than the caps): a
hostile or broken library gives a clean error, never an over-read.

The private-key decryptions (``SKF_ECCDecrypt``, ``SKF_RSAPriKeyDecrypt``)
are optional exports: :attr:`SkfLibrary.has_ecc_decrypt` and
:attr:`SkfLibrary.has_rsa_decrypt` say whether the library has them. The
caller serialises the calls (:class:`~bidcrypt.keys.skf_source.SkfSource`
holds one lock per device).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from bidcrypt.errors import SkfLibraryLoadError, SkfLibraryMissingError
from bidcrypt.files import regular_file_problem
from bidcrypt.i18n import Text
from bidcrypt.keys.skf_errors import SAR_BUFFER_TOO_SMALL, SAR_OK, SkfCallError
from bidcrypt.keys.skf_types import (
    BLOCKCIPHERPARAM,
    BOOL,
    DEVINFO,
    HANDLE,
    MAX_CERTIFICATE,
    MAX_LIST,
    MAX_PLAINTEXT,
    MAX_RSA,
    OPTIONAL_PROTOTYPES,
    PROTOTYPES,
    ULONG,
    USER_TYPE,
)


def _load(path: str) -> Any:
    if sys.platform == "win32":
        return ctypes.WinDLL(path)
    return ctypes.CDLL(path)


def _input(data: bytes) -> ctypes.Array[ctypes.c_char]:
    """A private copy of *data* for the library to read (it can never write into a Python bytes)."""
    return ctypes.create_string_buffer(data, max(len(data), 1))


def read_into(name: str, call: Callable[[Any, Any], int], size: int, cap: int) -> bytes:
    """Call *call(buffer, size pointer)* with a buffer of *size* bytes: the bytes it answers.

    On ``SAR_BUFFER_TOO_SMALL`` it is called once more with the size it
    asked. A size asked beyond *cap*, or an answer longer than the buffer
    given, is a :class:`SkfCallError`: nothing past the buffer is read.
    """
    answered = ULONG(0)
    for attempt in range(2):
        if not 0 < size <= cap:
            raise SkfCallError(name, None, f"asks for a buffer of {size} bytes (at most {cap})")
        buffer = ctypes.create_string_buffer(size)
        answered.value = size
        status = int(call(buffer, ctypes.byref(answered)))
        if status == SAR_BUFFER_TOO_SMALL and attempt == 0:
            size = int(answered.value)
            continue
        if status != SAR_OK:
            raise SkfCallError(name, status)
        if answered.value > size:
            raise SkfCallError(name, None, f"answers {answered.value} bytes in a buffer of {size}")
        return buffer.raw[: answered.value]
    raise SkfCallError(name, None, "asked for a larger buffer twice")


def read_sized(name: str, call: Callable[[Any, Any], int], cap: int) -> bytes:
    """The sizes protocol: ask the size with a NULL buffer, then fetch that many bytes (:func:`read_into`).

    An answer of size 0 is empty (an empty list, no certificate).
    """
    asked = ULONG(0)
    status = int(call(None, ctypes.byref(asked)))
    if status not in (SAR_OK, SAR_BUFFER_TOO_SMALL):
        raise SkfCallError(name, status)
    if asked.value == 0:
        return b""
    return read_into(name, call, int(asked.value), cap)


class SkfLibrary:
    """One loaded SKF library: thin methods, one per function, raising :class:`SkfCallError`."""

    def __init__(self, path: str | None) -> None:
        if not path:
            raise SkfLibraryMissingError()
        problem = regular_file_problem(path)
        if problem is not None:
            raise SkfLibraryLoadError(problem, module=path)
        self.path = path
        try:
            self._lib = _load(path)
        except OSError as exc:
            raise SkfLibraryLoadError(str(exc), module=path) from exc
        self._functions: dict[str, Any] = {}
        for name, argtypes in (PROTOTYPES | OPTIONAL_PROTOTYPES).items():
            function = getattr(self._lib, name, None)
            if function is None:
                if name in PROTOTYPES:
                    raise SkfLibraryLoadError(
                        Text(
                            "{name} is missing: not an SKF (GM/T 0016) library",
                            "缺少 {name}：不是 SKF（GM/T 0016）驱动库",
                            name=name,
                        ),
                        module=path,
                    )
                continue
            function.argtypes = argtypes
            function.restype = ULONG
            self._functions[name] = function

    @property
    def has_ecc_decrypt(self) -> bool:
        """True when the library exports ``SKF_ECCDecrypt`` (the SM2 fast path)."""
        return "SKF_ECCDecrypt" in self._functions

    @property
    def has_rsa_decrypt(self) -> bool:
        """True when the library exports ``SKF_RSAPriKeyDecrypt`` (the RSA fast path)."""
        return "SKF_RSAPriKeyDecrypt" in self._functions

    def _call(self, name: str, *args: Any, retries: Any = None) -> None:
        status = int(self._functions[name](*args))
        if status != SAR_OK:
            left = None if retries is None else int(retries.value)
            raise SkfCallError(name, status, retries=left)

    def _function(self, name: str) -> Any:
        return self._functions[name]

    # -- devices and applications -----------------------------------------------------------

    def enum_devices(self) -> bytes:
        """The list of present devices' names (NUL-separated)."""
        f = self._function("SKF_EnumDev")
        return read_sized("SKF_EnumDev", lambda buf, size: f(1, buf, size), MAX_LIST)

    def connect(self, name: bytes) -> HANDLE:
        """Connect to the device *name*."""
        handle = HANDLE()
        self._call("SKF_ConnectDev", name, ctypes.byref(handle))
        return handle

    def disconnect(self, device: HANDLE) -> None:
        """Disconnect from the device."""
        self._call("SKF_DisConnectDev", device)

    def device_info(self, device: HANDLE) -> DEVINFO:
        """The device's ``DEVINFO``."""
        info = DEVINFO()
        self._call("SKF_GetDevInfo", device, ctypes.byref(info))
        return info

    def enum_applications(self, device: HANDLE) -> bytes:
        """The list of the device's applications."""
        f = self._function("SKF_EnumApplication")
        return read_sized("SKF_EnumApplication", lambda buf, size: f(device, buf, size), MAX_LIST)

    def open_application(self, device: HANDLE, name: bytes) -> HANDLE:
        """Open the application *name*."""
        handle = HANDLE()
        self._call("SKF_OpenApplication", device, name, ctypes.byref(handle))
        return handle

    def close_application(self, application: HANDLE) -> None:
        """Close the application."""
        self._call("SKF_CloseApplication", application)

    def pin_info(self, application: HANDLE) -> tuple[int, int, bool]:
        """The user PIN's (maximum tries, tries left, still the default PIN)."""
        most, left, default = ULONG(0), ULONG(0), BOOL(0)
        self._call(
            "SKF_GetPINInfo",
            application,
            USER_TYPE,
            ctypes.byref(most),
            ctypes.byref(left),
            ctypes.byref(default),
        )
        return int(most.value), int(left.value), bool(default.value)

    def verify_pin(self, application: HANDLE, pin: bytes) -> None:
        """Log in with the user PIN; a refusal's :class:`SkfCallError` carries the tries left."""
        left = ULONG(0xFFFFFFFF)
        secret = _input(pin)
        try:
            self._call("SKF_VerifyPIN", application, USER_TYPE, secret, ctypes.byref(left), retries=left)
        except SkfCallError as failure:
            if failure.retries == 0xFFFFFFFF:
                failure.retries = None  # the library did not say
            raise
        finally:
            ctypes.memset(secret, 0, len(secret))

    def clear_secure_state(self, application: HANDLE) -> None:
        """Log out (when the library has ``SKF_ClearSecureState``)."""
        if "SKF_ClearSecureState" in self._functions:
            self._call("SKF_ClearSecureState", application)

    # -- containers ---------------------------------------------------------------------------

    def enum_containers(self, application: HANDLE) -> bytes:
        """The list of the application's containers."""
        f = self._function("SKF_EnumContainer")
        return read_sized("SKF_EnumContainer", lambda buf, size: f(application, buf, size), MAX_LIST)

    def open_container(self, application: HANDLE, name: bytes) -> HANDLE:
        """Open the container *name*."""
        handle = HANDLE()
        self._call("SKF_OpenContainer", application, name, ctypes.byref(handle))
        return handle

    def close_container(self, container: HANDLE) -> None:
        """Close the container."""
        self._call("SKF_CloseContainer", container)

    def container_type(self, container: HANDLE) -> int:
        """1 for RSA, 2 for SM2 (ECC), 0 for an empty container."""
        kind = ULONG(0)
        self._call("SKF_GetContainerType", container, ctypes.byref(kind))
        return int(kind.value)

    def export_certificate(self, container: HANDLE, signing: bool) -> bytes:
        """The DER certificate of the signing (*signing*) or encryption key pair; empty when none."""
        f = self._function("SKF_ExportCertificate")
        flag = 1 if signing else 0
        return read_sized(
            "SKF_ExportCertificate", lambda buf, size: f(container, flag, buf, size), MAX_CERTIFICATE
        )

    # -- private-key operations -----------------------------------------------------------

    def ecc_sign(self, container: HANDLE, digest: bytes) -> bytes:
        """The 128-byte ECCSIGNATUREBLOB of the 32-byte e *digest*."""
        signature = ctypes.create_string_buffer(128)
        self._call("SKF_ECCSignData", container, _input(digest), len(digest), signature)
        return signature.raw

    def rsa_sign(self, container: HANDLE, digest_info: bytes) -> bytes:
        """The PKCS#1 v1.5 signature of the DER DigestInfo *digest_info*."""
        f = self._function("SKF_RSASignData")
        data = _input(digest_info)
        return read_into(
            "SKF_RSASignData", lambda buf, size: f(container, data, len(digest_info), buf, size), 512, MAX_RSA
        )

    def ecc_decrypt(self, container: HANDLE, blob: bytes, plain_size: int) -> bytes:
        """``SKF_ECCDecrypt`` of an ECCCIPHERBLOB with the encryption key: the plaintext."""
        f = self._function("SKF_ECCDecrypt")
        data = _input(blob)
        return read_into(
            "SKF_ECCDecrypt", lambda buf, size: f(container, data, buf, size), plain_size, MAX_PLAINTEXT
        )

    def rsa_decrypt(self, container: HANDLE, ciphertext: bytes) -> bytes:
        """``SKF_RSAPriKeyDecrypt`` (PKCS#1 v1.5) with the encryption key: the plaintext."""
        f = self._function("SKF_RSAPriKeyDecrypt")
        data = _input(ciphertext)
        size = max(len(ciphertext), 1)
        return read_into(
            "SKF_RSAPriKeyDecrypt",
            lambda buf, answered: f(container, data, len(ciphertext), buf, answered),
            size,
            MAX_RSA,
        )

    # -- session keys -------------------------------------------------------------------------

    def import_session_key(self, container: HANDLE, algorithm: int, wrapped: bytes) -> HANDLE:
        """Import a content key wrapped to the encryption key; its handle."""
        handle = HANDLE()
        self._call(
            "SKF_ImportSessionKey", container, algorithm, _input(wrapped), len(wrapped), ctypes.byref(handle)
        )
        return handle

    def decrypt_init(self, key: HANDLE, iv: bytes) -> None:
        """Start a CBC decryption with *iv*, no padding removed on the token."""
        if not 0 < len(iv) <= 32:
            raise SkfCallError("SKF_DecryptInit", None, f"an IV of {len(iv)} bytes")
        parameters = BLOCKCIPHERPARAM()
        ctypes.memmove(parameters.IV, iv, len(iv))
        parameters.IVLen = len(iv)
        parameters.PaddingType = 0
        parameters.FeedBitLen = 0
        self._call("SKF_DecryptInit", key, parameters)

    def decrypt_update(self, key: HANDLE, data: bytes) -> bytes:
        """Decrypt whole blocks; the plaintext is never longer than *data*."""
        f = self._function("SKF_DecryptUpdate")
        source = _input(data)
        size = len(data)
        if size == 0:
            return b""
        return read_into(
            "SKF_DecryptUpdate", lambda buf, answered: f(key, source, len(data), buf, answered), size, size
        )

    def decrypt_final(self, key: HANDLE) -> bytes:
        """End the decryption: the bytes the token still held (at most one block)."""
        f = self._function("SKF_DecryptFinal")
        return read_into("SKF_DecryptFinal", lambda buf, answered: f(key, buf, answered), 32, 32)

    def close_handle(self, handle: HANDLE) -> None:
        """Destroy a session key (or other object handle)."""
        self._call("SKF_CloseHandle", handle)


__all__ = ["SkfLibrary", "read_into", "read_sized"]
