"""Errors of opening sessions and their ledger."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError
from bidcrypt.errors.files import InputError

__all__ = [
    "AlreadyBoundError",
    "DeadlinePassedError",
    "LedgerError",
    "NoCertificateBoundError",
    "NotOpeningTimeError",
    "OpeningError",
    "PackageTooLargeError",
    "ReceiptMismatchError",
    "SessionBusyError",
    "SessionIncompleteError",
    "SessionReadOnlyError",
    "UnknownBidderError",
    "WrongTenderError",
]


class OpeningError(BidcryptError):
    """An opening-session operation is refused."""

    code = "opening"
    en = "the opening session refused the operation"
    zh = "开标会话拒绝了该操作"


class DeadlinePassedError(OpeningError):
    """A submission arrived after the deadline."""

    code = "deadline-passed"
    en = "the submission deadline {deadline} has passed"
    zh = "已超过投标截止时间 {deadline}"


class NotOpeningTimeError(OpeningError):
    """Decryption was asked for before the opening time."""

    code = "not-opening-time"
    en = "bids cannot be opened before {opening_time}"
    zh = "开标时间 {opening_time} 之前不能解密投标文件"


class SessionBusyError(OpeningError):
    """Another process is already working on the session."""

    code = "session-busy"
    en = "another bidcrypt process is working on the session {path}"
    zh = "另一个 bidcrypt 进程正在处理开标会话 {path}"


class ReceiptMismatchError(OpeningError):
    """The stored bytes of a submission no longer match its receipt."""

    code = "receipt-mismatch"
    en = "the submitted file no longer matches its receipt (SHA-256 {actual}, receipt {expected})"
    zh = "投标文件与回执不符（SHA-256 为 {actual}，回执为 {expected}）"


class PackageTooLargeError(InputError):
    """A submitted package is larger than the session accepts."""

    code = "package-too-large"
    en = "{path} is larger than this session accepts ({limit} bytes)"
    zh = "{path} 超过本次开标允许的文件大小（{limit} 字节）"
    hint_en = "check that this is the bid package; the session's limit is set when it is created"
    hint_zh = "请确认这是投标文件包；文件大小上限在创建开标会话时设定"


class UnknownBidderError(OpeningError):
    """A package names a bidder that is not registered in the session."""

    code = "unknown-bidder"
    en = "bidder {credit_code} is not registered for this tender"
    zh = "投标人 {credit_code} 未在本项目中登记"


class WrongTenderError(OpeningError):
    """A package is for another tender or lot than the session's."""

    code = "wrong-tender"
    en = "the package is for {actual}, this session is {expected}"
    zh = "文件包属于 {actual}，本次开标为 {expected}"


class AlreadyBoundError(OpeningError):
    """A certificate is already bound to another bidder (one certificate, one bidder)."""

    code = "certificate-already-bound"
    en = "certificate {subject} is already bound to {bidder}"
    zh = "证书 {subject} 已绑定到 {bidder}"


class NoCertificateBoundError(OpeningError):
    """The bidder has no encryption certificate bound, so the re-encrypt rule cannot be checked."""

    code = "no-certificate-bound"
    en = "bidder {credit_code} has no encryption certificate bound"
    zh = "投标人 {credit_code} 未绑定加密证书"
    hint_en = "bind the bidder's current encryption certificate with `bidcrypt opening bind`"
    hint_zh = "请用 `bidcrypt opening bind` 绑定投标人当前的加密证书"


class LedgerError(OpeningError):
    """The session's ledger is damaged, hand-edited or otherwise not one bidcrypt can use."""

    code = "ledger-invalid"
    en = "the ledger of the opening session cannot be used ({path})"
    zh = "开标会话台账无法使用（{path}）"
    hint_en = "restore the session folder from its backup; bidcrypt does not repair a ledger"
    hint_zh = "请从备份恢复开标会话目录；bidcrypt 不修复台账"


class SessionIncompleteError(LedgerError):
    """The session folder was never finished: its creation failed or was interrupted."""

    code = "session-incomplete"
    en = "{path} is an incomplete opening session: its creation did not finish"
    zh = "{path} 是未创建完成的开标会话"
    hint_en = "empty or remove the folder, then create the session again with `bidcrypt opening create`"
    hint_zh = "请清空或删除该目录，再用 `bidcrypt opening create` 重新创建开标会话"


class SessionReadOnlyError(OpeningError):
    """The command changes the session, but the session's folder or ledger is read-only."""

    code = "session-read-only"
    en = "the opening session {path} is read-only, and this command changes it"
    zh = "开标会话 {path} 为只读，此命令需要修改它"
    hint_en = "run the command on a writable copy of the session; `opening report` reads a read-only session"
    hint_zh = "请在可写的会话副本上运行此命令；`opening report` 可读取只读会话"
