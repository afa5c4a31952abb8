"""The system libcrypto (OpenSSL 3), loaded with cffi in ABI mode: only what SM2 needs.

``cryptography`` has SM3 and SM4 but no SM2, and its maintainers have no plan
for it. OpenSSL 3 has SM2 (encryption, decryption, signatures with a
distinguishing ID), and its secret-scalar multiplication is the constant-time
Montgomery ladder. So SM2 goes to the system's libcrypto through cffi's ABI
mode: nothing is compiled, and cffi is already a dependency of
``cryptography``.

The library is looked up as ``BIDCRYPT_LIBCRYPTO`` (a path) when set, else by
its usual names (``libcrypto.so.3``, ``libcrypto-3-x64.dll``, ...). Every
call that returns a pointer is checked; OpenSSL's error queue is drained after
each failed call so that errors do not leak into the next one.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
import threading
from typing import Any

from cffi import FFI

from bidcrypt.errors import CryptoLibraryError

_CDEF = """
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct bio_st BIO;
typedef struct x509_st X509;
typedef struct pkcs12_st PKCS12;
typedef struct pkcs8_priv_key_info_st PKCS8_PRIV_KEY_INFO;
typedef struct stack_st OPENSSL_STACK;
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;

unsigned long OpenSSL_version_num(void);
unsigned long ERR_get_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);
void ERR_clear_error(void);

EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp);
EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length);
PKCS8_PRIV_KEY_INFO *EVP_PKEY2PKCS8(const EVP_PKEY *pkey);
int i2d_PKCS8_PRIV_KEY_INFO(const PKCS8_PRIV_KEY_INFO *a, unsigned char **pp);
void PKCS8_PRIV_KEY_INFO_free(PKCS8_PRIV_KEY_INFO *a);
void EVP_PKEY_free(EVP_PKEY *pkey);
int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name);
int EVP_PKEY_up_ref(EVP_PKEY *key);

BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, void *cb, void *u);

EVP_PKEY_CTX *EVP_PKEY_CTX_new_from_name(OSSL_LIB_CTX *libctx, const char *name, const char *propquery);
EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, void *e);
void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
int EVP_PKEY_keygen_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_generate(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey);
int EVP_PKEY_encrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_encrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen,
                     const unsigned char *in, size_t inlen);
int EVP_PKEY_decrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_decrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen,
                     const unsigned char *in, size_t inlen);
int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
                  const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
                    const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_CTX_set1_id(EVP_PKEY_CTX *ctx, const void *id, int len);

EVP_MD_CTX *EVP_MD_CTX_new(void);
void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
void EVP_MD_CTX_set_pkey_ctx(EVP_MD_CTX *ctx, EVP_PKEY_CTX *pctx);
const EVP_MD *EVP_sm3(void);
int EVP_DigestSignInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, void *e, EVP_PKEY *pkey);
int EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sigret, size_t *siglen,
                   const unsigned char *tbs, size_t tbslen);
int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, void *e, EVP_PKEY *pkey);
int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sigret, size_t siglen,
                     const unsigned char *tbs, size_t tbslen);

PKCS12 *d2i_PKCS12(PKCS12 **a, const unsigned char **pp, long length);
void PKCS12_free(PKCS12 *a);
int PKCS12_parse(PKCS12 *p12, const char *pass, EVP_PKEY **pkey, X509 **cert, OPENSSL_STACK **ca);
int i2d_X509(const X509 *a, unsigned char **pp);
X509 *d2i_X509(X509 **a, const unsigned char **pp, long length);
PKCS12 *PKCS12_create(const char *pass, const char *name, EVP_PKEY *pkey, X509 *cert, OPENSSL_STACK *ca,
                      int nid_key, int nid_cert, int iter, int mac_iter, int keytype);
int i2d_PKCS12(PKCS12 *a, unsigned char **pp);
void X509_free(X509 *a);
int OPENSSL_sk_num(const OPENSSL_STACK *st);
void *OPENSSL_sk_value(const OPENSSL_STACK *st, int i);
void OPENSSL_sk_free(OPENSSL_STACK *st);
void CRYPTO_free(void *ptr, const char *file, int line);
"""

_NAMES = {
    "win32": ("libcrypto-3-x64.dll", "libcrypto-3.dll"),
    "darwin": ("libcrypto.3.dylib",),
}


class LibcryptoUnavailableError(CryptoLibraryError):
    """The system libcrypto (OpenSSL 3) was not found, or is older than 3.0."""


_ffi = FFI()
_ffi.cdef(_CDEF)
_lib: Any = None
_lock = threading.Lock()


def _candidates() -> list[str]:
    override = os.environ.get("BIDCRYPT_LIBCRYPTO")
    if override:
        return [override]
    names = list(_NAMES.get(sys.platform, ("libcrypto.so.3",)))
    found = ctypes.util.find_library("crypto")
    if found and found not in names:
        names.append(found)
    return names


def lib() -> Any:
    """The loaded library (loaded on first use), or :class:`LibcryptoUnavailableError`."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            failures = []
            for name in _candidates():
                try:
                    loaded: Any = _ffi.dlopen(name)
                    version = loaded.OpenSSL_version_num()
                except (OSError, AttributeError):
                    failures.append(f"{name}: not found, or not a libcrypto")
                    continue
                if version < 0x30000000:
                    failures.append(f"{name}: OpenSSL {version:#x} is older than 3.0")
                    continue
                _lib = loaded
                break
            else:
                raise LibcryptoUnavailableError("; ".join(failures))
    return _lib


def ffi() -> FFI:
    """The cffi instance the declarations belong to."""
    return _ffi


def last_error() -> str:
    """OpenSSL's pending error messages, joined; the queue is left empty."""
    library = lib()
    messages = []
    buffer = _ffi.new("char[256]")
    while code := library.ERR_get_error():
        library.ERR_error_string_n(code, buffer, 256)
        message = _ffi.string(buffer)
        messages.append(message.decode("ascii", "replace") if isinstance(message, bytes) else message)
    return "; ".join(messages) or "no detail"


def clear_errors() -> None:
    """Drop OpenSSL's pending errors."""
    lib().ERR_clear_error()


def free_openssl(pointer: Any) -> None:
    """``OPENSSL_free`` (a macro over ``CRYPTO_free``)."""
    lib().CRYPTO_free(pointer, b"bidcrypt", 0)


def i2d(function: Any, obj: Any) -> bytes:
    """The DER that an OpenSSL ``i2d_*`` function writes for *obj*."""
    out = _ffi.new("unsigned char **")
    length = function(obj, out)
    if length <= 0:
        raise ValueError(f"OpenSSL could not encode: {last_error()}")
    try:
        return bytes(_ffi.buffer(out[0], length))
    finally:
        free_openssl(out[0])


def d2i(function: Any, free: Any, der: bytes) -> Any:
    """The object an OpenSSL ``d2i_*`` function reads from *der*, or NULL when it does not read all of it."""
    source = _ffi.new("unsigned char[]", der)
    cursor = _ffi.new("unsigned char **", source)
    obj = function(_ffi.NULL, cursor, len(der))
    if obj == _ffi.NULL:
        return _ffi.NULL
    if cursor[0] - source != len(der):
        free(obj)
        return _ffi.NULL
    return _ffi.gc(obj, free)
