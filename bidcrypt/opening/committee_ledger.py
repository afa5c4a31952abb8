"""The session's side of a committee's shares: accepting a share release, counting, reading back.

:func:`accept_share` takes a share release as received (a share statement
signed by the member, sealed to the session's release key) and records it in
the ledger's ``releases`` table (kind ``share``), accepted or refused with
its code, whatever becomes of it. It is refused before the opening time (no
member, nor fewer than k of them, can act early), outside the running
decryption window (``window-not-open``, ``window-paused``, ``window-closed``),
when it is not a share statement of this session (``release-malformed``,
``release-not-for-session``), when its signature or the signer's chain fails
(``release-signature-invalid``), when the signer is not the member it names
(``share-not-member``), when the share is not the member's
(``share-mismatch``), and when the same body, or a share of the same member,
was already accepted (``release-replayed``). A body refused before may be
sent again: only what was accepted counts as received twice. The body is kept
as received, still sealed to the release key: the ledger never holds a share
in the clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.envelope import Keys
from bidcrypt.errors import (
    BidcryptError,
    CertificateError,
    CommitteeError,
    NotOpeningTimeError,
    ReleaseNotForSessionError,
    ReleaseReplayedError,
    ReleaseSignatureInvalidError,
    ReleaseTooLargeError,
    ShareMismatchError,
    ShareNotMemberError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.causes import stored
from bidcrypt.opening.ledger import Row, now_text
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.session_view import SessionView
from bidcrypt.opening.window import require_running
from bidcrypt.package import MAX_RELEASE, MemberShare, ShareRelease, read_share_release, share_digest

#: The ledger ``meta`` keys of the committee: its quorum and the session id its shares are bound to.
QUORUM_META = "committee_quorum"
SESSION_META = "committee_session"

__all__ = [
    "QUORUM_META",
    "SESSION_META",
    "AcceptedShare",
    "accept_share_with",
    "committee_quorum",
    "committee_session",
    "released_shares",
    "shares_released",
]


@dataclass(frozen=True)
class AcceptedShare:
    """A share release the session accepted: which member, when, and where it is in ``releases``."""

    member: int
    name: str
    at: dt.datetime
    release: int
    quorum: int
    released: int
    members: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (no share in it)."""
        return {
            "member": self.member,
            "name": self.name,
            "at": certs.format_time(self.at),
            "release": self.release,
            "shares": {"quorum": self.quorum, "released": self.released, "members": self.members},
        }


def committee_quorum(session: SessionView) -> int | None:
    """The session's quorum k, or None when its opening key is not in a committee's custody."""
    value = session.ledger.meta(QUORUM_META)
    return int(value) if value is not None and value.isdigit() else None


def committee_session(session: SessionView) -> str:
    """The session id the committee's shares are bound to."""
    value = session.ledger.meta(SESSION_META)
    if not value or committee_quorum(session) is None:
        raise CommitteeError(Text("the session has no opening committee", "本会话没有开标委员会"))
    return value


def shares_released(session: SessionView) -> tuple[int, int, int]:
    """(k, released, n): the quorum, how many members' shares were accepted, how many members.

    (0, 0, 0) for a session without a committee.
    """
    quorum = committee_quorum(session) or 0
    members = session.ledger.one("SELECT COUNT(*) AS n FROM committee_members")
    released = session.ledger.one(
        "SELECT COUNT(DISTINCT member) AS n FROM releases WHERE kind = 'share' AND verdict = 'accepted'"
    )
    return quorum, int(released["n"]) if released else 0, int(members["n"]) if members else 0


def accept_share_with(
    session: SessionView, body: bytes, release_keys: Keys, clock: Clock | None = None, size: int | None = None
) -> AcceptedShare:
    """:func:`bidcrypt.opening.accept_share` with the session's release key given (see the module).

    *size* is the body's full size when *body* holds only its first bytes.
    """
    sha256 = hashlib.sha256(body).hexdigest()
    full_size = len(body) if size is None else max(size, len(body))
    with SessionLock(session.directory, wait=CHANGE_WAIT):
        moment = (clock or SystemClock()).stamp(bytes.fromhex(sha256)).time.astimezone(dt.UTC)
        member: int | None = None
        try:
            released = _check(session, body, full_size, moment, release_keys)
            member = released.share.member
            row = _member_row(session, member)
            _judge(session, released, row, sha256, moment)
        except BidcryptError as error:
            _record(session, moment, sha256, full_size, body, member, error)
            raise
        number = _record(session, moment, sha256, full_size, body, member, None)
    quorum, count, members = shares_released(session)
    return AcceptedShare(member, str(row["name"]), moment, number, quorum, count, members)


def _check(session: SessionView, body: bytes, size: int, moment: dt.datetime, keys: Keys) -> ShareRelease:
    """The refusals that need no share: the size, the time, a replayed body, the envelope and signature."""
    if size > MAX_RELEASE:
        raise ReleaseTooLargeError(size=size, limit=MAX_RELEASE)
    sha256 = hashlib.sha256(body).hexdigest()
    settings = session.settings
    if moment < settings.opening_time:
        raise NotOpeningTimeError(opening_time=certs.format_time(settings.opening_time))
    require_running(session, moment)
    session_id = committee_session(session)
    replayed = session.ledger.one(
        "SELECT id FROM releases WHERE sha256 = ? AND verdict = 'accepted'", (sha256,)
    )
    if replayed is not None:
        raise ReleaseReplayedError(sha256=sha256)
    released = read_share_release(body, keys, session=session_id)
    if released.share.session != session_id:
        raise ReleaseNotForSessionError(session=released.share.session)
    return released


def _member_row(session: SessionView, member: int) -> Row:
    row = session.ledger.one("SELECT * FROM committee_members WHERE member = ?", (member,))
    if row is None:
        raise ShareNotMemberError(Text("no such member", "无此成员"), member=member)
    return row


def _judge(session: SessionView, released: ShareRelease, row: Row, sha256: str, moment: dt.datetime) -> None:
    """The signer is the member, trusted at *moment*; the share is the member's, not yet released."""
    member = released.share.member
    encryption = certs.from_der(bytes(row["certificate"]))
    signer = released.signer
    if signer.subject != encryption.subject or Purpose.SIGNING not in certs.purposes(signer):
        raise ShareNotMemberError(
            Text("signed by {signer}", "签名者为 {signer}", signer=certs.display_name(signer)), member=member
        )
    try:
        session.trust_store().validate(signer, moment, released.statement.certificates)
    except CertificateError as exc:
        raise ReleaseSignatureInvalidError(Text("{error}", "{error}", error=exc)) from exc
    if share_digest(released.share.share) != row["share_digest"]:
        raise ShareMismatchError(member=member)
    earlier = session.ledger.one(
        "SELECT id FROM releases WHERE kind = 'share' AND verdict = 'accepted' AND member = ?", (member,)
    )
    if earlier is not None:
        why = Text("member {member} released before", "成员 {member} 已释放过密钥分量", member=member)
        raise ReleaseReplayedError(why, sha256=sha256)


def _record(
    session: SessionView,
    moment: dt.datetime,
    sha256: str,
    size: int,
    body: bytes,
    member: int | None,
    error: BidcryptError | None,
) -> int:
    """A ``releases`` row for *body*: accepted (with the body, still sealed) or refused with *error*."""
    known = member if member is not None and _is_member(session, member) else None
    with session.ledger.transaction() as db:
        cursor = db.execute(
            "INSERT INTO releases(at, kind, sha256, size, member, verdict, code, message, message_zh, "
            "params, body) VALUES (?, 'share', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now_text(moment),
                sha256,
                size,
                known,
                "accepted" if error is None else "refused",
                None if error is None else error.code,
                None if error is None else error.message("en"),
                None if error is None else error.message("zh"),
                None if error is None else stored(error),
                body if error is None else None,
            ),
        )
        return int(cursor.lastrowid or 0)


def _is_member(session: SessionView, member: int) -> bool:
    return session.ledger.one("SELECT member FROM committee_members WHERE member = ?", (member,)) is not None


def released_shares(session: SessionView, release_keys: Keys) -> dict[int, MemberShare]:
    """The accepted shares, opened again from their stored bodies with the release key: member → share.

    Each is checked again against the member's digest; a stored body that no
    longer opens or agrees is a damaged ledger (:class:`CommitteeError`).
    """
    session_id = committee_session(session)
    digests = {
        int(r["member"]): str(r["share_digest"])
        for r in session.ledger.query("SELECT member, share_digest FROM committee_members")
    }
    shares: dict[int, MemberShare] = {}
    rows = session.ledger.query(
        "SELECT id, member, body FROM releases WHERE kind = 'share' AND verdict = 'accepted' ORDER BY id"
    )
    for row in rows:
        try:
            share = read_share_release(bytes(row["body"] or b""), release_keys, session=session_id).share
        except BidcryptError as exc:
            raise _damaged(int(row["id"])) from exc
        if share.session != session_id or digests.get(share.member) != share_digest(share.share):
            raise _damaged(int(row["id"]))
        shares.setdefault(share.member, share)
    return shares


def _damaged(release: int) -> CommitteeError:
    return CommitteeError(
        Text(
            "the accepted share release {release} no longer opens or agrees with its member",
            "已接受的密钥分量释放 {release} 无法再打开或与其成员不符",
            release=release,
        )
    )
