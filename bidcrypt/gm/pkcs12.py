"""PKCS#12 files whose key is SM2, read by libcrypto (``cryptography`` refuses the SM2 curve).

OpenSSL 3 writes and reads such files (``openssl pkcs12 -export`` with an SM2
key), and checks their MAC while reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bidcrypt.gm import _libcrypto as _c
from bidcrypt.gm.errors import Sm2Error, Sm2KeyError
from bidcrypt.gm.sm2 import Sm2PrivateKey


class Pkcs12Error(Sm2Error):
    """Bytes that are not a PKCS#12 file, or a password that does not open it (the MAC fails)."""


@dataclass(frozen=True)
class Pkcs12Contents:
    """What a PKCS#12 file holds: the SM2 key, its certificate, and the other certificates (DER)."""

    key: Sm2PrivateKey | None
    certificate: bytes | None
    additional_certificates: list[bytes] = field(default_factory=list)


def load_pkcs12(data: bytes, password: bytes) -> Pkcs12Contents:
    """Open a PKCS#12 file with an SM2 key; :class:`Pkcs12Error` when it does not open.

    A key of another algorithm is :class:`Sm2KeyError`: such files are for
    ``cryptography``.
    """
    library, ffi = _c.lib(), _c.ffi()
    p12 = _c.d2i(library.d2i_PKCS12, library.PKCS12_free, data)
    if p12 == ffi.NULL:
        raise Pkcs12Error(f"not a PKCS#12 file: {_c.last_error()}")
    pkey = ffi.new("EVP_PKEY **")
    cert = ffi.new("X509 **")
    chain = ffi.new("OPENSSL_STACK **")
    if library.PKCS12_parse(p12, ffi.new("char[]", password), pkey, cert, chain) != 1:
        raise Pkcs12Error(f"the PKCS#12 file does not open with this password: {_c.last_error()}")
    key_handle = ffi.gc(pkey[0], library.EVP_PKEY_free) if pkey[0] != ffi.NULL else None
    certificate = None
    if cert[0] != ffi.NULL:
        certificate = _c.i2d(library.i2d_X509, cert[0])
        library.X509_free(cert[0])
    additional = []
    if chain[0] != ffi.NULL:
        for index in range(library.OPENSSL_sk_num(chain[0])):
            member = ffi.cast("X509 *", library.OPENSSL_sk_value(chain[0], index))
            additional.append(_c.i2d(library.i2d_X509, member))
            library.X509_free(member)
        library.OPENSSL_sk_free(chain[0])
    key = None
    if key_handle is not None:
        if library.EVP_PKEY_is_a(key_handle, b"SM2") != 1:
            raise Sm2KeyError("the PKCS#12 file's key is not an SM2 key")
        key = Sm2PrivateKey(key_handle)
    return Pkcs12Contents(key, certificate, additional)


def dump_pkcs12(key: Sm2PrivateKey, certificate_der: bytes, password: bytes, name: bytes) -> bytes:
    """A PKCS#12 file of the SM2 *key* and its certificate, as ``openssl pkcs12 -export`` writes one
    (OpenSSL 3's defaults: PBES2 with AES-256-CBC, a SHA-256 MAC)."""
    library, ffi = _c.lib(), _c.ffi()
    cert = _c.d2i(library.d2i_X509, library.X509_free, certificate_der)
    if cert == ffi.NULL:
        raise Pkcs12Error(f"not a certificate: {_c.last_error()}")
    p12 = library.PKCS12_create(
        ffi.new("char[]", password), ffi.new("char[]", name), key._pkey, cert, ffi.NULL, 0, 0, 0, 0, 0
    )
    if p12 == ffi.NULL:
        raise Pkcs12Error(f"PKCS#12 export: {_c.last_error()}")
    p12 = ffi.gc(p12, library.PKCS12_free)
    return _c.i2d(library.i2d_PKCS12, p12)


__all__ = ["Pkcs12Contents", "Pkcs12Error", "dump_pkcs12", "load_pkcs12"]
