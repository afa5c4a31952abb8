"""Errors of remote opening (不见面开标): releases and sign-ins refused by the session, or not made.

The codes are the contract's (docs/remote.md): every refusal of a release is
an :class:`~bidcrypt.errors.OpeningError` with its own stable code, recorded
in the session's ``releases`` table whatever becomes of the body.
"""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError
from bidcrypt.errors.opening import OpeningError

__all__ = [
    "ReleaseError",
    "ReleaseKeyWrongError",
    "ReleaseMalformedError",
    "ReleaseNoSubmissionError",
    "ReleaseNotCompanyError",
    "ReleaseNotForSessionError",
    "ReleaseNotThisBidderError",
    "ReleaseReplayedError",
    "ReleaseSignatureInvalidError",
    "ReleaseTooLargeError",
    "ReleaseUnavailableError",
    "SigninChallengeError",
    "StatementError",
]


class StatementError(BidcryptError):
    """A signed statement (sign-in, release, share) cannot be made or read."""

    code = "statement-invalid"
    en = "the signed statement is not valid"
    zh = "签名声明无效"


class ReleaseUnavailableError(StatementError):
    """The bidder's UKey cannot release this bid's key (it keeps content keys inside, or opens nothing)."""

    code = "release-unavailable"
    en = "a release of this bid cannot be made with {source}"
    zh = "无法用 {source} 制作此投标文件的解密授权"


class ReleaseError(OpeningError):
    """The session refused a release or a sign-in."""

    code = "release-refused"
    en = "the session refused the release"
    zh = "开标会话拒绝了该解密授权"


class ReleaseMalformedError(ReleaseError):
    """Not a release: garbage, the wrong CMS, the wrong JSON or the wrong type."""

    code = "release-malformed"
    en = "not a release of this session"
    zh = "不是本次开标的解密授权"


class ReleaseTooLargeError(ReleaseError):
    """A body over the limit."""

    code = "release-too-large"
    en = "the body is larger than the limit ({size} bytes, at most {limit})"
    zh = "内容超过上限（{size} 字节，上限 {limit}）"


class ReleaseNotForSessionError(ReleaseError):
    """Another session's release (or one sealed to another key)."""

    code = "release-not-for-session"
    en = "the release is for another opening session ({session})"
    zh = "该解密授权属于其他开标会话（{session}）"


class ReleaseReplayedError(ReleaseError):
    """A body already received (same SHA-256)."""

    code = "release-replayed"
    en = "this body was already received (SHA-256 {sha256})"
    zh = "该内容已接收过（SHA-256 {sha256}）"


class ReleaseNotCompanyError(ReleaseError):
    """Signed by a certificate that is not a bidder's company signing certificate."""

    code = "release-not-company"
    en = "signed by {subject}, which is not a company signing certificate"
    zh = "签名证书 {subject} 不是单位签名证书（公章证书）"


class ReleaseSignatureInvalidError(ReleaseError):
    """The signature or its chain fails."""

    code = "release-signature-invalid"
    en = "the release's signature is not valid"
    zh = "解密授权的签名无效"


class ReleaseNotThisBidderError(ReleaseError):
    """The signer's credit code is not the submission's bidder (another bidder's bid)."""

    code = "release-not-this-bidder"
    en = "signed by {signer}, but the submission is {bidder}'s"
    zh = "签名者为 {signer}，但该投标文件属于 {bidder}"


class ReleaseNoSubmissionError(ReleaseError):
    """No current submission with that digest."""

    code = "release-no-submission"
    en = "no current submission has the SHA-256 {sha256}"
    zh = "没有 SHA-256 为 {sha256} 的有效投标文件"


class ReleaseKeyWrongError(ReleaseError):
    """The content key does not open the stored submission."""

    code = "release-key-wrong"
    en = "the released key does not open submission {submission}"
    zh = "所授权的密钥无法解密投标文件 {submission}"
    hint_en = "the bid stays pending: release it again from the UKey that encrypted it, within the window"
    hint_zh = "该投标文件仍待解密：请在解密时间内用加密时的 U-KEY 重新授权解密"


class SigninChallengeError(ReleaseError):
    """A sign-in names a challenge the session did not issue, one already used, or one expired."""

    code = "signin-challenge"
    en = "the sign-in challenge {nonce} is{state}"
    zh = "签到挑战码 {nonce}{state}"
