"""Verifying the seals of a PDF: integrity, later changes, trust, revocation, kind and identity.

For every seal (PDF signature of type ``/Sig``): the kind recorded in it, the
signer's name and credit code, the claimed signing time and the timestamp if
any, whether the signature is intact, whether the document was changed after
it by more than further seals, whether the certificate chains to the given
trust anchors, its revocation status from the given CRLs, and (with
``expect_uscc``) whether it belongs to the expected bidder. The certificate
is judged at the seal's timestamp when one holds up, else at the validation
time (see :mod:`bidcrypt.seal.timing`).

"Changed after it by more than further seals": every revision after a
seal's own must be another seal's (adding a signature field and its widget
and nothing beyond form filling), or a validation-data update (a DSS, PAdES
LTA). An unsigned update that changes anything else fails the seal. Each
revision is analysed once with pyHanko's difference policy, so a document
sealed on every page verifies in time linear in its seals.

No network access is made: trust comes from the given anchors and
intermediates, revocation from the given CRLs.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from bidcrypt import certs, uscc
from bidcrypt.aio import run_sync
from bidcrypt.certs import Purpose
from bidcrypt.errors import (
    BidcryptError,
    CertificateRevokedError,
    CertificateUntrustedError,
    CreditCodeError,
    DocumentModifiedError,
    IdentityMismatchError,
    NoSealError,
    SealInvalidError,
    WrongKeyUsageError,
)
from bidcrypt.files import PathArg, as_path, open_input
from bidcrypt.i18n import Text, pick
from bidcrypt.seal._pdf import open_pdf
from bidcrypt.seal.kind import SealKind, holder_of, kind_mismatch, kind_of
from bidcrypt.seal.placement import Box
from bidcrypt.seal.report import Finding, SealCheck, SealReport
from bidcrypt.seal.timing import JudgedBy, judgement_time, revocation_at, seal_timestamp
from bidcrypt.trust import RevocationStatus, TrustStore

#: What a malformed signature or document structure raises in pyHanko, asn1crypto and cryptography
#: (pyHanko raises AttributeError for a digest algorithm it does not know).
_MALFORMED = (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, x509.InvalidVersion)

#: Key usages a seal certificate may have (either suffices).
SEAL_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})


def verify_seals(
    document: PathArg | BinaryIO | bytes,
    *,
    trust: TrustStore,
    expect_uscc: str | None = None,
    at: dt.datetime | None = None,
    name: str | None = None,
) -> SealReport:
    """Verify every seal of *document* (a path, a binary stream, or bytes).

    *trust* holds the trust anchors, intermediates and CRLs
    (:class:`bidcrypt.trust.TrustStore`), *expect_uscc* the bidder's unified
    social credit code, *at* the validation time (default: now). Each seal's
    certificate is judged at its signature timestamp when a valid, trusted one
    proves when the seal was made (the timestamp itself is judged at *at*),
    else at *at*; the report says which (``SealCheck.judged_at``, ``judged_by``).
    Raises for a document that cannot be verified at all (not a PDF,
    encrypted, unreadable); everything else is in the returned report.
    """
    moment = at or dt.datetime.now(dt.UTC)
    expected = None
    if expect_uscc is not None:
        if not uscc.is_valid(expect_uscc):
            raise CreditCodeError(
                Text(
                    "the check character is wrong or the form is not GB 32100",
                    "校验码错误或不符合 GB 32100 格式",
                ),
                value=expect_uscc,
            )
        expected = uscc.normalise(expect_uscc)
    if isinstance(document, (str, os.PathLike)):
        path = as_path(document)
        with open_input(path) as stream:
            return _verify_stream(stream, name or str(path), trust, expected, moment)
    stream = io.BytesIO(document) if isinstance(document, bytes) else document
    return _verify_stream(stream, name or "<document>", trust, expected, moment)


def _verify_stream(
    stream: BinaryIO,
    name: str,
    trust: TrustStore,
    expected: str | None,
    moment: dt.datetime,
) -> SealReport:
    reader = open_pdf(stream, name)
    try:
        embedded_seals = list(reader.embedded_regular_signatures)
        context = _Context(reader, trust, expected, moment)
    except _MALFORMED as exc:
        raise SealInvalidError(
            Text(
                "the signatures of {name} cannot be read ({exc})",
                "无法读取 {name} 中的签章（{exc}）",
                name=name,
                exc=exc,
            )
        ) from exc
    seals = tuple(context.check(embedded) for embedded in embedded_seals)
    findings = [f for seal in seals for f in seal.findings]
    if not seals:
        findings.append(Finding.of(NoSealError(path=name, what=Text("seal", "签章")), None))
    elif expected is not None and not any(s.kind is SealKind.COMPANY for s in seals):
        what = Text(
            "company seal of {expected}",
            "统一社会信用代码为 {expected} 的单位公章",
            expected=expected,
        )
        findings.append(Finding.of(NoSealError(path=name, what=what), None))
    return SealReport(
        document=name, checked_at=moment, expect_uscc=expected, seals=seals, findings=tuple(findings)
    )


@dataclass(frozen=True)
class _Revision:
    """What one revision changed, by pyHanko's difference analysis."""

    level: ModificationLevel | None  # None: suspicious, i.e. anything
    validation_data: bool


class _Context:
    """Shared state of one verification: the reader, trust settings and per-revision analysis."""

    def __init__(
        self,
        reader: PdfFileReader,
        trust: TrustStore,
        expected: str | None,
        moment: dt.datetime,
    ) -> None:
        self.reader = reader
        self.trust = trust
        self.expected = expected
        self.moment = moment
        self.revisions: dict[int, _Revision] = {}
        everything = reader.embedded_signatures
        self.signed_revisions = {s.signed_revision: s for s in everything}
        self.total_revisions = reader.xrefs.total_revisions
        certification = read_certification_data(reader)
        #: The revision of a certification signature that allows no changes at all, if any.
        self.no_changes_after: int | None = None
        if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
            author = reader.root["/Perms"].raw_get("/DocMDP")
            for embedded in everything:
                value = embedded.sig_field.raw_get("/V")
                if (
                    isinstance(author, generic.IndirectObject)
                    and isinstance(value, generic.IndirectObject)
                    and author.idnum == value.idnum
                ):
                    self.no_changes_after = embedded.signed_revision
        self.page_numbers = self._page_numbers()

    def _page_numbers(self) -> dict[int, int]:
        count = int(self.reader.root["/Pages"]["/Count"])
        numbers = {}
        for index in range(count):
            reference, _ = self.reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
            numbers[reference.idnum] = index + 1
        return numbers

    def check(self, embedded: EmbeddedPdfSignature) -> SealCheck:
        """Everything about one seal; a seal whose container is garbage is reported, not raised."""
        field = str(embedded.field_name)
        try:
            embedded_certificates = [
                x509.load_der_x509_certificate(c.dump()) for c in embedded.other_embedded_certs
            ]
            status = run_sync(
                async_validate_pdf_signature(
                    embedded,
                    signer_validation_context=self.trust.validation_context(
                        self.moment, embedded_certificates
                    ),
                    key_usage_settings=KeyUsageConstraints(
                        key_usage=SEAL_KEY_USAGE, match_all_key_usages=False
                    ),
                    skip_diff=True,
                )
            )
        except _MALFORMED as exc:  # a broken signature container: report it, do not stop the batch
            return self._broken(embedded, field, exc)
        certificate = x509.load_der_x509_certificate(status.signing_cert.dump())
        kind = kind_of(embedded.signer_info)
        findings: list[Finding] = []

        intact = bool(status.intact and status.valid)
        if not intact:
            detail = (
                pick("the document bytes do not match the seal", "文档内容与签章不符")
                if not status.intact
                else pick("the signature value is wrong", "签名值错误")
            )
            findings.append(Finding.of(SealInvalidError(detail), field))
        modifications, later_seals = self._changes_after(embedded, status)
        if modifications:
            error = DocumentModifiedError("; ".join(modifications), what=_describe(field, kind))
            findings.append(Finding.of(error, field))
        timestamp = seal_timestamp(status, embedded.signer_info, field, findings)
        judged_at, judged_by = judgement_time(timestamp, self.moment)
        chain, revocation, trusted = self._trust(
            embedded_certificates, certificate, field, findings, judged_at, judged_by
        )
        self._purpose_and_kind(certificate, kind, field, findings)
        identity_ok = self._identity(certificate, kind, field, findings)

        page, box = self._widget(embedded)
        return SealCheck(
            field=field,
            kind=kind,
            page=page,
            box=box,
            signer=certs.display_name(certificate),
            company=certs.company_name(certificate),
            credit_code=certs.credit_code(certificate),
            holder=holder_of(certificate),
            certificate=certs.CertificateSummary.of(certificate),
            signing_time=status.signer_reported_dt,
            timestamp=timestamp,
            judged_at=judged_at,
            judged_by=judged_by,
            intact=intact,
            modified_after=bool(modifications),
            modifications=tuple(modifications),
            later_seals=later_seals,
            trusted=trusted,
            trust_anchor=certs.display_name(chain[-1]) if chain else None,
            revocation=revocation,
            identity_ok=identity_ok,
            findings=tuple(findings),
        )

    def _trust(
        self,
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
            chain = self.trust.validate(certificate, at=at, extra_certificates=embedded_certificates)
        except CertificateUntrustedError:
            issuer = certs.display_name_of(certificate.issuer)
            trust_error = CertificateUntrustedError(
                Text(
                    "its issuer {issuer} is not trusted here",
                    "其颁发机构 {issuer} 不在信任列表中",
                    issuer=issuer,
                ),
                subject=subject,
            )
        except BidcryptError as error:
            trust_error = error
        revocation = self.trust.revocation_status(certificate, at, embedded_certificates)
        if judged_by == "timestamp":
            revocation = revocation_at(revocation, at, subject, field, findings)
        if revocation.state == "revoked":
            revoked_at = certs.format_time(revocation.revoked_at) if revocation.revoked_at else "-"
            why = (
                pick(f"reason: {revocation.reason}", f"原因：{revocation.reason}")
                if revocation.reason
                else None
            )
            findings.append(
                Finding.of(CertificateRevokedError(why, subject=subject, revoked_at=revoked_at), field)
            )
        elif trust_error is not None:
            findings.append(Finding.of(trust_error, field))
        if revocation.state == "unknown":
            findings.append(
                _warning(
                    "revocation-unknown",
                    f"no CRL given for the issuer of {subject}; its revocation status is unknown",
                    f"未提供 {subject} 颁发机构的证书吊销列表，无法确定其是否已被吊销",
                    field,
                )
            )
        if revocation.stale:
            findings.append(
                _warning(
                    "crl-stale",
                    f"the CRL used for {subject} is past its next update",
                    f"用于检查 {subject} 的证书吊销列表已过期",
                    field,
                )
            )
        return chain, revocation, trust_error is None and revocation.state != "revoked"

    def _purpose_and_kind(
        self, certificate: x509.Certificate, kind: SealKind | None, field: str, findings: list[Finding]
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
                _warning(
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

    def _identity(
        self, certificate: x509.Certificate, kind: SealKind | None, field: str, findings: list[Finding]
    ) -> bool | None:
        """Whether the seal is the expected bidder's (None when no code was expected or none can tell).

        A company seal must name the expected credit code. Any other seal naming
        a different one fails too; one naming none (a personal certificate from
        a CA that records no company) is only a warning.
        """
        if self.expected is None:
            return None
        code = certs.credit_code(certificate)
        subject = certs.display_name(certificate)
        if code is None and kind is not SealKind.COMPANY:
            findings.append(
                _warning(
                    "credit-code-absent",
                    f"the certificate of {subject} names no credit code",
                    f"证书 {subject} 中没有统一社会信用代码",
                    field,
                )
            )
            return None
        if code != self.expected:
            actual = f"{certs.company_name(certificate) or subject} ({code or '-'})"
            findings.append(Finding.of(IdentityMismatchError(actual=actual, expected=self.expected), field))
            return False
        return True

    def _broken(self, embedded: EmbeddedPdfSignature, field: str, exc: Exception) -> SealCheck:
        """A seal whose signature cannot even be evaluated."""
        why = (
            pick("it names an unknown algorithm", "其中含未知算法")
            if isinstance(exc, AttributeError)
            else exc
        )
        error = SealInvalidError(
            Text(
                "cannot evaluate the seal ({why})",
                "无法验证签章（{why}）",
                why=why,
            )
        )
        try:
            certificate = x509.load_der_x509_certificate(embedded.signer_cert.dump())
        except _MALFORMED:  # no usable certificate at all
            raise error from exc
        page, box = self._widget(embedded)
        return SealCheck(
            field=field,
            kind=kind_of(embedded.signer_info),
            page=page,
            box=box,
            signer=certs.display_name(certificate),
            company=certs.company_name(certificate),
            credit_code=certs.credit_code(certificate),
            holder=holder_of(certificate),
            certificate=certs.CertificateSummary.of(certificate),
            signing_time=None,
            timestamp=None,
            judged_at=self.moment,
            judged_by="validation-time",
            intact=False,
            modified_after=False,
            modifications=(),
            later_seals=0,
            trusted=False,
            trust_anchor=None,
            revocation=RevocationStatus("not-checked"),
            identity_ok=None,
            findings=(Finding.of(error, field),),
        )

    # -- what changed after a seal ---------------------------------------------------------

    def _changes_after(
        self, embedded: EmbeddedPdfSignature, status: PdfSignatureStatus
    ) -> tuple[list[str], int]:
        """Descriptions of the changes after the seal beyond further seals, and how many seals followed."""
        changes = []
        if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
            changes.append(
                pick("the seal does not cover its whole revision", "签章未覆盖其所在版本的全部内容")
            )
        own = embedded.signed_revision
        later_seals = 0
        for revision in range(own + 1, self.total_revisions):
            analysis = self._revision(revision)
            later = self.signed_revisions.get(revision)
            if self.no_changes_after == own and not analysis.validation_data:
                changes.append(
                    pick(
                        f"revision {revision + 1} changes a document certified against all changes",
                        f"第 {revision + 1} 版修改了已锁定（禁止任何修改）的文档",
                    )
                )
            elif later is not None:
                later_seals += 1
                if analysis.level is None or analysis.level > ModificationLevel.FORM_FILLING:
                    changes.append(
                        pick(
                            f"revision {revision + 1} adds a seal and also changes the document",
                            f"第 {revision + 1} 版在加盖签章的同时修改了文档",
                        )
                    )
            elif not analysis.validation_data and not (
                analysis.level is not None and analysis.level == ModificationLevel.NONE
            ):
                changes.append(
                    pick(
                        f"revision {revision + 1} is an unsealed change ({_level_name(analysis.level)})",
                        f"第 {revision + 1} 版是未经签章的修改（{_level_name(analysis.level)}）",
                    )
                )
        return changes, later_seals

    def _revision(self, revision: int) -> _Revision:
        if revision not in self.revisions:
            old = self.reader.get_historical_resolver(revision - 1)
            new = self.reader.get_historical_resolver(revision)
            try:
                level: ModificationLevel | None = DEFAULT_DIFF_POLICY.apply(old, new).modification_level
            except SuspiciousModification:
                level = None
            except _MALFORMED:  # the difference analysis failed: treat as an arbitrary change
                level = None
            validation_data = (
                level is not None and level <= ModificationLevel.LTA_UPDATES and "/DSS" in new.root
            )
            self.revisions[revision] = _Revision(level, validation_data)
        return self.revisions[revision]

    # -- helpers ---------------------------------------------------------------------------

    def _widget(self, embedded: EmbeddedPdfSignature) -> tuple[int | None, Box | None]:
        field = embedded.sig_field
        widget = field
        if "/Rect" not in field and "/Kids" in field:
            widget = field["/Kids"][0].get_object()
        box: Box | None = None
        if "/Rect" in widget:
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
            box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        page = None
        reference = widget.raw_get("/P") if "/P" in widget else None
        if isinstance(reference, generic.IndirectObject):
            page = self.page_numbers.get(reference.idnum)
        return page, box


def _describe(field: str, kind: SealKind | None) -> str:
    """The seal as the modification message names it: ``seal CompanySeal1 (company seal)``."""
    if kind is None:
        return pick(f"seal {field}", f"签章 {field}")
    return pick(f"seal {field} ({kind.label()})", f"签章 {field}（{kind.label()}）")


def _level_name(level: ModificationLevel | None) -> str:
    names = {
        ModificationLevel.LTA_UPDATES: pick("metadata", "元数据"),
        ModificationLevel.FORM_FILLING: pick("form filling", "表单填写"),
        ModificationLevel.ANNOTATIONS: pick("annotations", "批注"),
    }
    return names.get(level, pick("content", "内容")) if level is not None else pick("content", "内容")


def _warning(code: str, en: str, zh: str, seal: str) -> Finding:
    """A finding that is worth knowing but does not fail the seal (it has a code for JSON readers)."""
    return Finding("warning", code, pick(en, zh), "", seal)
