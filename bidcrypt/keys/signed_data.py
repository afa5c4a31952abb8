"""Checking a CMS SignedData (RFC 5652, GM/T 0010) with bidcrypt's signature schemes, SM2 included.

:func:`verify_signed_data` checks one signer's signature over attached
content and says which form verified:

- ``standard``: signed attributes with the content type and the message
  digest (SHA-256/384/512, or SM3 with SM2), and the signature over their DER
  by the scheme of the signer's key (:mod:`bidcrypt.keys.schemes`: for SM2,
  SM2 with SM3 with Z of the default distinguishing ID). An ESS
  signing-certificate(-v2) attribute must name the signer's certificate, and
  a CMS algorithm protection attribute (RFC 6211) must name the algorithms
  used.
- ``gmssl``: what ``gmssl cmssign`` writes: no signed attributes, and a raw
  SM2 signature over e = SM3(DER of the encapsulated contentInfo), with no Z
  (not SM2 with SM3 as GM/T 0009 defines it). Accepted only with
  ``allow_gmssl_form=True``.

Both the PKCS#7 content types and the GM/T 0010 ones are read: signedData
``1.2.840.113549.1.7.2`` or ``1.2.156.10197.6.1.4.2.2`` outside, data
``1.2.840.113549.1.7.1`` or ``1.2.156.10197.6.1.4.2.1`` inside; SM2 with SM3
is ``1.2.156.10197.1.501`` or ``1.2.156.10197.1.301.1``. Whether the signer's
certificate is trusted is the caller's question (:mod:`bidcrypt.trust`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from bidcrypt import certs, gm
from bidcrypt.errors import BidcryptError, CertificateError, ManifestError
from bidcrypt.i18n import Text
from bidcrypt.keys.schemes import HASHES, scheme_named

#: Which form a SignedData verified in.
SignedDataForm = Literal["standard", "gmssl"]
#: The outer content types read as SignedData: PKCS#7's and GM/T 0010's.
SIGNED_DATA_TYPES = frozenset({"1.2.840.113549.1.7.2", gm.oids.GM_SIGNED_DATA})
#: Encapsulated content types that mean "data", by their OID: PKCS#7's and GM/T 0010's.
DATA_TYPES = frozenset({"1.2.840.113549.1.7.1", gm.oids.GM_DATA})
#: The refusal of a signature, before its reason (the caller may name which signature it is).
SIGNATURE_INVALID = Text("signature invalid", "签名无效")
#: What malformed ASN.1, an unreadable key or certificate, or a bad SM2 input raises below.
_MALFORMED = (*certs.UNREADABLE, KeyError, UnsupportedAlgorithm, gm.Sm2Error, CertificateError)


@dataclass(frozen=True)
class VerifiedSignedData:
    """A SignedData whose signature verified: the content, its signer, and the form that verified."""

    content: bytes
    content_type: str
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None
    digest_algorithm: str
    form: SignedDataForm


class _RefusalError(Exception):
    def __init__(self, why: Text | str) -> None:
        self.why = why


def content_type_name(oid: core.ObjectIdentifier) -> str:
    """asn1crypto's name of a content type, ``data`` for GM data too (the dotted OID when unnamed)."""
    return "data" if oid.dotted in DATA_TYPES else str(oid.native)


def read_signed_data(der: bytes) -> cms.SignedData:
    """The SignedData of a DER ContentInfo whose type is PKCS#7's or GM/T 0010's signedData.

    Raises :class:`ValueError` for anything else.
    """
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted not in SIGNED_DATA_TYPES:
        raise ValueError(f"{info['content_type'].dotted} is not SignedData")
    content = info["content"]
    if isinstance(content, cms.SignedData):
        return content
    if not isinstance(content, core.Any):
        raise ValueError("no SignedData inside")
    # GM/T 0010's type is not one of asn1crypto's: its [0] EXPLICIT content is read as SignedData here
    parsed = content.parse(cms.SignedData)
    assert isinstance(parsed, cms.SignedData)
    return parsed


def verify_signed_data(
    der: bytes,
    *,
    content_type: str = "data",
    allow_gmssl_form: bool = False,
    error: type[BidcryptError] = ManifestError,
    what: Text = SIGNATURE_INVALID,
    signing_digest_only: bool = False,
) -> VerifiedSignedData:
    """Check the one signature of a SignedData over its attached content; see the module's docstring.

    *content_type* is asn1crypto's name of the encapsulated type (GM data
    is ``data``). Every refusal is *error* (the caller's: the package's
    :class:`~bidcrypt.errors.ManifestError` by default) whose detail is
    *what* (which signature is refused) and the reason, for malformed input
    as for a bad signature. With *signing_digest_only*, the digest must be
    the one bidcrypt signs with (``SignatureScheme.signing_hash``).
    """
    try:
        return _verify(der, content_type, allow_gmssl_form, signing_digest_only)
    except _RefusalError as refused:
        raise error(_detail(what, refused.why)) from None
    except _MALFORMED as exc:
        raise error(_detail(what, Text("malformed", "结构错误"))) from exc


def _detail(what: Text, why: Text | str) -> Text:
    return Text("{what}: {why}", "{what}：{why}", what=what, why=why)


def _verify(
    der: bytes, content_type: str, allow_gmssl_form: bool, signing_digest_only: bool
) -> VerifiedSignedData:
    signed_data = read_signed_data(der)
    encapsulated = signed_data["encap_content_info"]
    found_type = content_type_name(encapsulated["content_type"])
    if found_type != content_type:
        raise _RefusalError(
            Text("{found} is not {wanted}", "{found} 不是 {wanted}", found=found_type, wanted=content_type)
        )
    payload = _content_bytes(encapsulated["content"])
    signer_infos = list(signed_data["signer_infos"])
    if payload is None or len(signer_infos) != 1:
        raise _RefusalError(Text("expected one signer and attached content", "应有一个签名者和内含内容"))
    found = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"]
    certificates = tuple(certs.from_der(c.dump()) for c in found)
    signer_info = signer_infos[0]
    signer = _find_signer(signer_info, certificates)
    public_key = certs.public_key(signer)
    scheme = scheme_named(signer_info["signature_algorithm"])
    if scheme is None or not scheme.owns(public_key):
        name = scheme.name if scheme is not None else signer_info["signature_algorithm"]["algorithm"].native
        raise _RefusalError(
            Text("unsupported signature algorithm {name}", "不支持的签名算法 {name}", name=name)
        )
    hash_name = str(signer_info["digest_algorithm"]["algorithm"].native)
    if hash_name not in HASHES or (scheme.fixed_hash is not None and hash_name != scheme.fixed_hash):
        raise _RefusalError(
            Text("digest {name} does not go with the signature", "摘要算法 {name} 与签名不符", name=hash_name)
        )
    if signing_digest_only and hash_name != scheme.signing_hash:
        raise _RefusalError(
            Text("digest must be {hash}", "摘要算法须为 {hash}", hash=scheme.signing_hash.upper())
        )
    attributes = signer_info["signed_attrs"]
    # The bytes the signature covers: the attributes as received, retagged as a SET OF (RFC 5652
    # 5.4), taken before anything reads them (asn1crypto re-encodes what reading normalised: slower,
    # and not always the bytes that were signed).
    encoded = attributes.dump() if attributes else b""
    signature = signer_info["signature"].native

    def verified(form: SignedDataForm, signing_time: dt.datetime | None = None) -> VerifiedSignedData:
        return VerifiedSignedData(payload, found_type, signer, certificates, signing_time, hash_name, form)

    if not attributes:
        if not allow_gmssl_form:
            raise _RefusalError(
                Text(
                    "no signed attributes (GmSSL's form, not accepted here)",
                    "缺少签名属性（GmSSL 格式，此处不接受）",
                )
            )
        if not isinstance(public_key, gm.Sm2PublicKey):
            raise _RefusalError(Text("no signed attributes", "缺少签名属性"))
        try:
            public_key.verify_digest(signature, gm.sm3(encapsulated.dump()))
        except InvalidSignature:
            raise _RefusalError(Text("the signature does not verify", "签名验证未通过")) from None
        return verified("gmssl")
    if encoded[:1] != b"\xa0":
        raise _RefusalError(Text("malformed", "结构错误"))
    values = _attribute_values(attributes)
    digest = _digest(hash_name, payload)
    if (
        values.get("content_type") != encapsulated["content_type"].dotted
        or values.get("message_digest") != digest
    ):
        raise _RefusalError(Text("content does not match its digest", "内容与摘要不符"))
    _check_protection(values.get("cms_algorithm_protection"), signer_info)
    _check_ess(values, signer)
    try:
        scheme.verify(public_key, signature, b"\x31" + encoded[1:], hash_name)
    except InvalidSignature:
        raise _RefusalError(Text("the signature does not verify", "签名验证未通过")) from None
    signing_time = getattr(values.get("signing_time"), "native", None)
    moment = signing_time if isinstance(signing_time, dt.datetime) else None
    return verified("standard", moment)


def _content_bytes(content: core.Asn1Value) -> bytes | None:
    """The attached content's octets (asn1crypto reads GM data as Any); None when absent."""
    if isinstance(content, core.OctetString | core.ParsableOctetString):
        return bytes(content)
    if isinstance(content, core.Any):
        octets = content.parse(core.OctetString)
        assert isinstance(octets, core.OctetString)
        return bytes(octets)
    return None


def _attribute_values(attributes: cms.CMSAttributes) -> dict[str, object]:
    """Each attribute's single value, by name (content type by its dotted OID); duplicates refused.

    An attribute with no value counts as absent (the content type and message digest are then
    missing, and refused as not matching)."""
    values: dict[str, object] = {}
    for attribute in attributes:
        name = attribute["type"].native
        if not len(attribute["values"]) and name not in values:
            continue
        if name in values or len(attribute["values"]) != 1:
            raise _RefusalError(Text("attribute {name} repeated", "属性 {name} 重复", name=name))
        value = attribute["values"][0]
        values[name] = (
            value.dotted if name == "content_type" else value.native if name == "message_digest" else value
        )
    return values


def _digest(hash_name: str, data: bytes) -> bytes:
    digest = hashes.Hash(HASHES[hash_name]())
    digest.update(data)
    return digest.finalize()


def _check_protection(protection: object, signer_info: cms.SignerInfo) -> None:
    """RFC 6211: the protected algorithms are the ones used (absent and NULL parameters alike)."""
    if protection is None:
        return
    assert isinstance(protection, cms.CMSAlgorithmProtection)
    if (
        protection["digest_algorithm"].native != signer_info["digest_algorithm"].native
        or protection["signature_algorithm"].native != signer_info["signature_algorithm"].native
    ):
        raise _RefusalError(Text("algorithm protection disagrees", "算法保护属性不符"))


def _check_ess(values: dict[str, object], signer: x509.Certificate) -> None:
    """An ESS signing-certificate attribute names the signer's certificate (its first ESSCertID):
    its hash, and its issuer and serial number when the ESSCertID gives them."""
    der = signer.public_bytes(serialization.Encoding.DER)
    for name, default in (("signing_certificate_v2", "sha256"), ("signing_certificate", "sha1")):
        attribute = values.get(name)
        if attribute is None:
            continue
        ids = attribute["certs"]  # type: ignore[index]
        if not ids:
            raise _RefusalError(Text("empty signing certificate attribute", "签名证书属性为空"))
        first = ids[0]
        algorithm = first["hash_algorithm"]["algorithm"].native if name.endswith("v2") else default
        if algorithm not in HASHES and algorithm != "sha1":
            raise _RefusalError(
                Text("signing certificate hash {name} unknown", "签名证书摘要 {name} 未知", name=algorithm)
            )
        wanted = hashlib.sha1(der).digest() if algorithm == "sha1" else _digest(algorithm, der)  # noqa: S324
        issuer_serial = first["issuer_serial"]
        if first["cert_hash"].native != wanted or (
            issuer_serial and not _names_signer(issuer_serial, signer)
        ):
            raise _RefusalError(
                Text(
                    "the signing certificate attribute names another certificate", "签名证书属性指向其他证书"
                )
            )


def _names_signer(issuer_serial: tsp.IssuerSerial, signer: x509.Certificate) -> bool:
    """Whether an ESS IssuerSerial names *signer*: one directory name, its issuer, and its serial."""
    names = issuer_serial["issuer"]
    if len(names) != 1 or names[0].name != "directory_name":
        return False
    if issuer_serial["serial_number"].dump() != core.Integer(signer.serial_number).dump():
        return False
    issuer = names[0].chosen
    if issuer.untag().dump() == signer.issuer.public_bytes():
        return True
    # Names that differ in their bytes may still match under RFC 5280's comparison rules.
    return bool(issuer.untag() == certs.to_asn1(signer)["tbs_certificate"]["issuer"])


def find_signer_certificate(
    signer_info: cms.SignerInfo, certificates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The certificate a SignerInfo names (by issuer and serial, or by key identifier), or None.

    A certificate without a subject key identifier extension is named by the
    identifier of its key (RFC 5280 method 1).
    """
    sid = signer_info["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer.public_bytes() == wanted["issuer"].dump()
            ):
                return certificate
        elif certs.subject_key_identifier(certificate) == sid.chosen.native:
            return certificate
    return None


def _find_signer(signer_info: cms.SignerInfo, certificates: tuple[x509.Certificate, ...]) -> x509.Certificate:
    found = find_signer_certificate(signer_info, certificates)
    if found is None:
        raise _RefusalError(Text("signer certificate missing", "缺少签名证书"))
    return found


__all__ = [
    "DATA_TYPES",
    "SIGNATURE_INVALID",
    "SIGNED_DATA_TYPES",
    "SignedDataForm",
    "VerifiedSignedData",
    "content_type_name",
    "find_signer_certificate",
    "read_signed_data",
    "verify_signed_data",
]
