"""The SM2 engine's own exceptions: plain ``ValueError`` subclasses, as ``cryptography`` raises.

The layers above turn them into bidcrypt's errors (a malformed envelope, a
wrong key, a refused certificate), since only they know what the bytes were.
A failed signature check raises ``cryptography.exceptions.InvalidSignature``.
"""

from __future__ import annotations


class Sm2Error(ValueError):
    """An SM2 operation failed."""


class Sm2KeyError(Sm2Error):
    """Bytes that are not an SM2 key: another algorithm or curve, a point off the curve, bad DER."""


class Sm2DecryptError(Sm2Error):
    """An SM2 ciphertext did not decrypt: the wrong key, or the ciphertext was changed (C3 differs)."""


class Sm2CiphertextError(Sm2Error):
    """Bytes that are no SM2 ciphertext in any of the encodings met in the field."""


__all__ = ["Sm2CiphertextError", "Sm2DecryptError", "Sm2Error", "Sm2KeyError"]
