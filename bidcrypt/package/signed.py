"""CMS SignedData (RFC 5652) over the manifest, made with a key source and checked without one.

The content is attached (the manifest bytes are inside). It is signed through
bidcrypt's one SignedData path (:mod:`bidcrypt.keys.pyhanko_signer`: pyHanko
builds it, :meth:`KeyEntry.sign` signs — on the UKey when the key is there —
so RSA PKCS#1 v1.5, ECDSA or SM2 with SM3, whatever the signing key is).
Signed attributes: content-type, message-digest (SHA-256; SM3 with an SM2
key), signing-time, the ESS
signing-certificate-v2 and CMS algorithm protection (RFC 6211). The signer is
identified by issuer and serial number; its certificate is included.

Checking requires exactly one signer, the attached content, SHA-256 (SM3 for SM2), the
signed content type and message digest, the signer's certificate inside, a
signature algorithm of one of bidcrypt's schemes for that certificate's key
(:mod:`bidcrypt.keys.schemes`), and the signature. As pyHanko's
``validate_sig_integrity`` does, it also refuses an ESS attribute naming
another certificate, an algorithm protection attribute that disagrees with
the algorithms used, and a content type or message digest given twice; it
makes these checks itself, with the schemes, which is several times faster
(no copy of the signer info, no RFC 5280 name comparison when the bytes
agree), and a bulk opening checks one manifest per bid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import cms, core, tsp
from asn1crypto.core import Asn1Value
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from bidcrypt import certs, gm
from bidcrypt.aio import run_sync
from bidcrypt.errors import CertificateError, ManifestError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, find_signer_certificate, hash_named, scheme_for_key, scheme_named

#: What malformed ASN.1 or a key that cannot be read raises in asn1crypto, cryptography, pyHanko and certs.
_MALFORMED = (ValueError, TypeError, KeyError, UnsupportedAlgorithm, CertificateError)


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

    scheme = scheme_for_key(certs.public_key(entry.certificate))
    if scheme is None:
        raise ManifestError(Text("the signing key is neither RSA, EC nor SM2", "签名密钥不是 RSA、EC 或 SM2"))
    moment = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return await async_sign_data(content, entry, signing_time=moment, hash_name=_hash_name(entry.certificate))


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
        certificates = [certs.from_der(c.dump()) for c in found]
    except (*certs.UNREADABLE, KeyError) as exc:
        raise _invalid(Text("malformed", "结构错误")) from exc
    if not isinstance(content, bytes) or len(signer_infos) != 1:
        raise _invalid(Text("expected one signer and attached content", "应有一个签名者和内含内容"))
    signer_info = signer_infos[0]
    signer = find_signer_certificate(signer_info, certificates)
    if signer is None:
        raise _invalid(Text("signer certificate missing", "缺少签名证书"))
    attributes = signer_info["signed_attrs"]
    if not attributes:
        raise _invalid(Text("no signed attributes", "缺少签名属性"))
    # The bytes the signature covers: the attributes as received, retagged as a SET OF (RFC 5652 5.4),
    # taken before anything below reads the attributes.
    encoded = attributes.dump()
    if encoded[:1] != b"\xa0":
        raise _invalid(Text("malformed", "结构错误"))
    signed_bytes = b"\x31" + encoded[1:]
    values = _values_by_type(attributes)
    hash_name = _hash_name(signer)
    if signer_info["digest_algorithm"]["algorithm"].native != hash_name:
        raise _invalid(Text("digest must be {hash}", "摘要算法须为 {hash}", hash=hash_name.upper()))
    digest = gm.sm3(content) if hash_name == "sm3" else hashlib.sha256(content).digest()
    if _first(values, "content_type") != content_type or _first(values, "message_digest") != digest:
        raise _invalid(Text("content does not match its digest", "内容与摘要不符"))
    _check_signature(signer, signer_info, values, content_type, digest, signed_bytes)
    signing_time = _first(values, "signing_time")
    return SignedContent(
        content=content,
        signer=signer,
        certificates=tuple(certificates),
        signing_time=signing_time if isinstance(signing_time, dt.datetime) else None,
    )


def _hash_name(certificate: x509.Certificate) -> str:
    """The manifest's digest for this signer: SHA-256, or SM3 for a scheme that fixes it (SM2)."""
    scheme = scheme_for_key(certs.public_key(certificate))
    return (scheme.fixed_hash if scheme is not None else None) or "sha256"


#: The values of each type of signed attribute, parsed when asked for (``_first``, ``_unique``).
_Values = dict[str, list[list[Asn1Value]]]


def _values_by_type(attributes: cms.CMSAttributes) -> _Values:
    """Each attribute type's occurrences (in order), each a list of its values."""
    found: _Values = {}
    for attribute in attributes:
        found.setdefault(attribute["type"].native, []).append(list(attribute["values"]))
    return found


def _first(values: _Values, name: str) -> object:
    """The first value of the last attribute of type *name* (None when there is none)."""
    occurrences = values.get(name)
    if not occurrences or not occurrences[-1]:
        return None
    return occurrences[-1][0].native


def _unique(values: _Values, name: str) -> Asn1Value | None:
    """The one value of the attribute type *name*, None when absent; two or more refuse the signature."""
    found = [value for occurrence in values.get(name, []) for value in occurrence]
    if len(found) > 1:
        raise _invalid()
    return found[0] if found else None


def _check_signature(
    signer: x509.Certificate,
    signer_info: cms.SignerInfo,
    values: _Values,
    content_type: str,
    digest: bytes,
    signed_bytes: bytes,
) -> None:
    """The signed attributes and the signature over them, checked with bidcrypt's schemes.

    The checks are those of pyHanko's ``validate_sig_integrity``: the CMS
    algorithm protection attribute (RFC 6211) agrees with the algorithms
    used, an ESS signing-certificate(-v2) attribute names the signer's
    certificate, there is exactly one content type (the expected one) and one
    message digest (the content's), and the signature verifies.
    """
    algorithm = signer_info["signature_algorithm"]
    scheme = scheme_named(algorithm)
    try:
        public_key = certs.public_key(signer)
    except CertificateError as exc:  # a key neither cryptography nor bidcrypt.gm can read
        raise _invalid(Text("malformed", "结构错误")) from exc
    if scheme is None or not scheme.owns(public_key):
        name = scheme.name if scheme is not None else algorithm["algorithm"].native
        raise ManifestError(
            Text("unsupported signature algorithm {name}", "不支持的签名算法 {name}", name=name)
        )
    digest_algorithm = signer_info["digest_algorithm"]
    protection = _unique(values, "cms_algorithm_protection")
    if protection is not None and (
        protection["digest_algorithm"].native != digest_algorithm.native
        or protection["signature_algorithm"].native is None
        or protection["signature_algorithm"].native != algorithm.native
    ):
        raise _invalid()
    _check_signing_certificate(signer, values)
    if _native(_unique(values, "content_type")) != content_type:
        raise _invalid()
    if _native(_unique(values, "message_digest")) != digest:
        raise _invalid()
    hash_name = hash_named(algorithm, digest_algorithm["algorithm"].native)
    if hash_name is None:
        raise _invalid()
    try:
        scheme.verify(public_key, signer_info["signature"].native, signed_bytes, hash_name)
    except InvalidSignature as exc:
        raise _invalid() from exc


def _native(value: Asn1Value | None) -> object:
    return None if value is None else value.native


def _check_signing_certificate(signer: x509.Certificate, values: _Values) -> None:
    """An ESS signing-certificate-v2 (else -v1) attribute, when there is one, must name *signer*."""
    found = _unique(values, "signing_certificate_v2")
    hash_name = "sha1"
    if found is None:
        found = _unique(values, "signing_certificate")
    if found is None:
        return
    identifiers = found["certs"]
    if not len(identifiers):
        raise _invalid()
    identifier = identifiers[0]
    if isinstance(identifier, tsp.ESSCertIDv2):
        hash_name = str(identifier["hash_algorithm"]["algorithm"].native)
    if identifier["cert_hash"].native != _certificate_hash(signer, hash_name):
        raise _invalid()
    issuer_serial = identifier["issuer_serial"]
    if issuer_serial and not _names_signer(issuer_serial, signer):
        raise _invalid()


def _certificate_hash(signer: x509.Certificate, hash_name: str) -> bytes | None:
    """The certificate's hash with the algorithm *hash_name*, None for an unknown algorithm."""
    if hash_name.lower() in ("shake256", "shake256_len"):
        algorithm: hashes.HashAlgorithm = hashes.SHAKE256(digest_size=64)
    else:
        made = getattr(hashes, hash_name.upper(), None)
        if not (isinstance(made, type) and issubclass(made, hashes.HashAlgorithm)):
            return None
        try:
            algorithm = made()
        except TypeError:  # one that needs parameters
            return None
    hasher = hashes.Hash(algorithm)
    hasher.update(signer.public_bytes(serialization.Encoding.DER))
    return hasher.finalize()


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
