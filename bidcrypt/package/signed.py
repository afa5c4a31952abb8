"""CMS SignedData (RFC 5652) over the manifest, made with a key source and checked without one.

The content is attached (the manifest bytes are inside). It is signed through
bidcrypt's one SignedData path (:mod:`bidcrypt.keys.pyhanko_signer`: pyHanko
builds it, :meth:`KeyEntry.sign` signs — on the UKey when the key is there —
so RSA PKCS#1 v1.5 or ECDSA, whatever the signing key is). Signed
attributes: content-type, message-digest (SHA-256), signing-time, the ESS
signing-certificate-v2 and CMS algorithm protection (RFC 6211). The signer is
identified by issuer and serial number; its certificate is included.

Checking requires exactly one signer, the attached content, SHA-256, the
signed content type and message digest, the signer's certificate inside, a
signature algorithm of one of bidcrypt's schemes for that certificate's key
(:mod:`bidcrypt.keys.schemes`), and the signature; pyHanko's integrity check
also refuses an ESS attribute naming another certificate and an algorithm
protection attribute that disagrees with the algorithms used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from bidcrypt import certs
from bidcrypt.aio import run_sync
from bidcrypt.errors import ManifestError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, scheme_for_key, scheme_named

#: What malformed ASN.1 or a key that cannot be read raises in asn1crypto, cryptography and pyHanko.
_MALFORMED = (ValueError, TypeError, KeyError, UnsupportedAlgorithm)


@dataclass(frozen=True)
class SignedContent:
    """A verified SignedData: the content, who signed it, and when they said they did."""

    content: bytes
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None


async def async_sign(content: bytes, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """DER ContentInfo(SignedData) over *content*, signed by *entry*'s key."""
    from bidcrypt.keys import async_sign_data

    if scheme_for_key(certs.public_key(entry.certificate)) is None:
        raise ManifestError(Text("the signing key is neither RSA nor EC", "签名密钥不是 RSA 或 EC"))
    moment = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return await async_sign_data(content, entry, signing_time=moment)


def sign(content: bytes, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """:func:`async_sign`, for synchronous callers."""
    return run_sync(async_sign(content, entry, signing_time))


def verify(der: bytes, content_type: str = "data") -> SignedContent:
    """Check the one signature of a SignedData and return what it covers.

    Checks the structure, the content type (``data`` for a manifest,
    ``tst_info`` for an RFC 3161 timestamp token), the message digest and the
    signature with the included signer certificate. Whether that certificate
    is trusted is the caller's question (see :mod:`bidcrypt.trust`).
    """
    try:
        return _verify(der, content_type)
    except _MALFORMED as exc:
        # Parsed lazily (asn1crypto, cryptography): a bad field or key may only show here.
        raise _invalid(Text("malformed", "结构错误")) from exc


_BAD = Text("manifest signature invalid", "文件清单签名无效")


def _invalid(why: str | Text | None = None) -> ManifestError:
    """The refusal of a manifest signature, saying *why* (rendered when shown)."""
    if why is None:
        return ManifestError(_BAD)
    return ManifestError(Text("{bad}: {why}", "{bad}：{why}", bad=_BAD, why=why))


def _verify(der: bytes, content_type: str) -> SignedContent:
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise _invalid("not SignedData")
        signed_data = info["content"]
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != content_type:
            raise _invalid(f"{encapsulated['content_type'].native} is not {content_type}")
        content = encapsulated["content"].contents if encapsulated["content"] else None
        signer_infos = list(signed_data["signer_infos"])
        found = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"]
        certificates = [x509.load_der_x509_certificate(c.dump()) for c in found]
    except (ValueError, TypeError, KeyError) as exc:
        raise _invalid(Text("malformed", "结构错误")) from exc
    if not isinstance(content, bytes) or len(signer_infos) != 1:
        raise _invalid(Text("expected one signer and attached content", "应有一个签名者和内含内容"))
    signer_info = signer_infos[0]
    signer = _find_signer(signer_info, certificates)
    if signer is None:
        raise _invalid(Text("signer certificate missing", "缺少签名证书"))
    attributes = signer_info["signed_attrs"]
    if not attributes:
        raise _invalid(Text("no signed attributes", "缺少签名属性"))
    values = {attribute["type"].native: attribute["values"][0].native for attribute in attributes}
    if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
        raise _invalid(Text("digest must be SHA-256", "摘要算法须为 SHA-256"))
    digest = hashlib.sha256(content).digest()
    if values.get("content_type") != content_type or values.get("message_digest") != digest:
        raise _invalid(Text("content does not match its digest", "内容与摘要不符"))
    _check_signature(signer, signer_info, content_type, digest)
    signing_time = values.get("signing_time")
    return SignedContent(
        content=content,
        signer=signer,
        certificates=tuple(certificates),
        signing_time=signing_time if isinstance(signing_time, dt.datetime) else None,
    )


def _find_signer(
    signer_info: cms.SignerInfo, certificates: list[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer.public_bytes() == wanted["issuer"].dump()
            ):
                return certificate
        else:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            if ski == sid.chosen.native:
                return certificate
    return None


def _check_signature(
    signer: x509.Certificate, signer_info: cms.SignerInfo, content_type: str, digest: bytes
) -> None:
    """The signature over the signed attributes, by pyHanko's integrity check with bidcrypt's schemes."""
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    from bidcrypt.keys import SchemeSignatureValidator

    algorithm = signer_info["signature_algorithm"]
    scheme = scheme_named(algorithm)
    if scheme is None or not scheme.owns(certs.public_key(signer)):
        name = scheme.name if scheme is not None else algorithm["algorithm"].native
        raise ManifestError(
            Text("unsupported signature algorithm {name}", "不支持的签名算法 {name}", name=name)
        )
    try:
        intact, valid = validate_sig_integrity(
            signer_info,
            certs.to_asn1(signer),
            expected_content_type=content_type,
            actual_digest=digest,
            sig_validator=SchemeSignatureValidator(),
        )
    except SignatureValidationError as exc:
        raise _invalid() from exc
    if not (intact and valid):
        raise _invalid()
