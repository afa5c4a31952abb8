"""Errors of certificates, identities and timestamps."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = [
    "CertificateError",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "CertificateRevokedError",
    "CertificateUntrustedError",
    "CreditCodeError",
    "IdentityMismatchError",
    "TimestampError",
    "WrongKeyUsageError",
]


class CertificateError(BidcryptError):
    """A certificate is not fit for the purpose it was given for."""

    code = "certificate"
    en = "certificate {subject} cannot be used"
    zh = "证书 {subject} 不可用"


class CertificateExpiredError(CertificateError):
    """The certificate's validity ended before the time of use."""

    code = "certificate-expired"
    en = "certificate {subject} expired on {not_after}"
    zh = "证书 {subject} 已于 {not_after} 过期"
    hint_en = "renew the certificate with its CA (续期) and use the new one"
    hint_zh = "请到 CA 办理续期，并使用新证书"


class CertificateNotYetValidError(CertificateError):
    """The certificate's validity starts after the time of use."""

    code = "certificate-not-yet-valid"
    en = "certificate {subject} is not valid before {not_before}"
    zh = "证书 {subject} 在 {not_before} 之前无效"
    hint_en = "check the computer's clock, or wait until the certificate becomes valid"
    hint_zh = "请检查电脑时间，或等待证书生效"


class WrongKeyUsageError(CertificateError):
    """The certificate's key usage does not allow this operation."""

    code = "wrong-key-usage"
    en = "certificate {subject} is not allowed for {purpose} (key usage: {usage})"
    zh = "证书 {subject} 不能用于{purpose}（密钥用法：{usage}）"
    hint_en = "use the {wanted} certificate of the UKey"
    hint_zh = "请使用 U-KEY 中的{wanted}证书"


class CertificateUntrustedError(CertificateError):
    """The certificate does not chain to the trusted CAs."""

    code = "certificate-untrusted"
    en = "certificate {subject} does not chain to a trusted CA"
    zh = "证书 {subject} 不是由受信任的 CA 签发"


class CertificateRevokedError(CertificateError):
    """The certificate is listed on its CA's revocation list."""

    code = "certificate-revoked"
    en = "certificate {subject} was revoked on {revoked_at}"
    zh = "证书 {subject} 已于 {revoked_at} 被吊销"


class IdentityMismatchError(CertificateError):
    """The certificate does not belong to the expected company (name or credit code)."""

    code = "identity-mismatch"
    en = "certificate name does not match unit name: certificate has {actual}, expected {expected}"
    zh = "CA 证书名称与当前单位名称不一致：证书为 {actual}，应为 {expected}"
    hint_en = "check the company name and unified social credit code registered for the bidder"
    hint_zh = "请核对单位全称与统一社会信用代码"


class CreditCodeError(BidcryptError):
    """A unified social credit code (统一社会信用代码) is malformed or fails its check."""

    code = "invalid-credit-code"
    en = "invalid unified social credit code {value}"
    zh = "统一社会信用代码 {value} 无效"


class TimestampError(BidcryptError):
    """The timestamp authority could not be reached or gave an unusable answer."""

    code = "timestamp-failed"
    en = "the timestamp authority {url} failed"
    zh = "时间戳服务 {url} 失败"
