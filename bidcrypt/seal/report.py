"""The result of verifying the seals of a document: one :class:`SealCheck` per seal and a verdict."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from bidcrypt import certs
from bidcrypt.errors import BidcryptError
from bidcrypt.seal.kind import Holder, SealKind
from bidcrypt.seal.placement import Box
from bidcrypt.trust import RevocationStatus

Level = Literal["problem", "warning"]


@dataclass(frozen=True)
class Finding:
    """A problem (the seal or document fails) or a warning (worth knowing, does not fail it)."""

    level: Level
    code: str
    message: str
    hint: str
    seal: str | None
    error: BidcryptError | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, error: BidcryptError, seal: str | None, level: Level = "problem") -> Finding:
        """A finding from a bidcrypt error (its code, message and hint, in the current language)."""
        return cls(level, error.code, error.message(), error.hint(), seal, error)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "seal": self.seal,
        }


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3161 signature timestamp on a seal (PAdES B-T)."""

    time: dt.datetime
    authority: str
    valid: bool
    trusted: bool


@dataclass(frozen=True)
class SealCheck:
    """Everything verification found about one seal.

    ``judged_at``: the time the certificate was judged at (validity, chain,
    revocation), ``judged_by`` why: ``timestamp`` when a valid, trusted
    signature timestamp proves the seal existed then, else
    ``validation-time`` (now, or the time the caller gave).
    ``intact``: the signature verifies and matches the bytes it covers.
    ``modified_after``: the document was changed after this seal by more than
    further seals (``modifications`` says how). ``trusted``: the certificate
    chains to the trust store. ``identity_ok``: the credit code is the
    expected one (None when none was expected).
    """

    field: str
    kind: SealKind | None
    page: int | None
    box: Box | None
    signer: str
    company: str | None
    credit_code: str | None
    holder: Holder
    certificate: certs.CertificateSummary
    signing_time: dt.datetime | None
    timestamp: Timestamp | None
    judged_at: dt.datetime
    judged_by: str
    intact: bool
    modified_after: bool
    modifications: tuple[str, ...]
    later_seals: int
    trusted: bool
    trust_anchor: str | None
    revocation: RevocationStatus
    identity_ok: bool | None
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> list[Finding]:
        """The findings that make this seal fail."""
        return [f for f in self.findings if f.level == "problem"]

    @property
    def valid(self) -> bool:
        """True when nothing is wrong with this seal."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "field": self.field,
            "kind": self.kind.value if self.kind else None,
            "page": self.page,
            "box": list(self.box) if self.box else None,
            "signer": self.signer,
            "company": self.company,
            "credit_code": self.credit_code,
            "holder": self.holder.value,
            "certificate": {
                "subject": self.certificate.subject,
                "issuer": self.certificate.issuer,
                "serial": self.certificate.serial,
                "not_before": self.certificate.not_before,
                "not_after": self.certificate.not_after,
                "key": self.certificate.key,
            },
            "signing_time": _time(self.signing_time),
            "timestamp": None
            if self.timestamp is None
            else {
                "time": _time(self.timestamp.time),
                "authority": self.timestamp.authority,
                "valid": self.timestamp.valid,
                "trusted": self.timestamp.trusted,
            },
            "judged_at": _time(self.judged_at),
            "judged_by": self.judged_by,
            "intact": self.intact,
            "modified_after": self.modified_after,
            "modifications": list(self.modifications),
            "later_seals": self.later_seals,
            "trusted": self.trusted,
            "trust_anchor": self.trust_anchor,
            "revocation": {
                "state": self.revocation.state,
                "revoked_at": _time(self.revocation.revoked_at),
                "reason": self.revocation.reason,
                "crl_next_update": _time(self.revocation.crl_next_update),
                "stale": self.revocation.stale,
            },
            "identity_ok": self.identity_ok,
            "valid": self.valid,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class SealReport:
    """The seals of one document and the verdict on them.

    ``valid`` is the overall verdict: the document carries at least one seal
    (and, when a credit code was expected, a company seal), and no seal has a
    problem.
    """

    document: str
    checked_at: dt.datetime
    expect_uscc: str | None
    seals: tuple[SealCheck, ...]
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> list[Finding]:
        """Every problem, of the seals in document order, then of the document."""
        return [f for f in self.findings if f.level == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        """Everything worth knowing that does not fail the verdict."""
        return [f for f in self.findings if f.level == "warning"]

    @property
    def valid(self) -> bool:
        """The verdict: True when nothing is a problem."""
        return not self.problems

    def of_kind(self, kind: SealKind) -> list[SealCheck]:
        """The seals of *kind*."""
        return [s for s in self.seals if s.kind is kind]

    @property
    def company_seals(self) -> list[SealCheck]:
        """The company seals (公章)."""
        return self.of_kind(SealKind.COMPANY)

    @property
    def legal_person_seals(self) -> list[SealCheck]:
        """The legal-person seals (法人章)."""
        return self.of_kind(SealKind.LEGAL_PERSON)

    def raise_for_problems(self) -> None:
        """Raise the first problem as its bidcrypt error (nothing when the verdict is valid)."""
        for finding in self.problems:
            if finding.error is not None:
                raise finding.error

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "document": self.document,
            "checked_at": _time(self.checked_at),
            "expect_uscc": self.expect_uscc,
            "valid": self.valid,
            "seals": [s.to_dict() for s in self.seals],
            "problems": [f.to_dict() for f in self.problems],
            "warnings": [f.to_dict() for f in self.warnings],
        }


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else certs.format_time(moment)
