"""CMS SignedData (RFC 5652) over the manifest, made with a key source and checked without one.

The content is attached (the manifest bytes are inside). Signed attributes:
content-type, message-digest (SHA-256) and signing-time. The signer is
identified by issuer and serial number; its certificate is included. The
signature is made by :meth:`KeyEntry.sign` — on the UKey when the key is
there — so RSA PKCS#1 v1.5 or ECDSA, whatever the signing key is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bidcrypt import certs
from bidcrypt.errors import ManifestError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry


@dataclass(frozen=True)
class SignedContent:
    """A verified SignedData: the content, who signed it, and when they said they did."""

    content: bytes
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None


def sign(content: bytes, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """DER ContentInfo(SignedData) over *content*, signed by *entry*'s key."""
    certificate = certs.to_asn1(entry.certificate)
    public_key = entry.certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        algorithm = "sha256_rsa"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        algorithm = "sha256_ecdsa"
    else:
        raise ManifestError(Text("the signing key is neither RSA nor EC", "签名密钥不是 RSA 或 EC"))
    moment = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    signed_attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": moment})]}),
        ]
    )
    signature = entry.sign(signed_attributes.dump(), "sha256")
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": certificate.issuer,
                            "serial_number": certificate.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def verify(der: bytes, content_type: str = "data") -> SignedContent:
    """Check the one signature of a SignedData and return what it covers.

    Checks the structure, the content type (``data`` for a manifest,
    ``tst_info`` for an RFC 3161 timestamp token), the message digest and the
    signature with the included signer certificate. Whether that certificate
    is trusted is the caller's question (see :mod:`bidcrypt.trust`).
    """
    try:
        return _verify(der, content_type)
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm) as exc:
        # Parsed lazily (asn1crypto, cryptography): a bad field or key may only show here.
        bad = Text("manifest signature invalid", "文件清单签名无效")
        raise ManifestError(f"{bad}: {Text('malformed', '结构错误')}") from exc


def _verify(der: bytes, content_type: str) -> SignedContent:
    bad = Text("manifest signature invalid", "文件清单签名无效")
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ManifestError(f"{bad}: not SignedData")
        signed_data = info["content"]
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != content_type:
            raise ManifestError(f"{bad}: {encapsulated['content_type'].native} is not {content_type}")
        content = encapsulated["content"].contents if encapsulated["content"] else None
        signer_infos = list(signed_data["signer_infos"])
        certificates = [
            x509.load_der_x509_certificate(c.chosen.dump())
            for c in signed_data["certificates"] or []
            if c.name == "certificate"
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise ManifestError(f"{bad}: {Text('malformed', '结构错误')}") from exc
    if not isinstance(content, bytes) or len(signer_infos) != 1:
        raise ManifestError(
            f"{bad}: {Text('expected one signer and attached content', '应有一个签名者和内含内容')}"
        )
    signer_info = signer_infos[0]
    signer = _find_signer(signer_info, certificates)
    if signer is None:
        raise ManifestError(f"{bad}: {Text('signer certificate missing', '缺少签名证书')}")
    attributes = signer_info["signed_attrs"]
    if not attributes:
        raise ManifestError(f"{bad}: {Text('no signed attributes', '缺少签名属性')}")
    values = {attribute["type"].native: attribute["values"][0].native for attribute in attributes}
    if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
        raise ManifestError(f"{bad}: {Text('digest must be SHA-256', '摘要算法须为 SHA-256')}")
    if (
        values.get("content_type") != content_type
        or values.get("message_digest") != hashlib.sha256(content).digest()
    ):
        raise ManifestError(f"{bad}: {Text('content does not match its digest', '内容与摘要不符')}")
    _check_signature(signer, signer_info, _as_set(attributes))
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


def _check_signature(signer: x509.Certificate, signer_info: cms.SignerInfo, signed: bytes) -> None:
    signature = signer_info["signature"].native
    public_key = signer.public_key()
    algorithm = signer_info["signature_algorithm"].signature_algo
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15":
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa":
            public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        else:
            raise ManifestError(
                Text(
                    "unsupported signature algorithm {algorithm}",
                    "不支持的签名算法 {algorithm}",
                    algorithm=algorithm,
                )
            )
    except InvalidSignature as exc:
        raise ManifestError(Text("manifest signature invalid", "文件清单签名无效")) from exc


def _as_set(attributes: cms.CMSAttributes) -> bytes:
    """The signed attributes as signed: their original contents under a SET tag (RFC 5652 5.4)."""
    return _der(0x31, attributes.contents)


def _der(tag: int, contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        return bytes([tag, length]) + contents
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + contents
