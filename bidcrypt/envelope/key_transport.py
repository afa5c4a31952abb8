"""RSA key transport (KeyTransRecipientInfo, RFC 5652 section 6.2.1): wrapping and reading.

The content key is encrypted to the recipient's RSA public key with OAEP
or PKCS#1 v1.5 (:class:`~bidcrypt.envelope.algorithms.KeyTransport`); the
private-key side is a key source's (:mod:`bidcrypt.envelope.unwrapping`).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientKind,
    parse_issuer_and_serial,
)
from bidcrypt.errors import UnsupportedAlgorithmError


def key_transport_info(
    rid: RecipientId, public_key: rsa.RSAPublicKey, transport: KeyTransport, content_key: bytes
) -> bytes:
    """The DER KeyTransRecipientInfo carrying *content_key* for *public_key*."""
    if rid.subject_key_identifier is not None:
        version, rid_der = 2, der.context(0, rid.subject_key_identifier, constructed=False)
    else:
        version, rid_der = 0, rid.encode_issuer_and_serial()
    encrypted = public_key.encrypt(content_key, transport.padding())
    return der.sequence(
        der.integer(version), rid_der, alg.encode_key_transport(transport), der.octet_string(encrypted)
    )


def parse_key_transport_info(index: int, info: ber.Node) -> EnvelopeRecipient:
    """The recipient of a KeyTransRecipientInfo (at *index* in the set)."""
    fields = info.children
    if len(fields) != 4:
        raise ber.malformed("bad KeyTransRecipientInfo", "KeyTransRecipientInfo 格式错误")
    version = ber.decode_integer(fields[0])
    rid_node = fields[1]
    if rid_node.is_(ber.CONTEXT, 0):
        rid = RecipientId(subject_key_identifier=ber.octets(rid_node))
        expected_version = 2
    else:
        rid = parse_issuer_and_serial(rid_node)
        expected_version = 0
    if version != expected_version:
        raise ber.malformed("KeyTransRecipientInfo version does not match its identifier", "接收者版本号错误")
    algorithm, _ = alg.split_algorithm(fields[2], "key encryption algorithm")
    encrypted_key = ber.octets(ber.expect(fields[3], ber.UNIVERSAL, ber.OCTET_STRING, "encryptedKey"))
    try:
        transport: KeyTransport | None = alg.parse_key_transport(fields[2])
        problem = None
    except UnsupportedAlgorithmError as exc:
        transport, problem = None, exc.message()
    return EnvelopeRecipient(
        index,
        RecipientKind.KEY_TRANSPORT,
        rid,
        algorithm,
        encrypted_key,
        key_transport=transport,
        problem=problem,
    )
