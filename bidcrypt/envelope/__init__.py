"""The envelope engine: CMS EnvelopedData / AuthEnvelopedData, streamed, opened on a UKey.

Encrypting::

    from bidcrypt.envelope import EnvelopeBuilder
    EnvelopeBuilder().add_recipient(certificate).encrypt_file(Path("bid.zip"), Path("bid.p7m"))

Opening, in one call or in the two steps of a bulk opening::

    decrypt_file(Path("bid.p7m"), Path("bid.zip"), key_source)

    header = read_header_file(path)                    # no key needed
    key = unwrap_content_key(header, key_source)        # one operation on the UKey
    decrypt_content(path, header, key, Path("bid.zip"))  # software, any process

Re-encrypting to new certificates: :func:`reencrypt` rewraps the content key
(cheap, content untouched); :func:`reencrypt_fresh` encrypts the content
again under a fresh key (for a lost or compromised key, see its module).

AES-256-GCM in AuthEnvelopedData (RFC 5083/5084) is the default; AES-CBC
in EnvelopedData is there for compatibility. RSA recipients use OAEP
(SHA-256 or SHA-1) or PKCS#1 v1.5, EC recipients (P-256, P-384)
ephemeral-static ECDH (RFC 5753). Envelopes are streamed both ways with
bounded memory and interoperate with ``openssl cms``.

An SM2 recipient makes the envelope a GM/T 0010 (GB/T 35275) EnvelopedData
with SM4-CBC (:func:`suite_cipher`), structured as GmSSL 3 writes it; every
variant met in the field is read (:mod:`~bidcrypt.envelope.sm2_transport`).
"""

from bidcrypt.envelope.algorithms import CipherParameters, ContentCipher, KeyTransport, Sm2KeyEncryption
from bidcrypt.envelope.builder import EncryptResult, EnvelopeBuilder, suite_cipher
from bidcrypt.envelope.header import (
    Attribute,
    ContentLayout,
    EnvelopeHeader,
    RecipientsPart,
    read_front,
    read_header,
    read_header_file,
    read_recipients,
)
from bidcrypt.envelope.opening import (
    ContentKey,
    DecryptResult,
    Keys,
    TestOpenResult,
    authenticate_content,
    candidates,
    content_prefix,
    decrypt_bytes,
    decrypt_content,
    decrypt_file,
    matching_recipients,
    test_open,
    unwrap_content_key,
)
from bidcrypt.envelope.presentation import summary_lines
from bidcrypt.envelope.recipients import (
    EnvelopeRecipient,
    Recipient,
    RecipientId,
    RecipientIdentifier,
    RecipientKind,
    key_identifiers,
)
from bidcrypt.envelope.reencrypt import (
    ReencryptResult,
    interrupted_in_place,
    recover_in_place,
    reencrypt,
)
from bidcrypt.envelope.refresh import PlaintextReader, reencrypt_fresh
from bidcrypt.envelope.transports import (
    DEFAULT_TRANSPORT,
    claimed_transports,
    default_reason,
    probe_transports,
    strongest_transport,
)
from bidcrypt.envelope.unwrapping import entries_of

__all__ = [
    "DEFAULT_TRANSPORT",
    "Attribute",
    "CipherParameters",
    "ContentCipher",
    "ContentKey",
    "ContentLayout",
    "DecryptResult",
    "EncryptResult",
    "EnvelopeBuilder",
    "EnvelopeHeader",
    "EnvelopeRecipient",
    "KeyTransport",
    "Keys",
    "PlaintextReader",
    "Recipient",
    "RecipientId",
    "RecipientIdentifier",
    "RecipientKind",
    "RecipientsPart",
    "ReencryptResult",
    "Sm2KeyEncryption",
    "TestOpenResult",
    "authenticate_content",
    "candidates",
    "claimed_transports",
    "content_prefix",
    "decrypt_bytes",
    "decrypt_content",
    "decrypt_file",
    "default_reason",
    "entries_of",
    "interrupted_in_place",
    "key_identifiers",
    "matching_recipients",
    "probe_transports",
    "read_front",
    "read_header",
    "read_header_file",
    "read_recipients",
    "recover_in_place",
    "reencrypt",
    "reencrypt_fresh",
    "strongest_transport",
    "suite_cipher",
    "summary_lines",
    "test_open",
    "unwrap_content_key",
]
