"""The opening committee's shares: splitting the key-encryption key, and the two forms a share takes.

The KEK (32 bytes) is split with PyCryptodome's Shamir secret sharing
(:mod:`Crypto.Protocol.SecretSharing`, GF(2^128)) as two 16-byte blocks, each
k of n with the same indexes 1..n; member i's share is its two 16-byte
shares, 32 bytes. A share travels in two forms (docs/remote.md):

- the **share file** the session seals to the member at creation
  (``custody/share-<i>.p7m``), whose content is canonical JSON
  ``{"member": i, "session": id, "share": base64(32 bytes)}``;
- the **share statement** the member signs to release it
  (``{"member", "session", "share", "time", "type": "bidcrypt-share", "version": 1}``),
  read by :func:`share_of_statement`.

Every parser here refuses anything else with
:class:`~bidcrypt.errors.ReleaseMalformedError`, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir

from bidcrypt.errors import ReleaseMalformedError
from bidcrypt.i18n import Text
from bidcrypt.package.statements import (
    SHARE,
    STATEMENT_VERSION,
    canonical_json,
    format_statement_time,
    parse_statement_time,
)

#: The key-encryption key's length, and a member's share's: two 16-byte blocks.
KEK_SIZE = 32
SHARE_SIZE = 32
BLOCK = 16
#: The most members a committee may have (Shamir's indexes are one byte here).
MAX_MEMBERS = 255
#: A session id as the profile writes it: 32 lowercase hex digits (other ASCII ids are read too).
_SESSION_ID = re.compile(r"[\x21-\x7e]{1,128}")

__all__ = [
    "KEK_SIZE",
    "MAX_MEMBERS",
    "SHARE_SIZE",
    "MemberShare",
    "combine_shares",
    "parse_share_file",
    "share_digest",
    "share_file_content",
    "share_of_statement",
    "share_statement",
    "split_kek",
]


@dataclass(frozen=True)
class MemberShare:
    """One member's share of one session's KEK."""

    session: str
    member: int
    share: bytes = field(repr=False)
    #: The time the member's statement says it was released (None in a share file).
    time: dt.datetime | None = None


def split_kek(kek: bytes, quorum: int, members: int) -> dict[int, bytes]:
    """Member index (1..*members*) → its 32-byte share of *kek*, any *quorum* of which rebuild it."""
    if len(kek) != KEK_SIZE or not 2 <= quorum <= members <= MAX_MEMBERS:
        raise ValueError("a 32-byte key, 2 <= quorum <= members <= 255")
    halves = [Shamir.split(quorum, members, kek[i : i + BLOCK], ssss=False) for i in (0, BLOCK)]
    shares: dict[int, bytes] = {}
    for (index, first), (again, second) in zip(halves[0], halves[1], strict=True):
        assert index == again
        shares[int(index)] = bytes(first) + bytes(second)
    return shares


def combine_shares(shares: Mapping[int, bytes], quorum: int) -> bytes:
    """The KEK from *quorum* of the members' shares (index → 32 bytes); the first *quorum* indexes are used.

    Shares that were not split together give a wrong key, not an error: the
    AES-GCM tag of the opening key tells.
    """
    chosen = sorted(shares.items())[:quorum]
    if len(chosen) < quorum or any(len(s) != SHARE_SIZE for _, s in chosen):
        raise ValueError("not enough 32-byte shares")
    return b"".join(
        bytes(Shamir.combine([(index, share[i : i + BLOCK]) for index, share in chosen], ssss=False))
        for i in (0, BLOCK)
    )


def share_digest(share: bytes) -> str:
    """The SHA-256 of a share (hex), as the ledger's ``committee_members`` keeps it."""
    return hashlib.sha256(share).hexdigest()


def share_file_content(session: str, member: int, share: bytes) -> bytes:
    """The content sealed to member *member*: canonical JSON with the share in base64."""
    return canonical_json({"member": member, "session": session, "share": base64.b64encode(share).decode()})


def parse_share_file(content: bytes) -> MemberShare:
    """Read a share file's content (opened); :class:`ReleaseMalformedError` for anything else."""
    try:
        payload = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed(Text("the share file is not UTF-8 JSON", "密钥分量文件不是 UTF-8 JSON")) from None
    if not isinstance(payload, dict) or set(payload) != {"member", "session", "share"}:
        raise _malformed(Text("not a share file", "不是密钥分量文件"))
    return MemberShare(_session(payload), _member(payload), _share(payload))


def share_statement(share: MemberShare, at: dt.datetime) -> dict[str, Any]:
    """The payload of the statement releasing *share* at *at* (to be signed by the member)."""
    return {
        "member": share.member,
        "session": share.session,
        "share": base64.b64encode(share.share).decode(),
        "time": format_statement_time(at),
        "type": SHARE,
        "version": STATEMENT_VERSION,
    }


def share_of_statement(payload: Mapping[str, Any]) -> MemberShare:
    """The share a verified share statement's payload releases; :class:`ReleaseMalformedError` otherwise."""
    expected = {"member", "session", "share", "time", "type", "version"}
    if set(payload) != expected:
        raise _malformed(
            Text("the share statement's fields are not the contract's", "密钥分量声明的字段不符")
        )
    if (
        payload["type"] != SHARE
        or type(payload["version"]) is not int
        or payload["version"] != STATEMENT_VERSION
    ):
        raise _malformed(Text("not a share statement", "不是密钥分量声明"))
    return MemberShare(
        _session(payload), _member(payload), _share(payload), parse_statement_time(payload["time"])
    )


def _session(payload: Mapping[str, Any]) -> str:
    value = payload["session"]
    if not isinstance(value, str) or not _SESSION_ID.fullmatch(value):
        raise _malformed(Text("the session id is not one", "会话标识无效"))
    return value


def _member(payload: Mapping[str, Any]) -> int:
    value = payload["member"]
    if type(value) is not int or not 1 <= value <= MAX_MEMBERS:
        raise _malformed(Text("the member is not a number from 1 to 255", "成员编号不是 1 至 255 的整数"))
    return value


def _share(payload: Mapping[str, Any]) -> bytes:
    value = payload["share"]
    try:
        share = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        share = b""
    if len(share) != SHARE_SIZE:
        raise _malformed(Text("the share is not 32 bytes in base64", "密钥分量不是 base64 编码的 32 字节"))
    return share


def _malformed(why: Text) -> ReleaseMalformedError:
    return ReleaseMalformedError(why)
