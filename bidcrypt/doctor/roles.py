"""The bidder's checks over all the certificates: both roles present and valid, the credit code expected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from bidcrypt import certs
from bidcrypt.doctor.report import DoctorReport
from bidcrypt.errors import BidcryptError, CertificateMissingError, IdentityMismatchError
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry


def check_roles(
    report: DoctorReport,
    entries: list[KeyEntry],
    description: str,
    moment: dt.datetime,
    reported: Collection[certs.Purpose] = (),
) -> None:
    """A valid signing and a valid encryption certificate among *entries* (of the source *description*).

    A purpose in *reported* was already reported missing, in the source's own words.
    """
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
        elif not having and purpose not in reported:  # an invalid one was reported with its own reason
            report.problem(CertificateMissingError(source=description, purpose=purpose.text()))


def _valid(entry: KeyEntry, moment: dt.datetime) -> bool:
    try:
        certs.require_valid_at(entry.certificate, moment)
    except BidcryptError:
        return False
    return True


def check_identity(report: DoctorReport, entries: list[KeyEntry], expected: str) -> None:
    """Every certificate carrying a credit code carries *expected*, and one at least carries one."""
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
