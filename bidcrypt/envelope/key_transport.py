"""RSA key transport (KeyTransRecipientInfo, RFC 5652 section 6.2.1): wrapping and reading.

The content key is encrypted to the recipient's RSA public key with OAEP
or PKCS#1 v1.5 (:class:`~bidcrypt.envelope.algorithms.KeyTransport`); the
private-key side is a key source's (:mod:`bidcrypt.envelope.unwrapping`).
Encoded and decoded with asn1crypto's CMS schema.
"""

from __future__ import annotations

from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientKind,
    parse_issuer_and_serial,
    unsupported,
)
from bidcrypt.errors import UnsupportedAlgorithmError


def key_transport_info(
    rid: RecipientId, public_key: rsa.RSAPublicKey, transport: KeyTransport, content_key: bytes
) -> bytes:
    """The DER KeyTransRecipientInfo carrying *content_key* for *public_key*."""
    if rid.subject_key_identifier is not None:
        version, identifier = 2, {"subject_key_identifier": rid.subject_key_identifier}
    else:
        version, identifier = 0, {"issuer_and_serial_number": rid.issuer_and_serial()}
    value = cms.KeyTransRecipientInfo(
        {
            "version": version,
            "rid": identifier,
            "key_encryption_algorithm": cms.KeyEncryptionAlgorithm.load(alg.encode_key_transport(transport)),
            "encrypted_key": public_key.encrypt(content_key, transport.padding()),
        }
    )
    return bytes(value.dump())


def parse_key_transport_info(index: int, encoded: bytes) -> EnvelopeRecipient:
    """The recipient of the KeyTransRecipientInfo *encoded* (at *index* in the set)."""
    what = "KeyTransRecipientInfo"
    info = _asn1.load(cms.KeyTransRecipientInfo, encoded, what)
    with _asn1.parsing(what):
        version = int(info["version"])
        rid_choice = info["rid"]
        if rid_choice.name == "subject_key_identifier":
            rid = RecipientId(subject_key_identifier=bytes(rid_choice.chosen.native))
            expected_version = 2
        else:
            rid = parse_issuer_and_serial(rid_choice.chosen)
            expected_version = 0
        algorithm_der = bytes(info["key_encryption_algorithm"].dump())
        algorithm = info["key_encryption_algorithm"]["algorithm"].dotted
        encrypted_key = bytes(info["encrypted_key"].native)
    if version != expected_version:
        raise ber.malformed("KeyTransRecipientInfo version does not match its identifier", "接收者版本号错误")
    transport: KeyTransport | None = None
    problem = problem_algorithm = None
    try:
        transport = alg.parse_key_transport(algorithm_der)
    except UnsupportedAlgorithmError as exc:
        problem, problem_algorithm = unsupported(exc)
    return EnvelopeRecipient(
        index,
        RecipientKind.KEY_TRANSPORT,
        rid,
        algorithm,
        encrypted_key,
        key_transport=transport,
        problem=problem,
        problem_algorithm=problem_algorithm,
    )
