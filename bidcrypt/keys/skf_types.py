"""The SKF types of ``docs/skf.md`` for ctypes, the functions' prototypes, and what a token says.

``ULONG`` is 32-bit unsigned and ``BOOL`` 32-bit signed on every platform
(also 64-bit Linux), structures are ``#pragma pack(1)``, handles are
``void *``. :class:`SkfPinInfo` and :class:`SkfDeviceInfo` are what the key
source reads from a token before any login.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from bidcrypt.i18n import Text

ULONG = ctypes.c_uint32
BOOL = ctypes.c_int32
HANDLE = ctypes.c_void_p
_BYTES = ctypes.c_void_p  # BYTE * and structure pointers: ctypes buffers are passed
_P_ULONG = ctypes.POINTER(ULONG)

#: The largest name list or certificate bidcrypt accepts from a library.
MAX_LIST = 64 * 1024
MAX_CERTIFICATE = 64 * 1024
#: The largest RSA signature or decrypted key (an RSA-16384 modulus).
MAX_RSA = 2048
#: The largest plaintext of a private-key decryption (content keys are short).
MAX_PLAINTEXT = 4096

USER_TYPE = 1
CONTAINER_RSA = 1
CONTAINER_ECC = 2


class VERSION(ctypes.Structure):
    """``VERSION``: major and minor."""

    _pack_ = 1
    _fields_ = (("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte))


class DEVINFO(ctypes.Structure):
    """``DEVINFO`` of ``SKF_GetDevInfo``."""

    _pack_ = 1
    _fields_ = (
        ("Version", VERSION),
        ("Manufacturer", ctypes.c_char * 64),
        ("Issuer", ctypes.c_char * 64),
        ("Label", ctypes.c_char * 32),
        ("SerialNumber", ctypes.c_char * 32),
        ("HWVersion", VERSION),
        ("FirmwareVersion", VERSION),
        ("AlgSymCap", ULONG),
        ("AlgAsymCap", ULONG),
        ("AlgHashCap", ULONG),
        ("DevAuthAlgId", ULONG),
        ("TotalSpace", ULONG),
        ("FreeSpace", ULONG),
        ("MaxECCBufferSize", ULONG),
        ("MaxBufferSize", ULONG),
        ("Reserved", ctypes.c_ubyte * 64),
    )


class BLOCKCIPHERPARAM(ctypes.Structure):
    """``BLOCKCIPHERPARAM``, passed by value to ``SKF_DecryptInit``."""

    _pack_ = 1
    _fields_ = (
        ("IV", ctypes.c_ubyte * 32),
        ("IVLen", ULONG),
        ("PaddingType", ULONG),
        ("FeedBitLen", ULONG),
    )


_P_HANDLE = ctypes.POINTER(HANDLE)
#: Every function bidcrypt calls, with its argument types (all return a ULONG status).
PROTOTYPES: dict[str, tuple[Any, ...]] = {
    "SKF_EnumDev": (BOOL, ctypes.c_char_p, _P_ULONG),
    "SKF_ConnectDev": (ctypes.c_char_p, _P_HANDLE),
    "SKF_DisConnectDev": (HANDLE,),
    "SKF_GetDevInfo": (HANDLE, ctypes.POINTER(DEVINFO)),
    "SKF_EnumApplication": (HANDLE, ctypes.c_char_p, _P_ULONG),
    "SKF_OpenApplication": (HANDLE, ctypes.c_char_p, _P_HANDLE),
    "SKF_CloseApplication": (HANDLE,),
    "SKF_GetPINInfo": (HANDLE, ULONG, _P_ULONG, _P_ULONG, ctypes.POINTER(BOOL)),
    "SKF_VerifyPIN": (HANDLE, ULONG, ctypes.c_char_p, _P_ULONG),
    "SKF_EnumContainer": (HANDLE, ctypes.c_char_p, _P_ULONG),
    "SKF_OpenContainer": (HANDLE, ctypes.c_char_p, _P_HANDLE),
    "SKF_CloseContainer": (HANDLE,),
    "SKF_GetContainerType": (HANDLE, _P_ULONG),
    "SKF_ExportCertificate": (HANDLE, BOOL, _BYTES, _P_ULONG),
    "SKF_ECCSignData": (HANDLE, _BYTES, ULONG, _BYTES),
    "SKF_RSASignData": (HANDLE, _BYTES, ULONG, _BYTES, _P_ULONG),
    "SKF_ImportSessionKey": (HANDLE, ULONG, _BYTES, ULONG, _P_HANDLE),
    "SKF_DecryptInit": (HANDLE, BLOCKCIPHERPARAM),
    "SKF_DecryptUpdate": (HANDLE, _BYTES, ULONG, _BYTES, _P_ULONG),
    "SKF_DecryptFinal": (HANDLE, _BYTES, _P_ULONG),
    "SKF_CloseHandle": (HANDLE,),
}
#: Exports bidcrypt uses when present.
OPTIONAL_PROTOTYPES: dict[str, tuple[Any, ...]] = {
    "SKF_ClearSecureState": (HANDLE,),
    "SKF_ECCDecrypt": (HANDLE, _BYTES, _BYTES, _P_ULONG),
    "SKF_RSAPriKeyDecrypt": (HANDLE, _BYTES, ULONG, _BYTES, _P_ULONG),
}


@dataclass(frozen=True)
class SkfPinInfo:
    """The user PIN's retry counts (``SKF_GetPINInfo``), read without logging in."""

    max_retries: int
    retries_left: int
    default_pin: bool

    @property
    def locked(self) -> bool:
        """No try left: the PIN is locked."""
        return self.retries_left == 0

    @property
    def final_try(self) -> bool:
        """One try left: the next wrong PIN locks it."""
        return self.retries_left == 1

    @property
    def count_low(self) -> bool:
        """A wrong PIN was entered since the last good one."""
        return self.retries_left < self.max_retries

    def describe(self) -> Text:
        """``2 of 3 tries left`` (for reports)."""
        if self.locked:
            return Text("locked", "已锁定")
        return Text(
            "{left} of {most} tries left",
            "剩余 {left} 次（共 {most} 次）",
            left=self.retries_left,
            most=self.max_retries,
        )


@dataclass(frozen=True)
class SkfDeviceInfo:
    """What ``SKF_GetDevInfo`` says about the device."""

    label: str
    manufacturer: str
    issuer: str
    serial: str
    #: The most bytes one ``SKF_DecryptUpdate`` takes.
    max_buffer: int


__all__ = [
    "BLOCKCIPHERPARAM",
    "BOOL",
    "CONTAINER_ECC",
    "CONTAINER_RSA",
    "DEVINFO",
    "HANDLE",
    "MAX_CERTIFICATE",
    "MAX_LIST",
    "MAX_PLAINTEXT",
    "MAX_RSA",
    "OPTIONAL_PROTOTYPES",
    "PROTOTYPES",
    "ULONG",
    "USER_TYPE",
    "VERSION",
    "SkfDeviceInfo",
    "SkfPinInfo",
]
