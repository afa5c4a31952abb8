"""Ephemeral-static ECDH (KeyAgreeRecipientInfo, RFC 5753): wrapping and reading.

An ephemeral key pair is agreed with the recipient's EC key, the X9.63 KDF
(over the ECC-CMS-SharedInfo) makes the key-encryption key, and AES key
wrap (RFC 3394) wraps the content key. Only the ECDH itself is a key
source's (:mod:`bidcrypt.envelope.unwrapping`).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientKind,
    parse_issuer_and_serial,
)
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.i18n import pick


def key_agreement_info(rid: RecipientId, public_key: ec.EllipticCurvePublicKey, content_key: bytes) -> bytes:
    """The DER KeyAgreeRecipientInfo carrying *content_key* for *public_key* (a fresh ephemeral key)."""
    curve = alg.curve_of(public_key)
    assert curve is not None
    scheme = alg.KEY_AGREEMENT_SCHEMES[curve.scheme_oid]
    wrap_oid = alg.key_wrap_for(len(content_key))
    key_wrap = der.algorithm(wrap_oid)
    ephemeral = ec.generate_private_key(curve.curve())
    shared = ephemeral.exchange(ec.ECDH(), public_key)
    kek = derive_kek(scheme, shared, key_wrap, None, alg.KEY_WRAPS[wrap_oid])
    wrapped = keywrap.aes_key_wrap(kek, content_key)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    originator = der.context(0, der.context(1, der.algorithm(alg.EC_PUBLIC_KEY) + der.bit_string(point)))
    if rid.subject_key_identifier is not None:
        rid_der = der.context(0, der.octet_string(rid.subject_key_identifier))
    else:
        rid_der = rid.encode_issuer_and_serial()
    encrypted_keys = der.sequence(der.sequence(rid_der, der.octet_string(wrapped)))
    return der.context(1, der.integer(3) + originator + der.algorithm(scheme.oid, key_wrap) + encrypted_keys)


def derive_kek(
    scheme: alg.KeyAgreementScheme, shared: bytes, key_wrap: bytes, ukm: bytes | None, size: int
) -> bytes:
    """The key-encryption key: the X9.63 KDF of the shared secret over the ECC-CMS-SharedInfo."""
    shared_info = alg.ecc_cms_shared_info(key_wrap, ukm, size)
    return X963KDF(algorithm=scheme.hash(), length=size, sharedinfo=shared_info).derive(shared)


def parse_key_agreement_info(index: int, info: ber.Node) -> list[EnvelopeRecipient]:
    """The recipients of a KeyAgreeRecipientInfo (at *index* in the set): one per RecipientEncryptedKey."""
    fields = list(info.children)
    if len(fields) not in (4, 5):
        raise ber.malformed("bad KeyAgreeRecipientInfo", "KeyAgreeRecipientInfo 格式错误")
    if ber.decode_integer(fields[0]) != 3:
        raise ber.malformed("KeyAgreeRecipientInfo version is not 3", "KeyAgreeRecipientInfo 版本号错误")
    originator = ber.expect(fields[1], ber.CONTEXT, 0, "originator", constructed=True)
    if len(originator.children) != 1:
        raise ber.malformed("bad originator", "发送方标识错误")
    ukm = None
    rest = fields[2:]
    if len(fields) == 5:
        ukm_node = ber.expect(fields[2], ber.CONTEXT, 1, "ukm", constructed=True)
        if len(ukm_node.children) != 1:
            raise ber.malformed("bad ukm", "ukm 错误")
        ukm = ber.octets(ber.expect(ukm_node.children[0], ber.UNIVERSAL, ber.OCTET_STRING, "ukm"))
        rest = fields[3:]
    algorithm, parameters = alg.split_algorithm(rest[0], "key agreement algorithm")
    keys_node = ber.expect(rest[1], ber.UNIVERSAL, ber.SEQUENCE, "recipientEncryptedKeys", constructed=True)

    problem: str | None = None
    point: bytes | None = None
    curve: str | None = None
    key_wrap: bytes | None = None
    key_wrap_oid: str | None = None
    chosen = originator.children[0]
    if chosen.is_(ber.CONTEXT, 1, constructed=True):
        try:
            point, curve = _parse_originator_key(chosen)
        except UnsupportedAlgorithmError as exc:
            problem = exc.message()
    else:
        problem = pick("static originator keys are not supported", "不支持静态发送方密钥")
    if algorithm not in alg.KEY_AGREEMENT_SCHEMES:
        problem = UnsupportedAlgorithmError(algorithm=alg.name_of(algorithm)).message()
    elif len(parameters) != 1:
        raise ber.malformed("key wrap algorithm missing", "缺少密钥包装算法")
    else:
        key_wrap = parameters[0].raw
        key_wrap_oid, wrap_parameters = alg.split_algorithm(parameters[0], "key wrap algorithm")
        if key_wrap_oid not in alg.KEY_WRAPS:
            problem = UnsupportedAlgorithmError(algorithm=alg.name_of(key_wrap_oid)).message()
        else:
            ber.decode_null_or_absent(wrap_parameters, alg.name_of(key_wrap_oid))

    found = []
    if not keys_node.children:
        raise ber.malformed("no recipientEncryptedKeys", "缺少 recipientEncryptedKeys")
    for entry in keys_node.children:
        ber.expect(entry, ber.UNIVERSAL, ber.SEQUENCE, "RecipientEncryptedKey", constructed=True)
        if len(entry.children) != 2:
            raise ber.malformed("bad RecipientEncryptedKey", "RecipientEncryptedKey 格式错误")
        rid_node = entry.children[0]
        if rid_node.is_(ber.CONTEXT, 0, constructed=True):
            if not 1 <= len(rid_node.children) <= 3:
                raise ber.malformed("bad RecipientKeyIdentifier", "RecipientKeyIdentifier 格式错误")
            ski = ber.octets(
                ber.expect(rid_node.children[0], ber.UNIVERSAL, ber.OCTET_STRING, "subjectKeyIdentifier")
            )
            rid = RecipientId(subject_key_identifier=ski)
        else:
            rid = parse_issuer_and_serial(rid_node)
        encrypted_key = ber.octets(
            ber.expect(entry.children[1], ber.UNIVERSAL, ber.OCTET_STRING, "encryptedKey")
        )
        found.append(
            EnvelopeRecipient(
                index,
                RecipientKind.KEY_AGREEMENT,
                rid,
                algorithm,
                encrypted_key,
                originator_point=point,
                originator_curve=curve,
                ukm=ukm,
                key_wrap=key_wrap,
                key_wrap_oid=key_wrap_oid,
                problem=problem,
            )
        )
    return found


def _parse_originator_key(node: ber.Node) -> tuple[bytes, str | None]:
    if len(node.children) != 2:
        raise ber.malformed("bad originator public key", "发送方公钥格式错误")
    algorithm, parameters = alg.split_algorithm(node.children[0], "originator key algorithm")
    if algorithm != alg.EC_PUBLIC_KEY:
        raise UnsupportedAlgorithmError(algorithm=alg.name_of(algorithm))
    curve: str | None = None
    if parameters and parameters[0].is_(ber.UNIVERSAL, ber.OID):
        curve = ber.decode_oid(parameters[0])
    else:
        ber.decode_null_or_absent(parameters, "id-ecPublicKey")
    bits = ber.expect(
        node.children[1], ber.UNIVERSAL, ber.BIT_STRING, "originator public key", constructed=False
    )
    if not bits.content or bits.content[0] != 0:
        raise ber.malformed("bad originator public key", "发送方公钥格式错误")
    return bits.content[1:], curve
