"""The content key of a recipient imported into the token, for keys that never hand one out.

An SKF UKey without a private-key decryption export (GM/T 0016's standard
path) unwraps nothing for bidcrypt: the wrapped key is imported into the
token (``SKF_ImportSessionKey``) and the content decrypted there
(:mod:`bidcrypt.envelope._token_cbc`). What such a token can take:

* CBC content only (:data:`~bidcrypt.keys.TOKEN_CIPHERS`): AES-GCM is
  refused, before any token operation;
* an SM2 recipient: each DER SM2Cipher reading of the encryptedKey is
  imported in turn (one token operation each, a DER one has exactly one
  reading), until the token takes one;
* an RSA recipient with PKCS#1 v1.5 only: OAEP, and key agreement (ECDH),
  are refused.

RFC 3218 section 2.3 holds here too: when the token refuses a PKCS#1 v1.5
wrapped key (a wrong key, a bad padding, a key of the wrong length), a
random content key is used in its place, in software, and the opening fails
on the content with the one message of every PKCS#1 v1.5 failure (see
:func:`~bidcrypt.envelope.opening.pkcs1v15_failure`).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt import certs
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.identifiers import EnvelopeRecipient, RecipientKind
from bidcrypt.envelope.sm2_transport import sm2_ciphertexts
from bidcrypt.errors import TokenCipherUnsupportedError, WrongKeyError
from bidcrypt.gm import Sm2PublicKey
from bidcrypt.keys import TOKEN_CIPHERS, KeyEntry, TokenContentKey


def import_content_key(
    recipient: EnvelopeRecipient, entry: KeyEntry, cipher: alg.ContentCipher
) -> TokenContentKey | bytes:
    """The content key of *recipient* imported into *entry*'s token (or, see above, a random one).

    :class:`~bidcrypt.errors.TokenCipherUnsupportedError` for what the
    token cannot decrypt (GCM content, OAEP, key agreement);
    :class:`WrongKeyError` when no SM2 reading is taken, or the key is of
    another type. The key source's own errors (token removed, PIN) pass as
    they come.
    """
    if cipher.value not in TOKEN_CIPHERS:
        raise _refused(entry, cipher.value.upper())
    public_key = certs.public_key(entry.certificate)
    if recipient.sm2_encryption is not None:
        if not isinstance(public_key, Sm2PublicKey):
            raise WrongKeyError()
        for candidate in sm2_ciphertexts(recipient.encrypted_key):
            try:
                return entry.import_content_key(candidate, "sm2", cipher.value)
            except WrongKeyError:
                continue
        raise WrongKeyError()
    if recipient.kind is not RecipientKind.KEY_TRANSPORT:
        raise _refused(entry, "ECDH")
    transport = recipient.key_transport
    assert transport is not None
    if transport is not KeyTransport.PKCS1V15:
        raise _refused(entry, alg.describe_key_transport(transport))
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise WrongKeyError()
    substitute = os.urandom(cipher.key_size)
    size = (public_key.key_size + 7) // 8
    if not size - 8 <= len(recipient.encrypted_key) <= size:
        return substitute
    try:
        return entry.import_content_key(recipient.encrypted_key.rjust(size, b"\0"), "pkcs1v15", cipher.value)
    except WrongKeyError:
        return substitute


def _refused(entry: KeyEntry, algorithm: str) -> TokenCipherUnsupportedError:
    return TokenCipherUnsupportedError(source=entry.source, algorithm=algorithm)
