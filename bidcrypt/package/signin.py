"""Sign-in (签到), the bidder's side: a signed statement over the session's fresh challenge.

::

    {"type": "bidcrypt-signin", "version": 1, "session": id, "challenge": "<nonce>",
     "credit_code": "...", "time": "..."}

signed by the bidder's company signing certificate (as a release is; see
:mod:`bidcrypt.package.statements`). Nothing in it is secret: it is not sealed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from bidcrypt.clock import Clock, SystemClock
from bidcrypt.errors import InputError, ReleaseMalformedError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.package.release import ReleaseProfile, company_signer
from bidcrypt.package.statements import (
    SIGNIN,
    STATEMENT_VERSION,
    Statement,
    format_statement_time,
    parse_statement_time,
    read_statement,
    sign_statement,
)

__all__ = ["SignIn", "make_signin", "read_signin"]

#: What a challenge looks like: the session's random nonce in hex.
_NONCE = re.compile(r"[0-9a-f]{32,128}")


@dataclass(frozen=True)
class SignIn:
    """A sign-in whose signature verified (its signer not yet judged)."""

    session: str
    challenge: str
    credit_code: str
    time: dt.datetime
    statement: Statement


def make_signin(
    challenge: str,
    keys: KeySource,
    profile: ReleaseProfile,
    clock: Clock | None = None,
    *,
    signer: KeyEntry | None = None,
) -> bytes:
    """The signed sign-in to *challenge* for the session of *profile* (DER SignedData)."""
    if not _NONCE.fullmatch(challenge):
        raise InputError(Text("not a sign-in challenge", "不是签到挑战码"), path=challenge[:80])
    moment = _now(clock, challenge)
    entry, bidder = company_signer(keys, signer, moment)
    payload = {
        "type": SIGNIN,
        "version": STATEMENT_VERSION,
        "session": profile.session,
        "challenge": challenge,
        "credit_code": bidder.credit_code,
        "time": format_statement_time(moment),
    }
    return sign_statement(payload, entry, signing_time=moment)


def _now(clock: Clock | None, challenge: str) -> dt.datetime:
    digest = hashlib.sha256(challenge.encode()).digest()
    return (clock or SystemClock()).stamp(digest).time.astimezone(dt.UTC)


def read_signin(der: bytes) -> SignIn:
    """Check a sign-in's structure, signature and fields (as :func:`read_statement` does)."""
    statement = read_statement(der, SIGNIN)
    payload = statement.payload
    fields = {name: payload.get(name) for name in ("session", "challenge", "credit_code")}
    for name, value in fields.items():
        if not isinstance(value, str) or not value or len(value) > 256:
            raise ReleaseMalformedError(Text("the field {name} is wrong", "字段 {name} 错误", name=name))
    return SignIn(
        str(fields["session"]),
        str(fields["challenge"]),
        str(fields["credit_code"]),
        parse_statement_time(payload.get("time")),
        statement,
    )
