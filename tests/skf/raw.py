"""A bare ctypes client of the soft SKF token, for the token's own tests (not bidcrypt's binding).

Each method calls one SKF function with the prototypes of docs/skf.md and returns the SAR code
with the outputs; nothing is interpreted, so the tests see exactly what the library answers.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_char_p, c_int32, c_uint32, c_void_p
from pathlib import Path

ULONG = c_uint32
BOOL = c_int32


class Version(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class DevInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("Version", Version),
        ("Manufacturer", ctypes.c_char * 64),
        ("Issuer", ctypes.c_char * 64),
        ("Label", ctypes.c_char * 32),
        ("SerialNumber", ctypes.c_char * 32),
        ("HWVersion", Version),
        ("FirmwareVersion", Version),
        ("AlgSymCap", ULONG),
        ("AlgAsymCap", ULONG),
        ("AlgHashCap", ULONG),
        ("DevAuthAlgId", ULONG),
        ("TotalSpace", ULONG),
        ("FreeSpace", ULONG),
        ("MaxECCBufferSize", ULONG),
        ("MaxBufferSize", ULONG),
        ("Reserved", ctypes.c_ubyte * 64),
    ]


class EccSignature(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("r", ctypes.c_ubyte * 64), ("s", ctypes.c_ubyte * 64)]


class BlockCipherParam(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("IV", ctypes.c_ubyte * 32), ("IVLen", ULONG), ("PaddingType", ULONG), ("FeedBitLen", ULONG)]


def ecc_cipher_blob(x: int, y: int, hash_: bytes, c2: bytes) -> bytes:
    """An ECCCIPHERBLOB: 32-byte coordinates right-aligned in 64-byte fields, C3, CipherLen, C2."""
    return x.to_bytes(64, "big") + y.to_bytes(64, "big") + hash_ + len(c2).to_bytes(4, "little") + c2


class Skf:
    """The library, loaded once per path (``ctypes.CDLL``)."""

    def __init__(self, path: Path) -> None:
        self.lib = ctypes.CDLL(str(path))
        self.lib.SKF_DecryptInit.argtypes = [c_void_p, BlockCipherParam]
        self.lib.SKF_DecryptInit.restype = ULONG

    def has(self, name: str) -> bool:
        return hasattr(self.lib, name)

    def call(self, name: str, *args: object) -> int:
        function = getattr(self.lib, name)
        function.restype = ULONG
        return int(function(*args))

    def sized(self, name: str, *args: object) -> tuple[int, bytes]:
        """Call a size-protocol function: ask the size, then read. (rv, bytes)."""
        size = ULONG(0)
        rv = self.call(name, *args, None, byref(size))
        if rv:
            return rv, b""
        buffer = ctypes.create_string_buffer(max(size.value, 1))
        rv = self.call(name, *args, buffer, byref(size))
        return rv, buffer.raw[: size.value] if size.value <= len(buffer) else buffer.raw

    def names(self, name: str, *args: object) -> tuple[int, list[bytes]]:
        rv, data = self.sized(name, *args)
        return rv, [n for n in data.split(b"\0") if n]

    def connect(self, device: bytes) -> tuple[int, c_void_p]:
        handle = c_void_p()
        return self.call("SKF_ConnectDev", c_char_p(device), byref(handle)), handle

    def open_application(self, dev: c_void_p, name: bytes) -> tuple[int, c_void_p]:
        handle = c_void_p()
        return self.call("SKF_OpenApplication", dev, c_char_p(name), byref(handle)), handle

    def open_container(self, app: c_void_p, name: bytes) -> tuple[int, c_void_p]:
        handle = c_void_p()
        return self.call("SKF_OpenContainer", app, c_char_p(name), byref(handle)), handle

    def pin_info(self, app: c_void_p) -> tuple[int, int, int]:
        most, left, default = ULONG(), ULONG(), BOOL()
        rv = self.call("SKF_GetPINInfo", app, ULONG(1), byref(most), byref(left), byref(default))
        return rv, most.value, left.value

    def verify_pin(self, app: c_void_p, pin: bytes) -> tuple[int, int]:
        left = ULONG(99)
        return self.call("SKF_VerifyPIN", app, ULONG(1), c_char_p(pin), byref(left)), left.value

    def certificate(self, container: c_void_p, sign: bool) -> tuple[int, bytes]:
        return self.sized("SKF_ExportCertificate", container, BOOL(1 if sign else 0))

    def ecc_sign(self, container: c_void_p, digest: bytes) -> tuple[int, bytes, bytes]:
        signature = EccSignature()
        rv = self.call("SKF_ECCSignData", container, digest, ULONG(len(digest)), byref(signature))
        return rv, bytes(signature.r), bytes(signature.s)

    def rsa_sign(self, container: c_void_p, digest_info: bytes) -> tuple[int, bytes]:
        return self.sized("SKF_RSASignData", container, digest_info, ULONG(len(digest_info)))

    def import_session_key(self, container: c_void_p, alg: int, wrapped: bytes) -> tuple[int, c_void_p]:
        handle = c_void_p()
        rv = self.call(
            "SKF_ImportSessionKey", container, ULONG(alg), wrapped, ULONG(len(wrapped)), byref(handle)
        )
        return rv, handle

    def decrypt_init(self, key: c_void_p, iv: bytes, padding: int = 0) -> int:
        param = BlockCipherParam()
        ctypes.memmove(param.IV, iv, len(iv))
        param.IVLen = len(iv)
        param.PaddingType = padding
        return int(self.lib.SKF_DecryptInit(key, param))

    def decrypt_update(self, key: c_void_p, data: bytes) -> tuple[int, bytes]:
        return self.sized("SKF_DecryptUpdate", key, data, ULONG(len(data)))

    def decrypt_final(self, key: c_void_p) -> tuple[int, bytes]:
        return self.sized("SKF_DecryptFinal", key)


__all__ = ["BlockCipherParam", "DevInfo", "EccSignature", "Skf", "ecc_cipher_blob"]
