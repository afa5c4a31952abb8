"""RFC 3161 timestamp tokens: the answer of a timestamp authority (TSA), checked as the RFCs require.

A token is accepted only when all of these hold:

* the answer's status is *granted* (or *granted with modifications*) and it
  holds a token: a CMS SignedData with one signer over a TSTInfo;
* the TSTInfo is for our question: its message imprint is our SHA-256 (the
  algorithm too) and its nonce is ours;
* the signer's certificate is a TSA certificate (RFC 3161 §2.3): an extended
  key usage extension that is critical and holds id-kp-timeStamping alone,
  and a key usage, if any, of digitalSignature/nonRepudiation only;
* the signed attributes carry the ESS signing-certificate attribute (v1, or
  v2 as RFC 5816 allows), and it names that very certificate;
* the signature and the message digest verify, and the certificate is
  trusted: by a chain to the trust store, or by being the pinned TSA
  certificate.

The CMS and path checks are pyHanko's (its TST validation); the RFC 3161
§2.3 profile and the presence of the ESS attribute, which pyHanko does not
require, are checked here. Every failure is a :class:`TimestampError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from bidcrypt import certs
from bidcrypt.errors import TimestampError
from bidcrypt.i18n import Text

if TYPE_CHECKING:
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    from bidcrypt.trust import TrustStore

#: Status texts a TSA sends back are shown only this long, printable characters only.
MAX_STATUS_TEXT = 200

#: What malformed ASN.1 raises in asn1crypto, cryptography and pyHanko (an unknown digest OID
#: is an AttributeError there, a bad certificate version cryptography's InvalidVersion).
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, x509.InvalidVersion)


@dataclass(frozen=True)
class CheckedToken:
    """A token that passed every check: its DER, its time and the TSA certificate that signed it."""

    der: bytes
    time: dt.datetime
    signer: x509.Certificate


def parse_response(body: bytes, url: str = "-") -> tuple[cms.ContentInfo, tsp.TSTInfo]:
    """The token and its TSTInfo from a DER TimeStampResp whose status grants the request."""
    try:
        # asn1crypto requires the token, which a refusal does not carry: read the status on its own.
        status_info = tsp.PKIStatusInfo.load(core.Sequence.load(body, strict=True)[0].dump(), strict=True)
        status = status_info["status"].native
        if status not in ("granted", "granted_with_mods"):
            texts = "; ".join(status_info["status_string"].native or [])
            failures = ", ".join(status_info["fail_info"].native or [])
            said = _printable(" ".join(part for part in (texts, failures) if part))
            refused = Text("the request was refused ({status})", "请求被拒绝（{status}）", status=status)
            if said:
                refused = Text("{refused} {said}", "{refused}{said}", refused=refused, said=said)
            raise TimestampError(refused, url=url)
        token = tsp.TimeStampResp.load(body, strict=True)["time_stamp_token"]
        if not isinstance(token, cms.ContentInfo) or token["content_type"].native != "signed_data":
            raise TimestampError(Text("the answer holds no timestamp token", "应答中没有时间戳令牌"), url=url)
        encapsulated = token["content"]["encap_content_info"]
        info = encapsulated["content"].parsed if encapsulated["content_type"].native == "tst_info" else None
        if not isinstance(info, tsp.TSTInfo):
            raise TimestampError(Text("the token holds no TSTInfo", "令牌中没有 TSTInfo"), url=url)
        info.native  # noqa: B018 - parse every field now, so a malformed one is refused here
        return token, info
    except MALFORMED as exc:
        raise TimestampError(Text("the answer is malformed", "应答格式错误"), url=url) from exc


def check_request_match(info: tsp.TSTInfo, sha256: bytes, nonce: int, url: str = "-") -> None:
    """Refuse a TSTInfo that is not the answer to our request (imprint and nonce)."""
    imprint = info["message_imprint"]
    if (
        imprint["hash_algorithm"]["algorithm"].native != "sha256"
        or imprint["hashed_message"].native != sha256
    ):
        raise TimestampError(
            Text("the token timestamps other data than ours", "令牌所盖时间的数据与请求不符"), url=url
        )
    if info["nonce"].native != nonce:
        raise TimestampError(Text("the token's nonce is not ours", "令牌中的随机数与请求不符"), url=url)


def tsa_certificate_problem(certificate: x509.Certificate) -> Text | None:
    """Why *certificate* is not a TSA certificate under RFC 3161 §2.3, or None when it is."""
    name = certs.display_name(certificate)
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return Text(
            "the certificate {name} is not a timestamping certificate (no extended key usage)",
            "证书 {name} 不是时间戳证书（无扩展密钥用法）",
            name=name,
        )
    except ValueError:
        return Text(
            "the certificate {name} has malformed extensions", "证书 {name} 的扩展格式错误", name=name
        )
    if list(extension.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        return Text(
            "the certificate {name} is not a timestamping certificate: its extended key usage"
            " must be id-kp-timeStamping alone",
            "证书 {name} 不是时间戳证书：扩展密钥用法必须仅为 id-kp-timeStamping",
            name=name,
        )
    if not extension.critical:
        return Text(
            "the extended key usage of the TSA certificate {name} is not critical (RFC 3161 §2.3)",
            "时间戳证书 {name} 的扩展密钥用法未标记为关键（RFC 3161 §2.3）",
            name=name,
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    signing = usage.digital_signature or usage.content_commitment
    other = (
        usage.key_encipherment,
        usage.data_encipherment,
        usage.key_agreement,
        usage.key_cert_sign,
        usage.crl_sign,
    )
    if not signing or any(other):
        return Text(
            "the key usage of the TSA certificate {name} is not signing only",
            "时间戳证书 {name} 的密钥用法不是仅限签名",
            name=name,
        )
    return None


def signing_certificate_problem(signed_data: cms.SignedData) -> Text | None:
    """None when the token's one signer carries the ESS signing-certificate attribute (v1 or v2).

    RFC 3161 §2.4.1 (and RFC 5816 for v2) requires it; pyHanko checks that it
    names the signer's certificate when it is there.
    """
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        return Text("the token must have exactly one signer", "令牌必须恰有一个签名者")
    attributes = signer_infos[0]["signed_attrs"]
    types = [attribute["type"].native for attribute in attributes] if attributes else []
    found = [t for t in types if t in ("signing_certificate", "signing_certificate_v2")]
    if not found:
        return Text(
            "the token has no ESS signing-certificate attribute (RFC 3161 §2.4.1, RFC 5816)",
            "令牌缺少 ESS 签名证书属性（RFC 3161 §2.4.1、RFC 5816）",
        )
    if len(found) != len(set(found)):
        return Text("the token has its signing-certificate attribute twice", "令牌中的签名证书属性重复出现")
    return None


async def async_check_token(
    token: cms.ContentInfo,
    *,
    sha256: bytes,
    at: dt.datetime,
    trust: TrustStore | None = None,
    pinned: x509.Certificate | None = None,
    url: str = "-",
) -> CheckedToken:
    """Check a token for data whose digest is *sha256*, at time *at*; see the module text.

    With *pinned*, the token must be signed by exactly that certificate, which
    is then the trust anchor; otherwise the signer must chain to *trust*. One
    of the two is required.
    """
    from pyhanko.sign.general import extract_certificate_info
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    if trust is None and pinned is None:
        raise TimestampError(
            Text("no trust store and no pinned TSA certificate", "没有信任库，也没有固定的时间戳证书"),
            url=url,
        )
    try:
        signed_data = token["content"]
        problem = signing_certificate_problem(signed_data)
        signer = x509.load_der_x509_certificate(extract_certificate_info(signed_data).signer_cert.dump())
        problem = problem or tsa_certificate_problem(signer)
        if problem is None and pinned is not None and signer != pinned:
            problem = Text(
                "the token is signed by {signer}, not by the pinned TSA certificate",
                "令牌由 {signer} 签署，而非固定的时间戳证书",
                signer=certs.display_name(signer),
            )
        if problem is None and pinned is not None:
            problem = _validity_problem(pinned, at)
        if problem is not None:
            raise TimestampError(problem, url=url)
        context = _context(trust, pinned, at)
        status = TimestampSignatureStatus(
            **await validate_tst_signed_data(
                signed_data, context, lambda algorithm: sha256 if algorithm == "sha256" else b""
            )
        )
    except TimestampError:
        raise
    except MALFORMED as exc:
        raise TimestampError(_validation_failure(exc), url=url) from exc
    if not (status.intact and status.valid):
        raise TimestampError(Text("the token's signature does not verify", "令牌签名验证失败"), url=url)
    if not status.trusted:
        raise TimestampError(_validity_problem(signer, at) or _untrusted(signer, status), url=url)
    return CheckedToken(bytes(token.dump()), status.timestamp, signer)


def _context(trust: TrustStore | None, pinned: x509.Certificate | None, at: dt.datetime) -> ValidationContext:
    """The validation context: the pinned certificate as the only anchor, or the trust store."""
    from pyhanko_certvalidator import ValidationContext

    if pinned is None:
        assert trust is not None
        return trust.validation_context(at)
    return ValidationContext(
        trust_roots=[certs.to_asn1(pinned)],
        crls=list(trust.crls) if trust is not None else [],
        moment=at,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _validity_problem(certificate: x509.Certificate, at: dt.datetime) -> Text | None:
    """Why *certificate* is not valid at *at*, or None (a pinned anchor's dates are checked here)."""
    name = certs.display_name(certificate)
    if at < certificate.not_valid_before_utc:
        when = certs.format_time(certificate.not_valid_before_utc)
        return Text(
            "the TSA certificate {name} is valid only from {when}",
            "时间戳证书 {name} 自 {when} 起才有效",
            name=name,
            when=when,
        )
    if at > certificate.not_valid_after_utc:
        when = certs.format_time(certificate.not_valid_after_utc)
        return Text(
            "the TSA certificate {name} expired on {when}",
            "时间戳证书 {name} 已于 {when} 过期",
            name=name,
            when=when,
        )
    return None


def _untrusted(signer: x509.Certificate, status: TimestampSignatureStatus) -> Text:
    """Why pyHanko does not trust the TSA certificate, in words."""
    indication = str(getattr(status.trust_problem_indic, "name", ""))
    name = certs.display_name(signer)
    if "REVOKED" in indication:
        return Text("the TSA certificate {name} is revoked", "时间戳证书 {name} 已被吊销", name=name)
    if indication == "NO_CERTIFICATE_CHAIN_FOUND":
        why: str | Text = Text("no chain to a trusted CA", "无法链接到受信任的 CA")
    else:
        why = indication.lower().replace("_", " ") or "-"
    return Text(
        "the TSA certificate {name} is not trusted ({why})",
        "时间戳证书 {name} 不受信任（{why}）",
        name=name,
        why=why,
    )


def _validation_failure(exc: Exception) -> Text:
    text = _printable(str(exc).split("\n")[0])
    if "igning certificate attribute does not match" in text:
        return Text(
            "the token's ESS signing-certificate attribute does not name the certificate that signed it",
            "令牌的 ESS 签名证书属性与签署令牌的证书不符",
        )
    return Text("the token cannot be verified ({text})", "无法验证令牌（{text}）", text=text)


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())[:MAX_STATUS_TEXT]


__all__ = [
    "CheckedToken",
    "async_check_token",
    "check_request_match",
    "parse_response",
    "signing_certificate_problem",
    "tsa_certificate_problem",
]
