"""The doctor's report: findings (one line each, with what to do) and the certificates it checked.

One report for every key source: a PKCS#11 token, an SKF UKey, a PKCS#12 or
PEM key file. What only a token has (its PIN state, an SKF UKey's
applications and containers, the decryption path) is in ``token``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bidcrypt import certs
from bidcrypt.errors import BidcryptError

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    """One line of the check: a problem or warning with what to do, or a passed check."""

    level: Level
    code: str
    message: str
    hint: str = ""

    @classmethod
    def of_error(cls, error: BidcryptError, level: Level = "problem") -> Finding:
        """A finding made from a bidcrypt error (its code, message and hint)."""
        return cls(level, error.code, error.message(), error.hint())


@dataclass(frozen=True)
class CertificateCheck:
    """One certificate on the key source and what the check found about it.

    ``signature`` is None without a login, else whether a test signature
    made with the private key verified against the certificate (signing
    certificates only). ``decryption`` is how the key source recovers a
    content key for this certificate's key (:data:`DECRYPTION_PATHS`), None
    for a certificate that cannot encrypt.
    """

    label: str
    summary: certs.CertificateSummary
    valid_now: bool
    private_key: bool | None = None
    key_transports: tuple[str, ...] = ()
    signature: bool | None = None
    decryption: str | None = None


#: ``fast``: the source hands out the unwrapped content key, which is used in software (PKCS#11,
#: key files, an SKF UKey exporting a private-key decryption); ``standard``: the key is imported
#: into the token and the content decrypted there (an SKF UKey without that export).
DECRYPTION_PATHS = ("fast", "standard")


@dataclass
class DoctorReport:
    """Everything `bidcrypt doctor` found."""

    reference: str
    checked_at: str
    module: str | None = None
    token: dict[str, Any] | None = None
    certificates: list[CertificateCheck] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        """The findings that make the key source unfit."""
        return [f for f in self.findings if f.level == "problem"]

    @property
    def healthy(self) -> bool:
        """True when nothing is a problem (warnings allowed)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the report."""
        data = asdict(self)
        data["healthy"] = self.healthy
        return data

    def ok(self, code: str, message: str) -> None:
        """Record a passed check."""
        self.findings.append(Finding("ok", code, message))

    def warn(self, code: str, message: str, hint: str = "") -> None:
        """Record a warning: the source works, but something needs care."""
        self.findings.append(Finding("warning", code, message, hint))

    def problem(self, error: BidcryptError) -> None:
        """Record a problem, from the error that says what and what to do (once: a login refused
        again for the next key is the same line)."""
        finding = Finding.of_error(error)
        if finding not in self.findings:
            self.findings.append(finding)
