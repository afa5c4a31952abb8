"""Key sources: a UKey over PKCS#11 or a PKCS#12 file, behind one narrow interface.

A *key reference* (KEYREF on the command line) is either an RFC 7512 URI
(``pkcs11:token=bidder-a;object=enc?module-path=...``) or the path of a
PKCS#12 file.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bidcrypt._lazy import loader
from bidcrypt.errors import InputError
from bidcrypt.files import PathArg, as_path
from bidcrypt.i18n import Text
from bidcrypt.keys.base import RSA_DECRYPTION_SCHEMES, RSA_SCHEMES, KeyEntry, KeySource, rsa_padding
from bidcrypt.keys.pin import DEFAULT_PIN_ENV, Pin, PinSource
from bidcrypt.keys.schemes import SignatureScheme, hash_named, scheme_for_key, scheme_named
from bidcrypt.keys.uri import MODULE_ENV, Pkcs11Uri, is_pkcs11_uri, redact_reference

if TYPE_CHECKING:
    from bidcrypt.keys.pkcs11_token import Pkcs11Source
    from bidcrypt.keys.pyhanko_signer import (
        KeyEntrySigner,
        SchemeSignatureValidator,
        async_sign_data,
        sign_data,
    )

#: The names loaded on first use, and their modules (these import pyHanko or python-pkcs11).
_LAZY = {
    "Pkcs11Source": "bidcrypt.keys.pkcs11_token",
    "KeyEntrySigner": "bidcrypt.keys.pyhanko_signer",
    "SchemeSignatureValidator": "bidcrypt.keys.pyhanko_signer",
    "async_sign_data": "bidcrypt.keys.pyhanko_signer",
    "sign_data": "bidcrypt.keys.pyhanko_signer",
}

__all__ = [
    "DEFAULT_PIN_ENV",
    "MODULE_ENV",
    "RSA_DECRYPTION_SCHEMES",
    "RSA_SCHEMES",
    "KeyEntry",
    "KeyEntrySigner",
    "KeySource",
    "Pin",
    "PinSource",
    "Pkcs11Source",
    "Pkcs11Uri",
    "SchemeSignatureValidator",
    "SignatureScheme",
    "async_sign_data",
    "hash_named",
    "is_pkcs11_uri",
    "open_key_source",
    "redact_reference",
    "rsa_padding",
    "scheme_for_key",
    "scheme_named",
    "sign_data",
]


__getattr__ = loader(__name__, globals(), _LAZY)


def open_key_source(
    ref: str | os.PathLike[str], pin_source: PinSource | None = None, module: PathArg | None = None
) -> KeySource:
    """Open the key source named by *ref*: a ``pkcs11:`` URI, or the path of a PKCS#12 file.

    *module* is the PKCS#11 module to use when the URI names none (``--module``);
    the ``BIDCRYPT_PKCS11_MODULE`` environment variable comes after it. No
    message quotes a PIN written in *ref* (:func:`redact_reference`).
    """
    if isinstance(ref, str) and is_pkcs11_uri(ref):
        from bidcrypt.keys.pkcs11_token import Pkcs11Source

        return Pkcs11Source(Pkcs11Uri.parse(ref), pin_source, None if module is None else os.fspath(module))
    path = as_path(ref)
    try:
        missing = not (path.exists() or path.is_symlink())
    except (OSError, ValueError):  # a NUL in the name, a name too long
        missing = True
    if missing:
        raise InputError(
            Text("no such file, and not a pkcs11: URI", "文件不存在，也不是 pkcs11: URI"),
            path=redact_reference(os.fspath(path)),
        )
    from bidcrypt.keys.pkcs12_file import Pkcs12Source

    return Pkcs12Source(path, pin_source)
