"""A committee member's share release (开标委员会成员释放密钥分量), and reading one on the session's side.

The member's UKey (or key file) opens the member's share file
(``custody/share-<i>.p7m``, sealed to the member's encryption certificate
when the session was made), signs the share statement (docs/remote.md) with
the member's signing certificate, and seals it to the session's release
certificate, as a bidder's release is sealed::

    body = make_share_release(share_file, member_ukey, profile)   # the member's machine
    released = read_share_release(body, release_keys, session=id)  # the session's

The share is in the clear only inside the member's process and the session's.
Whether the signer is the member and the share the member's is the session's
question (:func:`bidcrypt.opening.accept_share`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.envelope import Keys, decrypt_bytes
from bidcrypt.errors import (
    BidcryptError,
    KeyNotFoundError,
    ReleaseTooLargeError,
    StatementError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.package.shares import MemberShare, parse_share_file, share_of_statement, share_statement
from bidcrypt.package.statements import (
    MAX_STATEMENT,
    SHARE,
    Statement,
    open_sealed,
    read_statement,
    seal,
    sign_statement,
)

__all__ = ["ShareProfile", "ShareRelease", "make_share_release", "read_share_release"]


class ShareProfile(Protocol):
    """What a share release needs of the session's profile (a ``SessionProfile`` has it)."""

    @property
    def session(self) -> str: ...

    @property
    def release_certificate(self) -> x509.Certificate: ...


@dataclass(frozen=True)
class ShareRelease:
    """A share release opened and its signature checked (the signer not yet judged)."""

    share: MemberShare
    statement: Statement

    @property
    def signer(self) -> x509.Certificate:
        """The certificate that signed the share statement."""
        return self.statement.signer


def make_share_release(
    share_file: bytes, member_keys: KeySource, profile: ShareProfile, clock: Clock | None = None
) -> bytes:
    """The release of the share in *share_file* for the session of *profile*, made with *member_keys*.

    *member_keys* is the member's UKey or key file: its encryption key opens
    the share file, its signing certificate (the one with the same subject)
    signs. Refused with :class:`~bidcrypt.errors.StatementError` when the
    share file is for another session than the profile's, or not a share
    file; :class:`~bidcrypt.errors.WrongKeyError` when it is not sealed to
    this member's key. *clock* gives the time (default: the system clock).
    """
    if len(share_file) > MAX_STATEMENT:
        raise ReleaseTooLargeError(size=len(share_file), limit=MAX_STATEMENT)
    share = _open_share_file(share_file, member_keys)
    if share.session != profile.session:
        raise StatementError(
            Text(
                "the share file is for session {share}, the profile for session {profile}",
                "密钥分量文件属于会话 {share}，会话配置文件属于会话 {profile}",
                share=share.session,
                profile=profile.session,
            )
        )
    entry = _signing_entry(member_keys)
    moment = (clock or SystemClock()).stamp(bytes(32)).time.astimezone(dt.UTC).replace(microsecond=0)
    certs.require_valid_at(entry.certificate, moment)
    statement = sign_statement(share_statement(share, moment), entry, signing_time=moment)
    return seal(statement, profile.release_certificate, at=moment)


def _open_share_file(share_file: bytes, member_keys: KeySource) -> MemberShare:
    try:
        content = decrypt_bytes(share_file, member_keys)
    except BidcryptError:
        raise
    except Exception as exc:  # a library tripped by hostile bytes
        raise StatementError(Text("not a share file", "不是密钥分量文件")) from exc
    try:
        return parse_share_file(content)
    except BidcryptError as exc:
        raise StatementError(
            Text("not a share file: {error}", "不是密钥分量文件：{error}", error=exc)
        ) from exc


def _signing_entry(keys: KeySource) -> KeyEntry:
    """The member's signing entry: one whose subject is that of an encryption certificate of the UKey."""
    entries = keys.entries()
    signing = [e for e in entries if e.has_private_key and Purpose.SIGNING in certs.purposes(e.certificate)]
    subjects = [e.certificate.subject for e in entries if Purpose.ENCRYPTION in certs.purposes(e.certificate)]
    matching = [e for e in signing if e.certificate.subject in subjects]
    if not (matching or signing):
        raise KeyNotFoundError(
            what=Text("signing certificate with its key", "签名证书及其私钥"), ref=keys.description
        )
    return (matching or signing)[0]


def read_share_release(body: bytes, release_keys: Keys, *, session: str = "-") -> ShareRelease:
    """Open a share release with the session's release key; check its signature and fields.

    :class:`~bidcrypt.errors.ReleaseTooLargeError` over 64 KiB; the refusals
    of :func:`~bidcrypt.package.open_sealed` and :func:`~bidcrypt.package.read_statement`;
    :class:`~bidcrypt.errors.ReleaseMalformedError` for a field of the wrong
    type or form. Only :class:`~bidcrypt.errors.BidcryptError`, whatever the bytes.
    """
    if len(body) > MAX_STATEMENT:
        raise ReleaseTooLargeError(size=len(body), limit=MAX_STATEMENT)
    statement = read_statement(open_sealed(body, release_keys, session=session), SHARE)
    return ShareRelease(share_of_statement(statement.payload), statement)
