"""When a seal is judged: at its signature timestamp when one proves the time, else at the validation time.

A PAdES B-T seal carries an RFC 3161 timestamp over its signature value: proof
that the seal existed at that time. When the timestamp itself holds up (its
token is intact, its TSA certificate is a proper RFC 3161 §2.3 one with the
ESS binding, and it chains to the trust store at the validation time), the
signer's certificate is judged at the timestamp's time: a certificate that
expired, or was revoked, after the seal was made does not fail an archived
bid. Otherwise the certificate is judged at the validation time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from asn1crypto import cms, tsp
from cryptography import x509

from bidcrypt import certs
from bidcrypt.errors import SealInvalidError
from bidcrypt.i18n import Text, pick
from bidcrypt.seal.report import Finding, Timestamp
from bidcrypt.timestamp import signing_certificate_problem, tsa_certificate_problem
from bidcrypt.trust import RevocationStatus

if TYPE_CHECKING:
    from pyhanko.sign.validation.status import TimestampSignatureStatus

#: What the signer's certificate was judged at: the seal's timestamp, or the validation time.
JudgedBy = Literal["timestamp", "validation-time"]


def seal_timestamp(
    token: TimestampSignatureStatus | None, signer_info: cms.SignerInfo, field: str, findings: list[Finding]
) -> Timestamp | None:
    """The signature timestamp (PAdES B-T) pyHanko found, if any; a problem is added unless it holds up."""
    if token is None:
        return None
    try:
        authority = certs.from_der(token.signing_cert.dump())
    except certs.UNREADABLE:
        reason = Text("its timestamp's certificate is malformed", "其时间戳证书格式错误")
        findings.append(Finding.of(SealInvalidError(reason), field))
        return None
    problem = _profile_problem(token, signer_info, authority)
    timestamp = Timestamp(
        time=token.timestamp,
        authority=certs.display_name(authority),
        valid=bool(token.intact and token.valid),
        trusted=bool(token.trusted) and problem is None,
    )
    if not timestamp.valid:
        reason = Text("its timestamp does not verify", "其时间戳验证失败")
    elif problem is not None:
        reason = Text("its timestamp is not usable: {problem}", "其时间戳不可用：{problem}", problem=problem)
    elif not timestamp.trusted:
        reason = Text("its timestamp authority is not trusted", "其时间戳服务机构不受信任")
    else:
        return timestamp
    findings.append(Finding.of(SealInvalidError(reason), field))
    return timestamp


def judgement_time(timestamp: Timestamp | None, moment: dt.datetime) -> tuple[dt.datetime, JudgedBy]:
    """The time to judge the signer's certificate at, and why."""
    if timestamp is not None and timestamp.valid and timestamp.trusted:
        return timestamp.time, "timestamp"
    return moment, "validation-time"


def revocation_at(
    revocation: RevocationStatus, moment: dt.datetime, subject: str, field: str, findings: list[Finding]
) -> RevocationStatus:
    """The revocation status at *moment*: a revocation dated after it did not exist yet (a warning)."""
    if revocation.state != "revoked" or revocation.revoked_at is None or revocation.revoked_at <= moment:
        return revocation
    when, stamped = certs.format_time(revocation.revoked_at), certs.format_time(moment)
    findings.append(
        Finding(
            "warning",
            "revoked-after-timestamp",
            pick(
                f"the certificate of {subject} was revoked on {when}, after the seal's timestamp {stamped}",
                f"{subject} 的证书于 {when} 被吊销，晚于签章时间戳 {stamped}",
            ),
            "",
            field,
        )
    )
    return RevocationStatus("good", crl_next_update=revocation.crl_next_update, stale=bool(revocation.stale))


def _profile_problem(
    token: TimestampSignatureStatus, signer_info: cms.SignerInfo, authority: x509.Certificate
) -> Text | None:
    """What pyHanko does not check: the RFC 3161 §2.3 TSA certificate and the ESS attribute's presence."""
    problem = tsa_certificate_problem(authority)
    if problem is not None:
        return problem
    for signed_data in _signature_tokens(signer_info):
        if _is(signed_data, token):
            return signing_certificate_problem(signed_data)
    return Text("the timestamp token cannot be found again", "找不到该时间戳令牌")


def _signature_tokens(signer_info: cms.SignerInfo) -> list[cms.SignedData]:
    attributes = signer_info["unsigned_attrs"]
    if not attributes:
        return []
    return [
        value["content"]
        for attribute in attributes
        if attribute["type"].native == "signature_time_stamp_token"
        for value in attribute["values"]
    ]


def _is(signed_data: cms.SignedData, token: TimestampSignatureStatus) -> bool:
    """Whether *signed_data* is the token pyHanko reported (same time, same signing certificate)."""
    info = signed_data["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo) or info["gen_time"].native != token.timestamp:
        return False
    return any(
        choice.name == "certificate" and choice.chosen.dump() == token.signing_cert.dump()
        for choice in signed_data["certificates"]
    )
