"""Judging a seal's certificate: trusted and not revoked, fit for seals of its kind, the expected bidder's.

Each judgement adds its findings (problems and warnings) to the seal's list.
The chain is validated by :meth:`bidcrypt.trust.TrustStore.async_validate`,
through a :class:`~bidcrypt.trust.ValidationCache` when the caller gives one:
the same certificate at the same time is validated once.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.errors import (
    BidcryptError,
    CertificateRevokedError,
    CertificateUntrustedError,
    IdentityMismatchError,
    WrongKeyUsageError,
)
from bidcrypt.i18n import Text, pick
from bidcrypt.seal.kind import SealKind, kind_mismatch
from bidcrypt.seal.report import Finding
from bidcrypt.seal.timing import JudgedBy, revocation_at
from bidcrypt.trust import RevocationStatus, TrustStore, ValidationCache


async def judge_trust(
    trust: TrustStore,
    cache: ValidationCache | None,
    embedded_certificates: list[x509.Certificate],
    certificate: x509.Certificate,
    field: str,
    findings: list[Finding],
    at: dt.datetime,
    judged_by: JudgedBy,
) -> tuple[list[x509.Certificate], RevocationStatus, bool]:
    """At *at*: the chain to a trust anchor (empty when none), the revocation status, and the verdict."""
    subject = certs.display_name(certificate)
    chain: list[x509.Certificate] = []
    trust_error: BidcryptError | None = None
    try:
        chain = await trust.async_validate(certificate, at, embedded_certificates, cache=cache)
    except CertificateUntrustedError:
        issuer = certs.display_name_of(certificate.issuer)
        trust_error = CertificateUntrustedError(
            Text(
                "its issuer {issuer} is not trusted here", "其颁发机构 {issuer} 不在信任列表中", issuer=issuer
            ),
            subject=subject,
        )
    except BidcryptError as error:
        trust_error = error
    except UnsupportedAlgorithm as exc:  # a link the chain validator cannot check (an unknown curve)
        trust_error = CertificateUntrustedError(
            Text(
                "its chain uses an algorithm that cannot be checked here ({exc})",
                "其证书链使用了此处无法验证的算法（{exc}）",
                exc=exc,
            ),
            subject=subject,
        )
    revocation = trust.revocation_status(certificate, at, embedded_certificates)
    if judged_by == "timestamp":
        revocation = revocation_at(revocation, at, subject, field, findings)
    if revocation.state == "revoked":
        revoked_at = certs.format_time(revocation.revoked_at) if revocation.revoked_at else "-"
        why = (
            pick(f"reason: {revocation.reason}", f"原因：{revocation.reason}") if revocation.reason else None
        )
        findings.append(
            Finding.of(CertificateRevokedError(why, subject=subject, revoked_at=revoked_at), field)
        )
    elif trust_error is not None:
        findings.append(Finding.of(trust_error, field))
    if revocation.state == "unknown":
        findings.append(
            warning(
                "revocation-unknown",
                f"no CRL given for the issuer of {subject}; its revocation status is unknown",
                f"未提供 {subject} 颁发机构的证书吊销列表，无法确定其是否已被吊销",
                field,
            )
        )
    if revocation.stale:
        findings.append(
            warning(
                "crl-stale",
                f"the CRL used for {subject} is past its next update",
                f"用于检查 {subject} 的证书吊销列表已过期",
                field,
            )
        )
    return chain, revocation, trust_error is None and revocation.state != "revoked"


def judge_purpose_and_kind(
    certificate: x509.Certificate, kind: SealKind | None, field: str, findings: list[Finding]
) -> None:
    """A seal certificate must allow signing, and be of the holder its kind needs."""
    if Purpose.SIGNING not in certs.purposes(certificate):
        error = WrongKeyUsageError(
            subject=certs.display_name(certificate),
            purpose=Purpose.SIGNING.text(),
            wanted=Purpose.SIGNING.text(),
            usage=", ".join(certs.key_usage_names(certificate)) or "-",
        )
        findings.append(Finding.of(error, field))
    if kind is None:
        findings.append(
            warning(
                "seal-kind-unknown",
                f"seal {field} does not record whether it is a company or a legal-person seal",
                f"签章 {field} 未记录其为公章还是法人章",
                field,
            )
        )
        return
    mismatch = kind_mismatch(certificate, kind)
    if mismatch is not None:
        findings.append(Finding.of(mismatch, field))


def judge_identity(
    expected: str | None,
    certificate: x509.Certificate,
    kind: SealKind | None,
    field: str,
    findings: list[Finding],
) -> bool | None:
    """Whether the seal is the expected bidder's (None when no code was expected or none can tell).

    A company seal must name the expected credit code. Any other seal naming
    a different one fails too; one naming none (a personal certificate from
    a CA that records no company) is only a warning.
    """
    if expected is None:
        return None
    code = certs.credit_code(certificate)
    subject = certs.display_name(certificate)
    if code is None and kind is not SealKind.COMPANY:
        findings.append(
            warning(
                "credit-code-absent",
                f"the certificate of {subject} names no credit code",
                f"证书 {subject} 中没有统一社会信用代码",
                field,
            )
        )
        return None
    if code != expected:
        actual = f"{certs.company_name(certificate) or subject} ({code or '-'})"
        findings.append(Finding.of(IdentityMismatchError(actual=actual, expected=expected), field))
        return False
    return True


def describe(field: str, kind: SealKind | None) -> str:
    """The seal as the modification message names it: ``seal CompanySeal1 (company seal)``."""
    if kind is None:
        return pick(f"seal {field}", f"签章 {field}")
    return pick(f"seal {field} ({kind.label()})", f"签章 {field}（{kind.label()}）")


def warning(code: str, en: str, zh: str, seal: str) -> Finding:
    """A finding that is worth knowing but does not fail the seal (it has a code for JSON readers)."""
    return Finding("warning", code, pick(en, zh), "", seal)
