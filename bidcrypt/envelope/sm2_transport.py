"""SM2 key transport (GM/T 0010, GB/T 35275): the KeyTransRecipientInfo of an SM2 recipient.

The content key is encrypted to the recipient's SM2 public key; the
encryptedKey is the DER ``SM2Cipher`` (C1, C3, C2). GM/T 0010 writes the
RecipientInfo with version 1 and issuerAndSerialNumber; CFCA names the
recipient by SubjectKeyIdentifier (version 2, ``[0]``).

The key-encryption algorithm has two OIDs in the field
(:class:`Sm2KeyEncryption`): GmSSL 3 writes ``1.2.156.10197.1.301.2`` with
the parameters absent and accepts nothing else; GB/T 35275 names
``1.2.156.10197.1.301.3``, which emmansun/gmsm writes with NULL parameters.
bidcrypt writes GmSSL's form by default and reads all four.

Unwrapping: the encryptedKey may also be a raw C1C3C2 or C1C2C3 ciphertext
(with or without the ``04`` point prefix, from CFCA before SADK 3.2 and
sm-crypto); :func:`sm2_unwrap` tries each reading the bytes allow on the key
entry, the standard order first, until one passes the SM3 check C3. A DER
SM2Cipher has exactly one reading: one token operation.
"""

from __future__ import annotations

from asn1crypto import cms, core

from bidcrypt import certs
from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope.algorithms import Sm2KeyEncryption
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientKind,
    parse_issuer_and_serial,
)
from bidcrypt.errors import MalformedEnvelopeError, WrongKeyError
from bidcrypt.gm import Sm2CiphertextError, Sm2PublicKey, der_candidates
from bidcrypt.gm import oids as gm_oids
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry

#: The KeyTransRecipientInfo version GM/T 0010 writes with issuerAndSerialNumber.
GM_RECIPIENT_VERSION = 1


#: The SM2 key-encryption OIDs bidcrypt reads.
SM2_KEY_ENCRYPTION_OIDS = (gm_oids.SM2_ENCRYPT_GMSSL, gm_oids.SM2_ENCRYPT)


def parse_sm2_key_encryption(value: cms.KeyEncryptionAlgorithm) -> Sm2KeyEncryption:
    """The form of a loaded SM2 KeyEncryptionAlgorithmIdentifier (parameters absent or NULL)."""
    oid = value["algorithm"].dotted
    parameters = value["parameters"]
    null = not isinstance(parameters, core.Void)
    if null and not isinstance(parameters, core.Null) and parameters.dump() != b"\x05\x00":
        raise ber.malformed(Text("bad SM2 encryption parameters", "SM2 加密算法参数错误"))
    for form in Sm2KeyEncryption:
        if form.oid == oid and form.null_parameters == null:
            return form
    raise AssertionError(oid)  # pragma: no cover - callers pass SM2 OIDs only


def sm2_key_transport_info(
    rid: RecipientId, public_key: Sm2PublicKey, form: Sm2KeyEncryption, content_key: bytes
) -> bytes:
    """The DER KeyTransRecipientInfo carrying *content_key* for the SM2 key *public_key*.

    Version 1 with issuerAndSerialNumber (GM/T 0010), version 2 with a
    ``[0]`` SubjectKeyIdentifier.
    """
    if rid.subject_key_identifier is not None:
        version = 2
        identifier = der.context(0, rid.subject_key_identifier, constructed=False)
    else:
        version = GM_RECIPIENT_VERSION
        identifier = bytes(rid.issuer_and_serial().dump())
    return der.sequence(
        der.integer(version),
        identifier,
        form.encode(),
        der.octet_string(public_key.encrypt(content_key)),
    )


def parse_sm2_key_transport_info(index: int, info: cms.KeyTransRecipientInfo) -> EnvelopeRecipient:
    """The recipient of a loaded KeyTransRecipientInfo whose algorithm is SM2 encryption."""
    with _asn1.parsing("KeyTransRecipientInfo"):
        version = int(info["version"])
        rid_choice = info["rid"]
        if rid_choice.name == "subject_key_identifier":
            rid = RecipientId(subject_key_identifier=bytes(rid_choice.chosen.native))
            versions: tuple[int, ...] = (2,)
        else:
            rid = parse_issuer_and_serial(rid_choice.chosen)
            versions = (0, GM_RECIPIENT_VERSION)
        form = parse_sm2_key_encryption(info["key_encryption_algorithm"])
        encrypted_key = bytes(info["encrypted_key"].native)
    if version not in versions:
        raise ber.malformed(
            Text("KeyTransRecipientInfo version does not match its identifier", "接收者版本号错误")
        )
    return EnvelopeRecipient(
        index, RecipientKind.KEY_TRANSPORT, rid, form.oid, encrypted_key, sm2_encryption=form
    )


def sm2_ciphertexts(encrypted_key: bytes) -> list[bytes]:
    """The DER SM2Ciphers an encryptedKey may be; :class:`MalformedEnvelopeError` when none."""
    try:
        return der_candidates(encrypted_key)
    except Sm2CiphertextError as exc:
        raise MalformedEnvelopeError(
            Text(
                "the SM2 encrypted key is no SM2 ciphertext ({reason})",
                "SM2 加密的密钥不是有效的 SM2 密文（{reason}）",
                reason=str(exc),
            )
        ) from None


def sm2_unwrap(recipient: EnvelopeRecipient, entry: KeyEntry, key_size: int) -> bytes:
    """The content key of the SM2 *recipient*, decrypted on *entry* (one operation per reading tried).

    :class:`WrongKeyError` when the entry's key is not SM2, or no reading
    decrypts to a key of *key_size* bytes; :class:`MalformedEnvelopeError`
    when the encryptedKey is no SM2 ciphertext at all (a point off the
    curve, a wrong length). The key source's own errors pass as they come.
    """
    if not isinstance(certs.public_key(entry.certificate), Sm2PublicKey):
        raise WrongKeyError()
    for candidate in sm2_ciphertexts(recipient.encrypted_key):
        try:
            content_key = entry.sm2_decrypt(candidate)
        except WrongKeyError:
            continue
        if len(content_key) == key_size:
            return content_key
    raise WrongKeyError()
