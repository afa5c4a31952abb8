"""RSA key transport (KeyTransRecipientInfo, RFC 5652 section 6.2.1): wrapping and reading.

A KeyTransRecipientInfo whose algorithm is SM2 encryption is read by
:mod:`~bidcrypt.envelope.sm2_transport`.

The content key is encrypted to the recipient's RSA public key with OAEP
or PKCS#1 v1.5 (:class:`~bidcrypt.envelope.algorithms.KeyTransport`); the
private-key side is a key source's (:mod:`bidcrypt.envelope.unwrapping`).
Encoded and decoded with asn1crypto's CMS schema.
"""

from __future__ import annotations

from asn1crypto import algos, cms, core
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
from bidcrypt.envelope.sm2_transport import SM2_KEY_ENCRYPTION_OIDS, parse_sm2_key_transport_info
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.i18n import Text

#: The OAEP hash of each OAEP key transport (the same for the digest and MGF1, the label empty).
_OAEP_HASHES = {
    KeyTransport.OAEP_SHA256: alg.SHA256,
    KeyTransport.OAEP_SHA1: alg.SHA1,
    KeyTransport.OAEP_SHA512: alg.SHA512,  # opened (PKI.js's default); written only when asked for
}


def _oaep_parameters(transport: KeyTransport) -> algos.RSAESOAEPParams:
    """RSAES-OAEP-params, made afresh (asn1crypto values are mutable)."""
    if transport is KeyTransport.OAEP_SHA1:
        return algos.RSAESOAEPParams.load(b"\x30\x00")  # every field at its default
    sha = _OAEP_HASHES[transport]
    return algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": sha, "parameters": None},
            "mask_gen_algorithm": {
                "algorithm": alg.MGF1,
                "parameters": {"algorithm": sha, "parameters": None},
            },
        }
    )


def encode_key_transport(transport: KeyTransport) -> bytes:
    """The DER KeyEncryptionAlgorithmIdentifier of an RSA key transport.

    PKCS#1 v1.5 is rsaEncryption with NULL parameters. OAEP-SHA1 is
    id-RSAES-OAEP with every field at its default (an empty SEQUENCE);
    OAEP-SHA256 names SHA-256 for the hash and for MGF1 (parameters absent),
    the label empty.
    """
    if transport is KeyTransport.PKCS1V15:
        value = cms.KeyEncryptionAlgorithm({"algorithm": alg.RSA_ENCRYPTION})
    else:
        value = cms.KeyEncryptionAlgorithm(
            {"algorithm": alg.RSAES_OAEP, "parameters": _oaep_parameters(transport)}
        )
    return bytes(value.dump())


def supported_key_transports() -> Text:
    """The RSA key transports bidcrypt opens, for messages."""
    transports = ", ".join(alg.describe_key_transport(t) for t in KeyTransport)
    return Text("supported: {transports}", "支持：{transports}", transports=transports)


def parse_key_transport(encoded: bytes) -> KeyTransport:
    """The RSA key transport named by a KeyEncryptionAlgorithmIdentifier (DER or BER).

    Strict: OAEP parameters must be present and name the same hash for the
    digest and MGF1 (SHA-1 or SHA-256) with an empty label; nothing falls
    back to PKCS#1 v1.5.
    """
    value = _asn1.load(cms.KeyEncryptionAlgorithm, encoded, "key encryption algorithm")
    algorithm = value["algorithm"].dotted
    if algorithm == alg.RSA_ENCRYPTION:
        return KeyTransport.PKCS1V15
    if algorithm != alg.RSAES_OAEP:
        raise UnsupportedAlgorithmError(supported_key_transports(), algorithm=alg.name_of(algorithm))
    parameters = value["parameters"]
    if isinstance(parameters, core.Void):
        raise ber.malformed(Text("RSAES-OAEP parameters missing", "缺少 RSAES-OAEP 参数"))
    with _asn1.parsing("RSAES-OAEP parameters"):
        hash_oid = parameters["hash_algorithm"]["algorithm"].dotted
        mgf, source = parameters["mask_gen_algorithm"], parameters["p_source_algorithm"]
        if mgf["algorithm"].dotted != alg.MGF1:
            raise UnsupportedAlgorithmError(
                supported_key_transports(), algorithm=f"RSAES-OAEP, {alg.name_of(mgf['algorithm'].dotted)}"
            )
        if isinstance(mgf["parameters"], core.Void):
            raise ber.malformed(Text("MGF1 hash missing", "缺少 MGF1 哈希算法"))
        mgf_hash = mgf["parameters"]["algorithm"].dotted
        if source["algorithm"].dotted != alg.P_SPECIFIED or isinstance(source["parameters"], core.Void):
            raise UnsupportedAlgorithmError(
                supported_key_transports(), algorithm=f"RSAES-OAEP, {alg.name_of(source['algorithm'].dotted)}"
            )
        label = bytes(source["parameters"].native)
    for transport, oid in _OAEP_HASHES.items():
        if hash_oid == oid and mgf_hash == oid and not label:
            return transport
    described = (
        f"RSAES-OAEP ({alg.name_of(hash_oid)}, MGF1 {alg.name_of(mgf_hash)}{', label' if label else ''})"
    )
    raise UnsupportedAlgorithmError(supported_key_transports(), algorithm=described)


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
            "key_encryption_algorithm": cms.KeyEncryptionAlgorithm.load(encode_key_transport(transport)),
            "encrypted_key": public_key.encrypt(content_key, transport.padding()),
        }
    )
    return bytes(value.dump())


def parse_key_transport_info(index: int, encoded: bytes) -> EnvelopeRecipient:
    """The recipient of the KeyTransRecipientInfo *encoded* (at *index* in the set)."""
    what = "KeyTransRecipientInfo"
    info = _asn1.load(cms.KeyTransRecipientInfo, encoded, what)
    with _asn1.parsing(what):
        sm2 = info["key_encryption_algorithm"]["algorithm"].dotted in SM2_KEY_ENCRYPTION_OIDS
    if sm2:
        return parse_sm2_key_transport_info(index, info)
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
        raise ber.malformed(
            Text("KeyTransRecipientInfo version does not match its identifier", "接收者版本号错误")
        )
    transport: KeyTransport | None = None
    problem: str | Text | None = None
    problem_algorithm: str | Text | None = None
    try:
        transport = parse_key_transport(algorithm_der)
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
