"""The re-encrypt-after-replacement rule, decided by the public key and nothing else.

After a renewal (续期) the certificate has a new serial and new dates but
the same key: the package still opens, nothing to do. After a replacement
(补办, new UKey, same subject) or a change (变更, new company information)
the key is new: the package must be re-encrypted before upload. Serial
numbers and names only serve to *describe* the case to the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography import x509

from bidcrypt import certs
from bidcrypt.envelope import EnvelopeRecipient
from bidcrypt.errors import IdentityMismatchError, ReencryptionRequiredError
from bidcrypt.i18n import Text, pick
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.info import PackageInfo


class KeyChange(Enum):
    """How the bidder's current encryption certificate relates to the one the package was made for."""

    SAME = "same-certificate"
    RENEWED = "renewed"
    REPLACED = "replaced"
    CHANGED = "changed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RuleVerdict:
    """Whether the package can be opened with the key behind the current certificate, and why."""

    change: KeyChange
    current: x509.Certificate
    old: x509.Certificate | None

    @property
    def ok(self) -> bool:
        """True when no re-encryption is needed."""
        return self.change in (KeyChange.SAME, KeyChange.RENEWED)

    def message(self) -> str:
        """One sentence for the user."""
        if self.change is KeyChange.SAME:
            return pick(
                "encrypted to this certificate: no re-encryption needed", "已用此证书加密，无需重新加密"
            )
        if self.change is KeyChange.RENEWED:
            return pick(
                "renewed certificate, same key: no re-encryption needed", "证书已续期且密钥未变：无需重新加密"
            )
        return self.reason().render()

    def reason(self) -> Text:
        """Why re-encryption is required (for :class:`ReencryptionRequiredError`), in both languages."""
        new = _describe(self.current)
        if self.old is None:
            return Text(
                "the package is not encrypted to the key of the current certificate {new}",
                "文件包未使用当前证书 {new} 的密钥加密",
                new=new,
            )
        old = _describe(self.old)
        if self.change is KeyChange.REPLACED:
            return Text(
                "the certificate was replaced (补办): same subject, new key; the package is encrypted to "
                "{old}, the current certificate is {new}",
                "证书已补办（主体相同、密钥已更换）：文件包加密所用证书为 {old}，当前证书为 {new}",
                old=old,
                new=new,
            )
        return Text(
            "the certificate information changed (变更) and the key with it; the package is encrypted to "
            "{old}, the current certificate is {new}",
            "证书信息已变更且密钥已更换：文件包加密所用证书为 {old}，当前证书为 {new}",
            old=old,
            new=new,
        )

    def raise_if_stale(self) -> None:
        """Raise :class:`ReencryptionRequiredError` unless the package can be opened."""
        if not self.ok:
            raise ReencryptionRequiredError(reason=self.reason())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "case": self.change.value,
            "message": self.message(),
            "current": _certificate_dict(self.current),
            "encrypted_to": None if self.old is None else _certificate_dict(self.old),
        }


def _describe(certificate: x509.Certificate) -> Text:
    return Text(
        "{name} (serial {serial}, valid {start} to {end}, key {key})",
        "{name}（序列号 {serial}，有效期 {start} 至 {end}，密钥指纹 {key}）",
        name=certs.display_name(certificate),
        serial=format(certificate.serial_number, "x"),
        start=certs.format_time(certificate.not_valid_before_utc),
        end=certs.format_time(certificate.not_valid_after_utc),
        key=certs.key_fingerprint(certificate)[:16],
    )


def _certificate_dict(certificate: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": certs.display_name(certificate),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certs.format_time(certificate.not_valid_before_utc),
        "not_after": certs.format_time(certificate.not_valid_after_utc),
        "key_fingerprint": certs.key_fingerprint(certificate),
    }


def check_package(info: PackageInfo, current: x509.Certificate) -> RuleVerdict:
    """Apply the rule to *info* for the bidder's *current* encryption certificate."""
    return check_recipients(info.attributes, info.header.recipients, info.recipient_certificates, current)


def check_recipients(
    attributes: PackageAttributes,
    recipients: Sequence[EnvelopeRecipient],
    listed: Sequence[x509.Certificate],
    current: x509.Certificate,
) -> RuleVerdict:
    """The rule for a package of bidder *attributes* with *recipients* and the *listed* certificates.

    The package opens with the key behind *current* when a RecipientInfo
    names that key (its SubjectKeyIdentifier, or its issuer and serial
    number): nothing else decides. The *listed* certificates (those whose
    computed key identifier names a recipient) only tell a renewal from the
    same certificate, and a replacement (补办) from a change (变更).
    """
    code = certs.credit_code(current)
    if code != attributes.credit_code:
        raise IdentityMismatchError(
            Text("the certificate is not the bidder's", "该证书不属于投标人"),
            actual=f"{certs.display_name(current)} ({code or '-'})",
            expected=f"{attributes.bidder_name} ({attributes.credit_code})",
        )
    # Decided by the RecipientInfos alone: the listed certificates are unauthenticated (anyone can
    # change them), so they only describe the certificate the package was made for.
    listed_own = [c for c in listed if certs.credit_code(c) == code]
    if any(r.rid is not None and r.rid.matches(current) for r in recipients):
        same_key = [c for c in listed_own if certs.same_public_key(c, current)]
        old = same_key[0] if same_key else None
        same = old is None or old.serial_number == current.serial_number
        return RuleVerdict(KeyChange.SAME if same else KeyChange.RENEWED, current, old)
    if not listed_own:
        return RuleVerdict(KeyChange.UNKNOWN, current, None)
    old = listed_own[0]
    same_subject = certs.company_name(old) == certs.company_name(current) and old.subject == current.subject
    return RuleVerdict(KeyChange.REPLACED if same_subject else KeyChange.CHANGED, current, old)
