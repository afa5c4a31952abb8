"""Sign-in (签到), the session's side: fresh challenges, and signed answers to them, one use each.

:func:`new_challenge` hands out a random nonce (``challenges``: issued, expires
after :data:`CHALLENGE_LIFETIME`). :func:`accept_signin` takes the bidder's
signed sign-in statement (:func:`bidcrypt.package.make_signin`): it must name
this session and a challenge the session issued, not expired and not used
(``signin-challenge``), be signed by a company signing certificate that
chains to the session's trust store at the arrival time, naming the credit
code of a registered bidder. The sign-in is recorded (``signins``: the
bidder, the time, the certificate's fingerprint, the statement as received)
and its challenge spent, in one transaction under the session lock. The
record lists who signed in and when; a bidder who did not may still release.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from bidcrypt import certs
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.errors import (
    ReleaseMalformedError,
    ReleaseNotForSessionError,
    ReleaseNotThisBidderError,
    SigninChallengeError,
    UnknownBidderError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.accept import judge_signer
from bidcrypt.opening.ledger import now_text, parse_time
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.session import OpeningSession
from bidcrypt.package import MAX_RELEASE, read_signin

__all__ = ["CHALLENGE_LIFETIME", "SigninResult", "accept_signin", "new_challenge"]

#: How long a challenge may be answered.
CHALLENGE_LIFETIME = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class SigninResult:
    """A recorded sign-in."""

    signin: int
    credit_code: str
    bidder: str
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "signin": self.signin,
            "credit_code": self.credit_code,
            "bidder": self.bidder,
            "at": certs.format_time(self.at),
        }


def _now(clock: Clock | None, data: bytes) -> dt.datetime:
    return (clock or SystemClock()).stamp(hashlib.sha256(data).digest()).time.astimezone(dt.UTC)


def new_challenge(session: OpeningSession, clock: Clock | None = None) -> str:
    """A fresh sign-in challenge (32 hex digits), valid for :data:`CHALLENGE_LIFETIME`."""
    nonce = secrets.token_hex(16)
    issued = _now(clock, nonce.encode())
    with SessionLock(session.directory, wait=CHANGE_WAIT), session.ledger.transaction() as db:
        db.execute(
            "INSERT INTO challenges(nonce, issued_at, expires_at) VALUES (?, ?, ?)",
            (nonce, now_text(issued), now_text(issued + CHALLENGE_LIFETIME)),
        )
    return nonce


def accept_signin(
    session: OpeningSession, body: bytes, clock: Clock | None = None, *, session_id: str | None = None
) -> SigninResult:
    """Check and record a signed sign-in (see the module's docstring); raise the refusal otherwise.

    *session_id* is the session's id (default: its profile's).
    """
    arrival = _now(clock, body)
    ours = session_id if session_id is not None else session.profile.session
    if len(body) > MAX_RELEASE:
        raise ReleaseMalformedError(Text("the sign-in is too large", "签到内容过大"))
    signin = read_signin(body)
    if signin.session != ours:
        raise ReleaseNotForSessionError(session=signin.session)
    with SessionLock(session.directory, wait=CHANGE_WAIT):
        challenge = session.ledger.one("SELECT * FROM challenges WHERE nonce = ?", (signin.challenge,))
        if challenge is None:
            raise SigninChallengeError(nonce=signin.challenge, state=Text(" unknown", "未知"))
        if challenge["used_at"] is not None:
            raise SigninChallengeError(nonce=signin.challenge, state=Text(" already used", "已使用"))
        if arrival > parse_time(str(challenge["expires_at"])):
            raise SigninChallengeError(nonce=signin.challenge, state=Text(" expired", "已过期"))
        code = judge_signer(session, signin.statement, arrival)
        if code != signin.credit_code:
            raise ReleaseNotThisBidderError(signer=code, bidder=signin.credit_code)
        bidder = session.ledger.one("SELECT * FROM bidders WHERE credit_code = ?", (code,))
        if bidder is None:
            raise UnknownBidderError(credit_code=code)
        der = signin.statement.signer.public_bytes(serialization.Encoding.DER)
        with session.ledger.transaction() as db:
            spent = db.execute(
                "UPDATE challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL",
                (now_text(arrival), signin.challenge),
            )
            if spent.rowcount != 1:
                raise SigninChallengeError(nonce=signin.challenge, state=Text(" already used", "已使用"))
            cursor = db.execute(
                "INSERT INTO signins(bidder_id, at, nonce, certificate_fingerprint, statement) "
                "VALUES (?, ?, ?, ?, ?)",
                (bidder["id"], now_text(arrival), signin.challenge, hashlib.sha256(der).hexdigest(), body),
            )
    return SigninResult(int(cursor.lastrowid or 0), code, str(bidder["name"]), arrival)
