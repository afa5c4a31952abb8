"""The doctor's run: open the key source, read the token, check each certificate, the roles, the identity."""

from __future__ import annotations

import datetime as dt
import os

from bidcrypt import certs, uscc
from bidcrypt.doctor.keys import check_certificate
from bidcrypt.doctor.report import DoctorReport
from bidcrypt.doctor.tokens import examine_pkcs11
from bidcrypt.errors import BidcryptError, CertificateMissingError, CreditCodeError, IdentityMismatchError
from bidcrypt.files import PathArg
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source, redact_reference


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

    token = False
    if isinstance(source, Pkcs11Source):
        token = True
        login = examine_pkcs11(source, report) and login
    entries = source.entries()
    if not token:
        report.ok(
            "key-file",
            pick(
                f"key file {source.description} read ({len(entries)} certificate with its private key)",
                f"已读取密钥文件 {source.description}（证书及其私钥 {len(entries)} 个）",
            ),
        )
    for entry in entries:
        report.certificates.append(check_certificate(entry, report, moment, login))
    _check_roles(report, source, moment)
    if expected is not None:
        _check_identity(report, entries, expected)


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
