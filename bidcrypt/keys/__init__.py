"""Key sources: a UKey over PKCS#11, a PKCS#12 file or a PEM key file, behind one narrow interface.

A *key reference* (KEYREF on the command line) is either an RFC 7512 URI
(``pkcs11:token=bidder-a;object=enc?module-path=...``) or the path of a key
file: PKCS#12, or PEM holding a private key and its certificate (see
:mod:`bidcrypt.keys.pem_file` for the convention). RSA, EC and SM2 keys
alike; SM2 signing for tokens that sign a precomputed e is prepared in
:mod:`bidcrypt.keys.sm2_digest`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bidcrypt._lazy import loader
from bidcrypt.errors import InputError
from bidcrypt.files import PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys.base import (
    RSA_DECRYPTION_SCHEMES,
    RSA_SCHEMES,
    TOKEN_CIPHERS,
    TOKEN_KEY_WRAPS,
    KeyEntry,
    KeySource,
    TokenContentKey,
    TokenDecryptor,
    rsa_padding,
)
from bidcrypt.keys.pin import DEFAULT_PIN_ENV, Pin, PinSource, PinStatus
from bidcrypt.keys.schemes import SignatureScheme, hash_named, scheme_for_key, scheme_named
from bidcrypt.keys.signed_data import (
    SignedDataForm,
    VerifiedSignedData,
    find_signer_certificate,
    read_signed_data,
    verify_signed_data,
)
from bidcrypt.keys.skf_uri import SKF_MODULE_ENV, SkfUri, is_skf_uri
from bidcrypt.keys.sm2_digest import sm2_signature_der, sm2_signing_digest
from bidcrypt.keys.software import MemorySource, key_from_pkcs8
from bidcrypt.keys.uri import MODULE_ENV, Pkcs11Uri, is_pkcs11_uri, redact_reference

if TYPE_CHECKING:
    from bidcrypt.keys.pkcs11_token import Pkcs11Source
    from bidcrypt.keys.pyhanko_signer import (
        KeyEntrySigner,
        SchemeSignatureValidator,
        async_sign_data,
        sign_data,
    )
    from bidcrypt.keys.skf_source import SkfSource
    from bidcrypt.keys.skf_survey import (
        SkfApplicationSurvey,
        SkfContainerSurvey,
        SkfDeviceSurvey,
        SkfSurvey,
        survey_skf,
    )

#: The names loaded on first use, and their modules (these import pyHanko or python-pkcs11).
_LAZY = {
    "Pkcs11Source": "bidcrypt.keys.pkcs11_token",
    "SkfSource": "bidcrypt.keys.skf_source",
    "SkfSurvey": "bidcrypt.keys.skf_survey",
    "SkfApplicationSurvey": "bidcrypt.keys.skf_survey",
    "SkfContainerSurvey": "bidcrypt.keys.skf_survey",
    "SkfDeviceSurvey": "bidcrypt.keys.skf_survey",
    "survey_skf": "bidcrypt.keys.skf_survey",
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
    "SKF_MODULE_ENV",
    "TOKEN_CIPHERS",
    "TOKEN_KEY_WRAPS",
    "KeyEntry",
    "KeyEntrySigner",
    "KeySource",
    "MemorySource",
    "Pin",
    "PinSource",
    "PinStatus",
    "Pkcs11Source",
    "Pkcs11Uri",
    "SchemeSignatureValidator",
    "SignatureScheme",
    "SignedDataForm",
    "SkfApplicationSurvey",
    "SkfContainerSurvey",
    "SkfDeviceSurvey",
    "SkfSource",
    "SkfSurvey",
    "SkfUri",
    "TokenContentKey",
    "TokenDecryptor",
    "VerifiedSignedData",
    "async_sign_data",
    "find_signer_certificate",
    "hash_named",
    "is_pkcs11_uri",
    "is_skf_uri",
    "key_from_pkcs8",
    "open_key_source",
    "read_signed_data",
    "redact_reference",
    "rsa_padding",
    "scheme_for_key",
    "scheme_named",
    "sign_data",
    "sm2_signature_der",
    "sm2_signing_digest",
    "survey_skf",
    "verify_signed_data",
]


__getattr__ = loader(__name__, globals(), _LAZY)


def open_key_source(
    ref: str | os.PathLike[str], pin_source: PinSource | None = None, module: PathArg | None = None
) -> KeySource:
    """Open the key source named by *ref*: a ``pkcs11:`` URI, an ``skf:`` reference, or a key file's path.

    A file holding a PEM block is a PEM key file, any other a PKCS#12 file;
    the file is read once, here, and only when it is a regular file of at
    most 1 MiB.

    *module* is the PKCS#11 module (or SKF library) to use when the reference
    names none (``--module``); the ``BIDCRYPT_PKCS11_MODULE`` (or
    ``BIDCRYPT_SKF_MODULE``) environment variable comes after it. For an
    ``skf:`` reference a *module* equal to ``BIDCRYPT_PKCS11_MODULE`` is
    ignored: it is the CLI's ``--module`` default from that variable, a
    PKCS#11 module. No message quotes a PIN written in *ref*
    (:func:`redact_reference`).
    """
    if isinstance(ref, str) and is_skf_uri(ref):
        from bidcrypt.keys.skf_source import SkfSource

        library = None if module is None else os.fspath(module)
        if library is not None and library == os.environ.get(MODULE_ENV):
            library = None
        return SkfSource(SkfUri.parse(ref), pin_source, library)
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
    from bidcrypt.keys.pem_file import KEY_FILE, PemSource
    from bidcrypt.keys.pem_keys import is_pem
    from bidcrypt.keys.pkcs12_file import Pkcs12Source

    data = read_input(path, KEY_FILE)
    if is_pem(data):
        return PemSource(path, pin_source, data)
    return Pkcs12Source(path, pin_source, data)
