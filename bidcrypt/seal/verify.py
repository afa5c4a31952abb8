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

:func:`async_verify_seals` is the engine and :func:`verify_seals` its
synchronous twin. The signature itself is checked by pyHanko
(:mod:`bidcrypt.seal._signature`), the certificate by the trust store, once
per question (:mod:`bidcrypt.seal._judging`; pass a
:class:`~bidcrypt.trust.ValidationCache` to share verdicts between
documents), and the later revisions by :mod:`bidcrypt.seal._revisions`.
Hex strings (a seal's ``/Contents``) are read in one pass
(:mod:`bidcrypt.seal._hex_strings`) and pyHanko's ESS issuer match is
remembered (:mod:`bidcrypt.seal._issuer_match`). Reading and parsing the document,
hashing it and the difference analysis run through
:func:`bidcrypt.aio.blocking`: in a worker thread for an async caller, so
its loop stays free.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import BinaryIO

from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from bidcrypt import certs, uscc
from bidcrypt.aio import blocking, run_sync
from bidcrypt.errors import CreditCodeError, DocumentModifiedError, NoSealError, SealInvalidError
from bidcrypt.files import PathArg, as_path, open_input
from bidcrypt.i18n import Text, pick
from bidcrypt.seal import _hex_strings, _issuer_match
from bidcrypt.seal._judging import describe, judge_identity, judge_purpose_and_kind, judge_trust
from bidcrypt.seal._pdf import open_pdf
from bidcrypt.seal._revisions import MALFORMED, RevisionHistory
from bidcrypt.seal._signature import check_signature
from bidcrypt.seal.kind import SealKind, holder_of, kind_of
from bidcrypt.seal.placement import Box
from bidcrypt.seal.report import Finding, SealCheck, SealReport
from bidcrypt.seal.timing import judgement_time, seal_timestamp
from bidcrypt.trust import RevocationStatus, TrustStore, ValidationCache

# A seal's /Contents is read in one pass, not byte by byte, and the ESS issuer match is asked once
# per certificate, not twice per seal (the same answers: see the modules).
_hex_strings.install()
_issuer_match.install()


async def async_verify_seals(
    document: PathArg | BinaryIO | bytes,
    *,
    trust: TrustStore,
    expect_uscc: str | None = None,
    at: dt.datetime | None = None,
    name: str | None = None,
    cache: ValidationCache | None = None,
) -> SealReport:
    """Verify every seal of *document* (a path, a binary stream, or bytes).

    *trust* holds the trust anchors, intermediates and CRLs
    (:class:`bidcrypt.trust.TrustStore`), *expect_uscc* the bidder's unified
    social credit code, *at* the validation time (default: now). Each seal's
    certificate is judged at its signature timestamp when a valid, trusted one
    proves when the seal was made (the timestamp itself is judged at *at*),
    else at *at*; the report says which (``SealCheck.judged_at``, ``judged_by``).
    *cache* keeps chain verdicts between calls (the same certificate at the
    same time is validated once). Raises for a document that cannot be
    verified at all (not a PDF, encrypted, unreadable); everything else is in
    the returned report.
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
            return await _verify_stream(stream, name or str(path), trust, expected, moment, cache)
    stream = io.BytesIO(document) if isinstance(document, bytes) else document
    return await _verify_stream(stream, name or "<document>", trust, expected, moment, cache)


def verify_seals(
    document: PathArg | BinaryIO | bytes,
    *,
    trust: TrustStore,
    expect_uscc: str | None = None,
    at: dt.datetime | None = None,
    name: str | None = None,
    cache: ValidationCache | None = None,
) -> SealReport:
    """:func:`async_verify_seals` for synchronous callers (with or without a running event loop)."""
    return run_sync(
        async_verify_seals(document, trust=trust, expect_uscc=expect_uscc, at=at, name=name, cache=cache)
    )


async def _verify_stream(
    stream: BinaryIO,
    name: str,
    trust: TrustStore,
    expected: str | None,
    moment: dt.datetime,
    cache: ValidationCache | None,
) -> SealReport:
    reader = await blocking(open_pdf, stream, name)
    try:
        embedded_seals, verification = await blocking(_read_document, reader, trust, cache, expected, moment)
    except MALFORMED as exc:
        raise SealInvalidError(
            Text(
                "the signatures of {name} cannot be read ({exc})",
                "无法读取 {name} 中的签章（{exc}）",
                name=name,
                exc=exc,
            )
        ) from exc
    seals = tuple([await verification.check(embedded) for embedded in embedded_seals])
    findings = [f for seal in seals for f in seal.findings]
    if not seals:
        findings.append(Finding.of(NoSealError(path=name, what=Text("seal", "签章")), None))
    elif expected is not None and not any(s.kind is SealKind.COMPANY for s in seals):
        what = Text(
            "company seal of {expected}", "统一社会信用代码为 {expected} 的单位公章", expected=expected
        )
        findings.append(Finding.of(NoSealError(path=name, what=what), None))
    return SealReport(
        document=name, checked_at=moment, expect_uscc=expected, seals=seals, findings=tuple(findings)
    )


def _read_document(
    reader: PdfFileReader,
    trust: TrustStore,
    cache: ValidationCache | None,
    expected: str | None,
    moment: dt.datetime,
) -> tuple[list[EmbeddedPdfSignature], _Verification]:
    """The seals of the document and the state of their verification (blocking: reads the document)."""
    return list(reader.embedded_regular_signatures), _Verification(reader, trust, cache, expected, moment)


class _Verification:
    """Shared state of one document's verification: the reader, trust settings and revision history."""

    def __init__(
        self,
        reader: PdfFileReader,
        trust: TrustStore,
        cache: ValidationCache | None,
        expected: str | None,
        moment: dt.datetime,
    ) -> None:
        self.reader = reader
        self.trust = trust
        self.cache = cache
        self.expected = expected
        self.moment = moment
        self.history = RevisionHistory(reader)
        self.page_numbers = self._page_numbers()

    def _page_numbers(self) -> dict[int, int]:
        """The number of each page, by its object number: in one walk of the page tree when its
        counts agree with its pages, else page by page as pyHanko finds them."""
        count = int(self.reader.root["/Pages"]["/Count"])
        try:
            pages = _pages_in_order(self.reader.root.raw_get("/Pages"))
        except MALFORMED:
            pages = None
        if pages is not None and len(pages) == count:
            return {idnum: index + 1 for index, idnum in enumerate(pages)}
        numbers = {}
        for index in range(count):
            reference, _ = self.reader.find_page_for_modification(index)  # type: ignore[no-untyped-call]
            numbers[reference.idnum] = index + 1
        return numbers

    async def check(self, embedded: EmbeddedPdfSignature) -> SealCheck:
        """Everything about one seal; a seal whose container is garbage is reported, not raised."""
        field = str(embedded.field_name)
        try:
            embedded_certificates = [
                x509.load_der_x509_certificate(c.dump()) for c in embedded.other_embedded_certs
            ]
            signature = await check_signature(embedded, self.trust, self.moment, embedded_certificates)
            certificate = certs.from_der(signature.signing_cert.dump())
        except MALFORMED as exc:  # a broken signature container: report it, do not stop the batch
            return self._broken(embedded, field, exc)
        kind = kind_of(embedded.signer_info)
        findings: list[Finding] = []

        intact = signature.intact and signature.valid
        if not intact:
            detail = (
                pick("the document bytes do not match the seal", "文档内容与签章不符")
                if not signature.intact
                else pick("the signature value is wrong", "签名值错误")
            )
            findings.append(Finding.of(SealInvalidError(detail), field))
        modifications, later_seals = await blocking(self.history.changes_after, embedded, signature.coverage)
        if modifications:
            error = DocumentModifiedError("; ".join(modifications), what=describe(field, kind))
            findings.append(Finding.of(error, field))
        timestamp = seal_timestamp(signature.timestamp_validity, embedded.signer_info, field, findings)
        judged_at, judged_by = judgement_time(timestamp, self.moment)
        chain, revocation, trusted = await judge_trust(
            self.trust, self.cache, embedded_certificates, certificate, field, findings, judged_at, judged_by
        )
        judge_purpose_and_kind(certificate, kind, field, findings)
        identity_ok = judge_identity(self.expected, certificate, kind, field, findings)

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
            signing_time=signature.signer_reported_dt,
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

    def _broken(self, embedded: EmbeddedPdfSignature, field: str, exc: Exception) -> SealCheck:
        """A seal whose signature cannot even be evaluated."""
        why = (
            pick("it names an unknown algorithm", "其中含未知算法")
            if isinstance(exc, AttributeError)
            else exc
        )
        error = SealInvalidError(Text("cannot evaluate the seal ({why})", "无法验证签章（{why}）", why=why))
        try:
            certificate = x509.load_der_x509_certificate(embedded.signer_cert.dump())
        except MALFORMED:  # no usable certificate at all
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


def _pages_in_order(
    node: generic.PdfObject, within: frozenset[generic.Reference] = frozenset()
) -> list[int] | None:
    """The object numbers of the pages under the page tree *node*, in order; None when a node's
    ``/Count`` is not the number of pages under it, or the tree is not a tree."""
    if not isinstance(node, generic.IndirectObject) or node.reference in within:
        return None
    tree = node.get_object()  # type: ignore[no-untyped-call]
    pages: list[int] = []
    for kid in tree["/Kids"]:
        if not isinstance(kid, generic.IndirectObject):
            return None
        kind = kid.get_object()["/Type"]  # type: ignore[no-untyped-call]
        if kind == "/Page":
            pages.append(kid.idnum)
        elif kind == "/Pages":
            below = _pages_in_order(kid, within | {node.reference})
            if below is None:
                return None
            pages += below
    return pages if len(pages) == int(tree["/Count"]) else None


__all__ = ["async_verify_seals", "verify_seals"]
