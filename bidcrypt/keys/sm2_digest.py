"""SM2 signing for tokens that sign a precomputed e: the digest to give them, and their answer in DER.

An SM2-with-SM3 signature (GM/T 0009) covers e = SM3(Z ‖ M), Z computed from
the signer's public key and a distinguishing ID (default
``1234567812345678``). A PKCS#12 or PEM key does it all in libcrypto, but a
UKey driven through SKF (GM/T 0016 ``SKF_ECCSignData``) signs only the
32-byte e and answers r and s as fixed-size fields. Such a key entry
implements :meth:`~bidcrypt.keys.KeyEntry.sm2_sign_digest`, and its
``sign(data, "sm3")`` is::

    entry.sm2_sign_digest(sm2_signing_digest(entry.certificate, data))

with :func:`sm2_signature_der` turning the token's r and s into the DER
SM2Signature every verifier reads.
"""

from __future__ import annotations

from asn1crypto import algos
from cryptography import x509

from bidcrypt import certs
from bidcrypt.gm import DEFAULT_ID, ORDER, Sm2PublicKey, sm3


def sm2_signing_digest(
    signer: x509.Certificate | Sm2PublicKey, data: bytes, *, distid: bytes = DEFAULT_ID
) -> bytes:
    """e = SM3(Z ‖ *data*), Z of the SM2 public key of *signer* (a certificate or a key) and *distid*.

    ``ValueError`` when *signer*'s key is not an SM2 key.
    """
    key = signer if isinstance(signer, Sm2PublicKey) else certs.public_key(signer)
    if not isinstance(key, Sm2PublicKey):
        raise ValueError("SM2 signing needs an SM2 public key")
    return sm3(key.z_value(distid) + data)


def sm2_signature_der(r: bytes | int, s: bytes | int) -> bytes:
    """The DER SM2Signature ``SEQUENCE { r INTEGER, s INTEGER }`` of a token's r and s.

    Byte strings are big-endian of any length, so SKF's 64-byte fields with
    the 32-byte values right-aligned read as they are. ``ValueError`` when r
    or s is not in [1, n-1], which no valid signature has.
    """
    values = [value if isinstance(value, int) else int.from_bytes(value, "big") for value in (r, s)]
    if not all(0 < value < ORDER for value in values):
        raise ValueError("an SM2 signature's r and s lie in [1, n-1]")
    return bytes(algos.DSASignature({"r": values[0], "s": values[1]}).dump())


__all__ = ["sm2_signature_der", "sm2_signing_digest"]
