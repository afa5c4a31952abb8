"""Errors of the opening committee (开标委员会): its making, its shares, and its quorum."""

from __future__ import annotations

from bidcrypt.errors.opening import OpeningError

__all__ = [
    "CommitteeError",
    "QuorumNotReachedError",
    "ShareMismatchError",
    "ShareNotMemberError",
]


class CommitteeError(OpeningError):
    """The opening committee asked for cannot hold the opening key (members, quorum, certificates)."""

    code = "committee-invalid"
    en = "the opening committee cannot be made"
    zh = "无法组成开标委员会"


class QuorumNotReachedError(OpeningError):
    """Fewer committee members than the quorum released their shares: the opening key cannot be rebuilt."""

    code = "quorum-not-reached"
    en = "{released} of {members} shares released; the opening key needs {quorum}"
    zh = "已释放 {released}/{members} 份密钥分量，重建开标密钥需要 {quorum} 份"
    hint_en = "wait for more committee members to release their shares (`opening share-release`)"
    hint_zh = "请等待更多开标委员会成员释放其密钥分量（`opening share-release`）"


class ShareNotMemberError(OpeningError):
    """A share release is signed by someone who is not the committee member it names."""

    code = "share-not-member"
    en = "the share is not signed by committee member {member} of this session"
    zh = "该密钥分量不是由本次开标委员会成员 {member} 签署的"


class ShareMismatchError(OpeningError):
    """A released share is not the one the session gave its member (its SHA-256 differs)."""

    code = "share-mismatch"
    en = "the share released for member {member} is not the share the session gave that member"
    zh = "成员 {member} 释放的密钥分量与本会话分配给该成员的不符"
