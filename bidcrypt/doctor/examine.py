"""The doctor's run: open the key source, read the token, check each certificate, the roles, the identity."""

from __future__ import annotations

import datetime as dt
import os

from bidcrypt import certs, uscc
from bidcrypt.doctor.keys import check_certificate
from bidcrypt.doctor.report import DoctorReport
from bidcrypt.doctor.roles import check_identity, check_roles
from bidcrypt.doctor.skf import examine_skf
from bidcrypt.doctor.tokens import examine_pkcs11
from bidcrypt.errors import BidcryptError, CreditCodeError
from bidcrypt.files import PathArg
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeySource, PinSource, is_skf_uri, open_key_source, redact_reference


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
    if isinstance(reference, str) and is_skf_uri(reference):
        try:
            entries = examine_skf(
                reference,
                report,
                moment,
                module=None if module is None else os.fspath(module),
                pin_source=pin_source,
                login=login,
            )
        except BidcryptError as error:
            report.problem(error)
            return report
        if expected is not None and entries:
            check_identity(report, entries, expected)
        return report
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
    check_roles(report, source.entries(), source.description, moment)
    if expected is not None:
        check_identity(report, entries, expected)
