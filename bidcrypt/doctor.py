"""The seal-assistant check (签章助手检测): is this UKey (or PKCS#12 or PEM key file) ready for bidding?

:func:`examine` loads the module, finds the token, reads its PIN state,
lists the signing and encryption certificates with their validity, issuer,
subject, key (RSA, EC or SM2) and credit code, and checks the bidder
identity. Every problem is one :class:`Finding` saying what is wrong and
what to do. By default no login is made (a wrong PIN cannot be risked);
``login=True`` logs in once to check the private keys and what each
encryption key really decrypts: a trial decryption of each RSA key transport
the token claims, and an SM2 encryption round trip (reported as the
transport ``sm2``) for an SM2 key.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bidcrypt import certs, gm, uscc
from bidcrypt.envelope import probe_transports
from bidcrypt.errors import (
    BidcryptError,
    CertificateMissingError,
    CreditCodeError,
    IdentityMismatchError,
    KeyNotFoundError,
    PinLockedError,
    WrongKeyError,
)
from bidcrypt.files import PathArg
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source, redact_reference

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
    """One certificate on the key source and what the check found about it."""

    label: str
    summary: certs.CertificateSummary
    valid_now: bool
    private_key: bool | None = None
    key_transports: tuple[str, ...] = ()


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
        self.findings.append(Finding("ok", code, message))

    def warn(self, code: str, message: str, hint: str = "") -> None:
        self.findings.append(Finding("warning", code, message, hint))

    def problem(self, error: BidcryptError) -> None:
        self.findings.append(Finding.of_error(error))


def examine(
    reference: str | os.PathLike[str],
    *,
    module: PathArg | None = None,
    pin_source: PinSource | None = None,
    expect_uscc: str | None = None,
    at: dt.datetime | None = None,
    login: bool = False,
) -> DoctorReport:
    """Check the key source named by *reference* and return the report (never raises a BidcryptError).

    The report shows the reference without any PIN written in it (:func:`redact_reference`).
    """
    moment = at or dt.datetime.now(dt.UTC)
    shown = redact_reference(os.fspath(reference))
    report = DoctorReport(reference=shown, checked_at=certs.format_time(moment))
    expected = None
    if expect_uscc is not None:
        if not uscc.is_valid(expect_uscc):
            report.problem(
                CreditCodeError(
                    Text(
                        "the check character is wrong or the form is not GB 32100",
                        "校验码错误或不符合 GB 32100 格式",
                    ),
                    value=expect_uscc,
                )
            )
            return report
        expected = uscc.normalise(expect_uscc)
    try:
        source = open_key_source(reference, pin_source, module)
    except BidcryptError as error:
        report.problem(error)
        return report
    with source:
        try:
            _examine_source(source, report, moment, expected, login)
        except BidcryptError as error:
            report.problem(error)
    return report


def _examine_source(
    source: KeySource, report: DoctorReport, moment: dt.datetime, expected: str | None, login: bool
) -> None:
    from bidcrypt.keys import Pkcs11Source

    if isinstance(source, Pkcs11Source):
        report.module = source.module_path
        report.ok(
            "module-loaded",
            pick(
                f"PKCS#11 module loaded: {source.module_path}", f"已加载 PKCS#11 驱动：{source.module_path}"
            ),
        )
        info = source.info()
        report.token = {
            "label": info.label,
            "manufacturer": info.manufacturer,
            "model": info.model,
            "serial": info.serial,
            "pin": asdict(info.pin),
            "pin_pad": info.pin_pad,
        }
        report.ok(
            "token-present",
            pick(
                f"token {info.label} present ({info.manufacturer} {info.model})",
                f"已检测到 U-KEY {info.label}（{info.manufacturer} {info.model}）",
            ),
        )
        if info.pin_pad:
            report.ok(
                "pin-pad",
                pick(
                    "the PIN is typed on the UKey's keypad (PIN pad)",
                    "PIN 码在 U-KEY 的键盘上输入（密码键盘）",
                ),
            )
        if info.pin.locked:
            report.problem(PinLockedError(source=info.label))
            login = False
        elif info.pin.final_try:
            report.warn(
                "pin-final-try",
                pick("one more wrong PIN locks the token", "再输错一次 PIN 码将锁定 U-KEY"),
                pick("be sure of the PIN before the next login", "下次登录前请确认 PIN 码"),
            )
        elif info.pin.count_low:
            report.warn(
                "pin-count-low",
                pick("a wrong PIN was entered before", "曾输错过 PIN 码"),
                pick("a few more wrong PINs lock the token", "多次输错将锁定 U-KEY"),
            )
        if info.pin.to_be_changed:
            report.warn(
                "pin-to-be-changed",
                pick("the PIN is still the initial one", "PIN 码仍为初始值"),
                pick("change it with the CA's tool", "请用 CA 提供的工具修改 PIN 码"),
            )
    entries = source.entries()
    if not isinstance(source, Pkcs11Source):
        report.ok(
            "key-file",
            pick(
                f"key file {source.description} read ({len(entries)} certificate with its private key)",
                f"已读取密钥文件 {source.description}（证书及其私钥 {len(entries)} 个）",
            ),
        )
    for entry in entries:
        report.certificates.append(_check_certificate(entry, report, moment, login))
    _check_roles(report, source, moment)
    if expected is not None:
        _check_identity(report, entries, expected)


def _check_certificate(
    entry: KeyEntry, report: DoctorReport, moment: dt.datetime, login: bool
) -> CertificateCheck:
    certificate = entry.certificate
    summary = certs.CertificateSummary.of(certificate)
    valid = True
    try:
        certs.require_valid_at(certificate, moment)
    except BidcryptError as error:
        valid = False
        report.problem(error)
    if summary.credit_code is None and certs.credit_code_candidates(certificate):
        report.problem(
            CreditCodeError(
                pick("in certificate ", "证书 ") + summary.subject,
                value=certs.credit_code_candidates(certificate)[0],
            )
        )
    private_key = None
    transports: tuple[str, ...] = ()
    if login:
        private_key = entry.has_private_key
        if not private_key:
            report.problem(
                KeyNotFoundError(what=Text("private key", "私钥"), ref=f"{entry.source}:{entry.label}")
            )
        elif certs.Purpose.ENCRYPTION in certs.purposes(certificate):
            if isinstance(certs.public_key(certificate), gm.Sm2PublicKey):
                transports = _sm2_round_trip(entry, report)
            else:
                transports = tuple(t.value for t in probe_transports(entry))
    return CertificateCheck(entry.label, summary, valid, private_key, transports)


#: The name doctor gives an SM2 key's decryption in ``key_transports``.
SM2_TRANSPORT = "sm2"


def _sm2_round_trip(entry: KeyEntry, report: DoctorReport) -> tuple[str, ...]:
    """``("sm2",)`` when the entry decrypts a key SM2-encrypted to its certificate; else report why not."""
    public_key = certs.public_key(entry.certificate)
    assert isinstance(public_key, gm.Sm2PublicKey)
    probe = os.urandom(16)
    try:
        if entry.sm2_decrypt(public_key.encrypt(probe)) == probe:
            return (SM2_TRANSPORT,)
        raise WrongKeyError()
    except BidcryptError as error:
        report.problem(error)
    return ()


def _check_roles(report: DoctorReport, source: KeySource, moment: dt.datetime) -> None:
    entries = source.entries()
    for purpose in (certs.Purpose.SIGNING, certs.Purpose.ENCRYPTION):
        having = [e for e in entries if purpose in certs.purposes(e.certificate)]
        valid = [e for e in having if _valid(e, moment)]
        if valid:
            report.ok(
                f"{purpose.value}-certificate",
                pick(
                    f"{purpose.value} certificate found: {', '.join(e.label for e in valid)}",
                    f"已找到{purpose.label()}证书：{', '.join(e.label for e in valid)}",
                ),
            )
        elif not having:  # an invalid one was already reported with its own reason
            report.problem(CertificateMissingError(source=source.description, purpose=purpose.text()))


def _valid(entry: KeyEntry, moment: dt.datetime) -> bool:
    try:
        certs.require_valid_at(entry.certificate, moment)
    except BidcryptError:
        return False
    return True


def _check_identity(report: DoctorReport, entries: list[KeyEntry], expected: str) -> None:
    codes = {e.label: certs.credit_code(e.certificate) for e in entries}
    carrying = {label: code for label, code in codes.items() if code is not None}
    wrong: dict[str, list[str]] = {}
    for label, code in carrying.items():
        if code != expected:
            wrong.setdefault(code, []).append(label)
    if not carrying:
        report.problem(IdentityMismatchError(actual=Text("no credit code", "无信用代码"), expected=expected))
    for code, labels in wrong.items():
        report.problem(
            IdentityMismatchError(
                pick("certificates ", "证书 ") + ", ".join(labels), actual=code, expected=expected
            )
        )
    if carrying and not wrong:
        report.ok("identity", pick(f"credit code {expected} matches", f"统一社会信用代码 {expected} 一致"))
