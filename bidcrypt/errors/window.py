"""Errors of the decryption window (解密时间) and of the legal outcomes at its close.

The three window errors are what :func:`bidcrypt.opening.window.require_running`
raises and what every release, backup or share refused outside the running
window is recorded with. :class:`DeemedRevokedError` and
:class:`DeemedWithdrawnError` are never raised: they are the causes a bid
left unopened at the close is recorded with (《电子招标投标办法》第三十一条).
"""

from __future__ import annotations

from bidcrypt.errors.opening import OpeningError

__all__ = [
    "AttributionError",
    "BackupRefusedError",
    "DeemedRevokedError",
    "DeemedWithdrawnError",
    "RuleError",
    "WindowClosedError",
    "WindowNotOpenError",
    "WindowNotPausedError",
    "WindowPausedError",
    "WindowStartedError",
]


class WindowNotOpenError(OpeningError):
    """The decryption window has not been started yet."""

    code = "window-not-open"
    en = "the decryption window has not started"
    zh = "解密时间尚未开始"
    hint_en = "the official starts it at the opening time with `bidcrypt opening start SESSION --window 30m`"
    hint_zh = "开标时间到后由工作人员用 `bidcrypt opening start SESSION --window 30m` 开始解密"


class WindowPausedError(OpeningError):
    """The decryption window is paused (a platform failure): nothing is accepted until it resumes."""

    code = "window-paused"
    en = "the decryption window is paused since {paused_at} ({reason})"
    zh = "解密时间自 {paused_at} 起暂停（{reason}）"
    hint_en = "try again once the official resumes the window; the paused time is not counted"
    hint_zh = "请待工作人员恢复解密后重试；暂停时间不计入解密时间"


class WindowClosedError(OpeningError):
    """The decryption window of the session was closed."""

    code = "window-closed"
    en = "the decryption window closed at {closed_at}"
    zh = "解密时间窗口已于 {closed_at} 关闭"


class WindowStartedError(OpeningError):
    """The decryption window was started already: it starts once."""

    code = "window-started"
    en = "the decryption window was already started at {started_at}"
    zh = "解密时间已于 {started_at} 开始"


class WindowNotPausedError(OpeningError):
    """A resume was asked for, but the decryption window is not paused."""

    code = "window-not-paused"
    en = "the decryption window is not paused"
    zh = "解密时间未处于暂停状态"


class AttributionError(OpeningError):
    """A bid named at the close as not the bidder's fault cannot be attributed so."""

    code = "attribution-invalid"
    en = "bidder {credit_code} has no bid left unopened to record as withdrawn"
    zh = "投标人 {credit_code} 没有未解密的投标文件可记为视为撤回"


class RuleError(OpeningError):
    """The session's rule profile is not one bidcrypt knows."""

    code = "rule-invalid"
    en = 'unknown opening rule "{rule}"'
    zh = "未知的开标规则“{rule}”"
    hint_en = "use regulation-44, procurement-36 or minimum:N (N ≥ 1)"
    hint_zh = "可用 regulation-44、procurement-36 或 minimum:N（N ≥ 1）"


class DeemedRevokedError(OpeningError):
    """A bid not decrypted within the window by the bidder's cause: treated as revoked (视为撤销)."""

    code = "deemed-revoked"
    en = "not decrypted within the window: deemed revoked (the bidder's cause)"
    zh = "未在解密时间内解密，视为撤销投标文件（投标人原因）"


class DeemedWithdrawnError(OpeningError):
    """A bid not decrypted within the window by a cause not the bidder's: treated as withdrawn (视为撤回)."""

    code = "deemed-withdrawn"
    en = "not decrypted within the window: deemed withdrawn (not the bidder's cause: {reason})"
    zh = "未在解密时间内解密，视为撤回投标文件（非投标人原因：{reason}）"


class BackupRefusedError(OpeningError):
    """A backup copy (备用文件) was refused: not the named bid's, or the bid needs none."""

    code = "backup-refused"
    en = "the backup copy was refused"
    zh = "备用文件被拒绝"
