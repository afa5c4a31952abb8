"""The national algorithms' object identifiers, and their names in asn1crypto.

Importing this module teaches asn1crypto the names below, so that
certificates, CMS structures and keys that use them parse to readable names
(``sm2_sm3``, ``sm3``, ``sm4_cbc``…) instead of dotted strings. The
registration only adds names for OIDs asn1crypto does not know; it changes
nothing it already knows.
"""

from __future__ import annotations

from asn1crypto import algos, cms, core, keys

#: The curve sm2p256v1 (GM/T 0006), also used as "SM2" in SPKI algorithm identifiers.
SM2_CURVE = "1.2.156.10197.1.301"
#: sm2-1, SM2 signature (BouncyCastle's ``sm2sign``; emmansun/gmsm names SignerInfo signatures with it).
SM2_SIGN = "1.2.156.10197.1.301.1"
#: sm2-2: BouncyCastle's ``sm2exchange``, and the key-encryption OID GmSSL 3 writes and accepts.
SM2_ENCRYPT_GMSSL = "1.2.156.10197.1.301.2"
#: sm2-3, SM2 encryption as GB/T 35275 names it (``sm2encrypt``).
SM2_ENCRYPT = "1.2.156.10197.1.301.3"
#: SM2 with SM3 (GM/T 0006): certificate and SignerInfo signatures.
SM2_WITH_SM3 = "1.2.156.10197.1.501"
#: SM3 (GM/T 0004).
SM3 = "1.2.156.10197.1.401"
#: HMAC with SM3 (GmSSL's PBKDF2 PRF).
HMAC_SM3 = "1.2.156.10197.1.401.2"
#: SM4 alone (CFCA writes it for SM4-CBC).
SM4 = "1.2.156.10197.1.104"
#: SM4 in ECB, CBC, OFB, CFB, CTR and GCM modes (GM/T 0006).
SM4_ECB = "1.2.156.10197.1.104.1"
SM4_CBC = "1.2.156.10197.1.104.2"
SM4_GCM = "1.2.156.10197.1.104.8"
#: GM/T 0010 content types: data, signedData, envelopedData, signedAndEnvelopedData.
GM_DATA = "1.2.156.10197.6.1.4.2.1"
GM_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
GM_ENVELOPED_DATA = "1.2.156.10197.6.1.4.2.3"
GM_SIGNED_AND_ENVELOPED_DATA = "1.2.156.10197.6.1.4.2.4"

_NAMES: dict[type[core.ObjectIdentifier], dict[str, str]] = {
    algos.SignedDigestAlgorithmId: {SM2_WITH_SM3: "sm2_sm3", SM2_SIGN: "sm2_sign"},
    algos.DigestAlgorithmId: {SM3: "sm3"},
    algos.HmacAlgorithmId: {HMAC_SM3: "hmac_sm3"},
    algos.EncryptionAlgorithmId: {SM4: "sm4", SM4_CBC: "sm4_cbc", SM4_ECB: "sm4_ecb", SM4_GCM: "sm4_gcm"},
    cms.KeyEncryptionAlgorithmId: {SM2_ENCRYPT_GMSSL: "sm2_encrypt_gmssl", SM2_ENCRYPT: "sm2_encrypt"},
    cms.ContentType: {
        GM_DATA: "gm_data",
        GM_SIGNED_DATA: "gm_signed_data",
        GM_ENVELOPED_DATA: "gm_enveloped_data",
        GM_SIGNED_AND_ENVELOPED_DATA: "gm_signed_and_enveloped_data",
    },
}


def _register() -> None:
    for oid_class, names in _NAMES.items():
        for dotted, name in names.items():
            if dotted in oid_class._map:
                continue
            oid_class._map[dotted] = name
            if oid_class._reverse_map is not None:
                oid_class._reverse_map[name] = dotted
    if SM2_CURVE not in keys.NamedCurve._map:
        keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)


_register()

__all__ = [
    "GM_DATA",
    "GM_ENVELOPED_DATA",
    "GM_SIGNED_AND_ENVELOPED_DATA",
    "GM_SIGNED_DATA",
    "HMAC_SM3",
    "SM2_CURVE",
    "SM2_ENCRYPT",
    "SM2_ENCRYPT_GMSSL",
    "SM2_SIGN",
    "SM2_WITH_SM3",
    "SM3",
    "SM4",
    "SM4_CBC",
    "SM4_ECB",
    "SM4_GCM",
]
