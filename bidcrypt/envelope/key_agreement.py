"""Ephemeral-static ECDH (KeyAgreeRecipientInfo, RFC 5753): wrapping and reading.

An ephemeral key pair is agreed with the recipient's EC key, the X9.63 KDF
(over the ECC-CMS-SharedInfo) makes the key-encryption key, and AES key
wrap (RFC 3394) wraps the content key. Only the ECDH itself is a key
source's (:mod:`bidcrypt.envelope.unwrapping`). Encoded and decoded with
asn1crypto's CMS and key schemas.
"""

from __future__ import annotations

import os

from asn1crypto import cms, core, keys
from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientKind,
    parse_issuer_and_serial,
    unsupported,
)
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.i18n import Text

#: Length of the random user keying material (ukm) of each EC recipient bidcrypt writes.
UKM_LENGTH = 64


def key_agreement_info(rid: RecipientId, public_key: ec.EllipticCurvePublicKey, content_key: bytes) -> bytes:
    """The DER KeyAgreeRecipientInfo carrying *content_key* for *public_key* (a fresh ephemeral key)."""
    curve = alg.curve_of(public_key)
    assert curve is not None
    scheme = alg.KEY_AGREEMENT_SCHEMES[curve.scheme_oid]
    wrap_oid = alg.key_wrap_for(len(content_key))
    key_wrap = alg.key_wrap_algorithm(wrap_oid)
    ephemeral = ec.generate_private_key(curve.curve())
    shared = ephemeral.exchange(ec.ECDH(), public_key)
    # A fresh ukm per recipient (RFC 5753 allows one; it goes into the KDF's entityUInfo): PKI.js
    # opens the envelope only with one (without, it feeds the KDF an empty entityUInfo, its issue 335).
    ukm = os.urandom(UKM_LENGTH)
    kek = derive_kek(scheme, shared, key_wrap, ukm, alg.KEY_WRAPS[wrap_oid])
    wrapped = keywrap.aes_key_wrap(kek, content_key)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    if rid.subject_key_identifier is not None:
        identifier = {"r_key_id": {"subject_key_identifier": rid.subject_key_identifier}}
    else:
        identifier = {"issuer_and_serial_number": rid.issuer_and_serial()}
    info = cms.KeyAgreeRecipientInfo(
        {
            "version": 3,
            "originator": {
                "originator_key": {"algorithm": {"algorithm": alg.EC_PUBLIC_KEY}, "public_key": point}
            },
            "ukm": ukm,
            "key_encryption_algorithm": {
                "algorithm": scheme.oid,
                "parameters": cms.KeyEncryptionAlgorithm.load(key_wrap),
            },
            "recipient_encrypted_keys": [{"rid": identifier, "encrypted_key": wrapped}],
        }
    )
    return bytes(cms.RecipientInfo({"kari": info}).dump())


def derive_kek(
    scheme: alg.KeyAgreementScheme, shared: bytes, key_wrap: bytes, ukm: bytes | None, size: int
) -> bytes:
    """The key-encryption key: the X9.63 KDF of the shared secret over the ECC-CMS-SharedInfo."""
    shared_info = alg.ecc_cms_shared_info(key_wrap, ukm, size)
    return X963KDF(algorithm=scheme.hash(), length=size, sharedinfo=shared_info).derive(shared)


def parse_key_agreement_info(index: int, encoded: bytes) -> list[EnvelopeRecipient]:
    """The recipients of the KeyAgreeRecipientInfo *encoded* (``[1]``-tagged, at *index* in the set).

    One per RecipientEncryptedKey. A recipient bidcrypt cannot open (a
    static originator key, an explicit curve, an unknown scheme or key
    wrap) is returned with its ``problem``, saying what is supported.
    """
    what = "KeyAgreeRecipientInfo"
    choice = _asn1.load(cms.RecipientInfo, encoded, what)
    problem: str | Text | None = None
    problem_algorithm: str | Text | None = None
    point: bytes | None = None
    curve: str | None = None
    key_wrap: bytes | None = None
    key_wrap_oid: str | None = None
    with _asn1.parsing(what):
        info = choice.chosen
        if int(info["version"]) != 3:
            raise ber.malformed(
                Text("KeyAgreeRecipientInfo version is not 3", "KeyAgreeRecipientInfo 版本号错误")
            )
        ukm = None if isinstance(info["ukm"], core.Void) else bytes(info["ukm"].native)
        algorithm = info["key_encryption_algorithm"]["algorithm"].dotted
        parameters = info["key_encryption_algorithm"]["parameters"]
        originator = info["originator"]
        try:
            if originator.name != "originator_key":
                raise UnsupportedAlgorithmError(
                    Text("only ephemeral originator keys are supported", "只支持临时发送方密钥"),
                    algorithm=Text("a static originator key", "静态发送方密钥"),
                )
            point, curve = _originator_key(originator.chosen)
            if algorithm not in alg.KEY_AGREEMENT_SCHEMES:
                raise UnsupportedAlgorithmError(_supported_schemes(), algorithm=alg.name_of(algorithm))
        except UnsupportedAlgorithmError as exc:
            problem, problem_algorithm = unsupported(exc)
        if algorithm in alg.KEY_AGREEMENT_SCHEMES:
            key_wrap, key_wrap_oid = _key_wrap(parameters)
            if key_wrap_oid not in alg.KEY_WRAPS:
                problem, problem_algorithm = _supported_wraps(), alg.name_of(key_wrap_oid)
        encrypted_keys = info["recipient_encrypted_keys"]
        if not len(encrypted_keys):
            raise ber.malformed(Text("no recipientEncryptedKeys", "缺少 recipientEncryptedKeys"))
        found = []
        for entry in encrypted_keys:
            rid_choice = entry["rid"]
            if rid_choice.name == "r_key_id":
                rid = RecipientId(
                    subject_key_identifier=bytes(rid_choice.chosen["subject_key_identifier"].native)
                )
            else:
                rid = parse_issuer_and_serial(rid_choice.chosen)
            found.append(
                EnvelopeRecipient(
                    index,
                    RecipientKind.KEY_AGREEMENT,
                    rid,
                    algorithm,
                    bytes(entry["encrypted_key"].native),
                    originator_point=point,
                    originator_curve=curve,
                    ukm=ukm,
                    key_wrap=key_wrap,
                    key_wrap_oid=key_wrap_oid,
                    problem=problem,
                    problem_algorithm=problem_algorithm,
                )
            )
    return found


def _supported_schemes() -> Text:
    return Text(
        "supported: the dhSinglePass stdDH and cofactorDH schemes of RFC 5753 (X9.63 KDF, SHA-1 to SHA-512)",
        "支持：RFC 5753 的 dhSinglePass stdDH 与 cofactorDH 方案（X9.63 KDF，SHA-1 至 SHA-512）",
    )


def _supported_wraps() -> Text:
    wraps = ", ".join(alg.name_of(oid) for oid in alg.KEY_WRAPS)
    return Text("supported: {wraps}", "支持：{wraps}", wraps=wraps)


def _key_wrap(parameters: core.Asn1Value) -> tuple[bytes, str]:
    """The key wrap AlgorithmIdentifier (DER) in the scheme's parameters, and its OID."""
    if isinstance(parameters, core.Void):
        raise ber.malformed(Text("key wrap algorithm missing", "缺少密钥包装算法"))
    key_wrap = bytes(parameters.dump())
    value = _asn1.load(cms.KeyEncryptionAlgorithm, key_wrap, "key wrap algorithm")
    oid = value["algorithm"].dotted
    wrap_parameters = value["parameters"]
    if oid in alg.KEY_WRAPS and not (
        isinstance(wrap_parameters, core.Void) or wrap_parameters.dump() == b"\x05\x00"
    ):
        name = alg.name_of(oid)
        raise ber.malformed(Text("unexpected parameters for {name}", "{name} 的参数错误", name=name))
    return key_wrap, oid


def _originator_key(key: keys.PublicKeyInfo) -> tuple[bytes, str | None]:
    """The ephemeral point and its named curve (None when absent) of an OriginatorPublicKey."""
    algorithm = key["algorithm"]["algorithm"].dotted
    if algorithm != alg.EC_PUBLIC_KEY:
        raise UnsupportedAlgorithmError(
            Text("supported: id-ecPublicKey", "支持：id-ecPublicKey"), algorithm=alg.name_of(algorithm)
        )
    parameters = key["algorithm"]["parameters"]
    curve: str | None = None
    if isinstance(parameters, keys.ECDomainParameters):
        if parameters.name == "specified":
            raise UnsupportedAlgorithmError(
                Text(
                    "the originator key must name its curve (RFC 5753 section 3.1.1)",
                    "发送方公钥必须用曲线名称标识曲线（RFC 5753 第 3.1.1 节）",
                ),
                algorithm=Text(
                    "id-ecPublicKey with explicit curve parameters", "显式曲线参数的 id-ecPublicKey"
                ),
            )
        if parameters.name == "named":
            curve = parameters.chosen.dotted
    bits = key["public_key"].contents
    if not bits or bits[0] != 0:
        raise ber.malformed(Text("bad originator public key", "发送方公钥格式错误"))
    return bytes(bits[1:]), curve
