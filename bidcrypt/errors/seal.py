"""Errors of seals (PDF signatures)."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = [
    "DocumentModifiedError",
    "EncryptedPdfError",
    "KeyCertificateMismatchError",
    "NoSealError",
    "NotAPdfError",
    "SealError",
    "SealInvalidError",
    "SealKindMismatchError",
]


class SealError(BidcryptError):
    """A seal cannot be applied or does not verify."""

    code = "seal"
    en = "the seal cannot be processed"
    zh = "签章无法处理"


class NotAPdfError(SealError):
    """The document to seal is not a PDF."""

    code = "not-a-pdf"
    en = "{path} is not a PDF document"
    zh = "{path} 不是 PDF 文档"


class EncryptedPdfError(SealError):
    """The PDF is password-protected and cannot be sealed."""

    code = "encrypted-pdf"
    en = "{path} is an encrypted PDF"
    zh = "{path} 是加密的 PDF 文档"
    hint_en = "remove the PDF password before sealing"
    hint_zh = "请先去除 PDF 密码再签章"


class KeyCertificateMismatchError(SealError):
    """The private key does not belong to the certificate it was paired with."""

    code = "key-certificate-mismatch"
    en = "the private key does not match certificate {subject}"
    zh = "私钥与证书 {subject} 不匹配"


class SealInvalidError(SealError):
    """A seal on a document does not verify."""

    code = "seal-invalid"
    en = "seal check failed"
    zh = "签章验证未通过"


class DocumentModifiedError(SealError):
    """The document was changed after a seal was applied, by more than further seals."""

    code = "modified-after-sealing"
    en = "the document was changed after {what} was applied"
    zh = "文档在加盖{what}之后被修改"
    hint_en = "ask the bidder for the document as it was sealed"
    hint_zh = "请向投标人索取盖章时的原始文档"


class NoSealError(SealError):
    """The document carries no seal (of the kind required)."""

    code = "no-seal"
    en = "{path} carries no {what}"
    zh = "{path} 没有{what}"


class SealKindMismatchError(SealError):
    """The certificate cannot make this kind of seal (the company's for 公章, a person's for 法人章)."""

    code = "seal-kind-mismatch"
    en = "a {what} cannot be made with certificate {subject}: it is {actual}"
    zh = "不能用证书 {subject} 加盖{what}：该证书属于{actual}"
    hint_en = "use {wanted}"
    hint_zh = "请使用{wanted}"
