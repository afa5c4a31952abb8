"""The national algorithms (国密): SM2 through the system libcrypto, SM3 and SM4 from ``cryptography``.

- :class:`Sm2PublicKey`, :class:`Sm2PrivateKey`: SM2 encryption, decryption,
  signatures (SM2 with SM3 and a distinguishing ID) and key generation, in
  OpenSSL 3's libcrypto through cffi (see :mod:`bidcrypt.gm._libcrypto` for why).
- :mod:`bidcrypt.gm.ciphertext`: the SM2 ciphertext encodings met in the field.
- :func:`load_pkcs12`: PKCS#12 files with SM2 keys.
- :mod:`bidcrypt.gm.oids`: the OIDs, registered with asn1crypto on import.
"""

from __future__ import annotations

from bidcrypt.gm import oids
from bidcrypt.gm._libcrypto import LibcryptoUnavailableError
from bidcrypt.gm.ciphertext import der_candidates, from_raw, normalise_der, to_raw
from bidcrypt.gm.errors import Sm2CiphertextError, Sm2DecryptError, Sm2Error, Sm2KeyError
from bidcrypt.gm.pkcs12 import Pkcs12Contents, Pkcs12Error, dump_pkcs12, load_pkcs12
from bidcrypt.gm.sm2 import (
    DEFAULT_ID,
    ORDER,
    InvalidSignature,
    Sm2PrivateKey,
    Sm2PublicKey,
    is_sm2_public_key_info,
    sm3,
)

__all__ = [
    "DEFAULT_ID",
    "ORDER",
    "InvalidSignature",
    "LibcryptoUnavailableError",
    "Pkcs12Contents",
    "Pkcs12Error",
    "Sm2CiphertextError",
    "Sm2DecryptError",
    "Sm2Error",
    "Sm2KeyError",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "der_candidates",
    "dump_pkcs12",
    "from_raw",
    "is_sm2_public_key_info",
    "load_pkcs12",
    "normalise_der",
    "oids",
    "sm3",
    "to_raw",
]
