"""Sign-in (签到): a fresh challenge signed by the company certificate, one use each, recorded."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bidcrypt.clock import FixedClock
from bidcrypt.errors import (
    ReleaseMalformedError,
    ReleaseNotCompanyError,
    ReleaseNotForSessionError,
    SealKindMismatchError,
    SigninChallengeError,
)
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, accept_signin, new_challenge
from bidcrypt.opening.signin import CHALLENGE_LIFETIME
from bidcrypt.package import make_signin, sign_statement

from ..conftest import Pki, run_cli
from ..release_support import bidder_ukey, remote_session

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def session(pki: Pki, tmp_path: Path) -> OpeningSession:
    return remote_session(
        pki, tmp_path / "s", ("bidder-a", "sm2/bidder-a"), suite="p-256", deadline=NOW + dt.timedelta(hours=1)
    )


def signins(session: OpeningSession) -> list[sqlite3.Row]:
    return [r.data for r in session.ledger.query("SELECT * FROM signins ORDER BY id")]  # type: ignore[misc]


@pytest.mark.parametrize("bidder", ["bidder-a", "sm2/bidder-a"])
def test_a_bidder_signs_in_once_per_challenge(pki: Pki, session: OpeningSession, bidder: str) -> None:
    nonce = new_challenge(session, FixedClock(NOW))
    with bidder_ukey(pki, bidder) as ukey:
        body = make_signin(nonce, ukey, session.profile, FixedClock(NOW + dt.timedelta(minutes=1)))
    result = accept_signin(session, body, FixedClock(NOW + dt.timedelta(minutes=2)))
    assert (
        result.credit_code == pki.company(bidder)["credit_code"]
        and result.bidder == pki.company(bidder)["name"]
    )
    [row] = signins(session)
    assert row["nonce"] == nonce and bytes(row["statement"]) == body
    assert row["at"].startswith("2026-12-01T08:02:00")
    with pytest.raises(SigninChallengeError, match="already used"):
        accept_signin(session, body, FixedClock(NOW + dt.timedelta(minutes=3)))
    assert len(signins(session)) == 1


def test_an_expired_or_unknown_challenge_and_another_session(pki: Pki, session: OpeningSession) -> None:
    nonce = new_challenge(session, FixedClock(NOW))
    with bidder_ukey(pki, "bidder-a") as ukey:
        body = make_signin(nonce, ukey, session.profile, FixedClock(NOW))
        unknown = make_signin("ab" * 16, ukey, session.profile, FixedClock(NOW))
    with pytest.raises(SigninChallengeError, match="expired"):
        accept_signin(session, body, FixedClock(NOW + CHALLENGE_LIFETIME + dt.timedelta(seconds=1)))
    with pytest.raises(SigninChallengeError, match="unknown"):
        accept_signin(session, unknown, FixedClock(NOW))
    with pytest.raises(ReleaseNotForSessionError):
        accept_signin(session, body, FixedClock(NOW), session_id="0" * 32)
    with pytest.raises(ReleaseMalformedError):
        accept_signin(session, b"\x30\x03\x02\x01\x00", FixedClock(NOW))
    assert signins(session) == []


def test_the_personal_certificate_cannot_sign_in(pki: Pki, session: OpeningSession) -> None:
    nonce = new_challenge(session, FixedClock(NOW))
    with bidder_ukey(pki, "bidder-a", signing="legal") as personal, pytest.raises(SealKindMismatchError):
        make_signin(nonce, personal, session.profile)
    payload = {
        "type": "bidcrypt-signin",
        "version": 1,
        "session": session.profile.session,
        "challenge": nonce,
        "credit_code": pki.company("bidder-a")["credit_code"],
        "time": "2026-12-01T08:00:00Z",
    }
    with open_key_source(str(pki.p12("bidder-a/legal")), PinSource.of_value(pki.pin)) as source:
        forged = sign_statement(payload, source.entries()[0])
    with pytest.raises(ReleaseNotCompanyError):
        accept_signin(session, forged, FixedClock(NOW))
    assert signins(session) == []


def test_the_commands(pki: Pki, session: OpeningSession, tmp_path: Path) -> None:
    """`opening challenge`, `bidcrypt signin`, `opening signin --json` (the system clock)."""
    challenge = run_cli("opening", "challenge", session.directory)
    assert challenge.exit_code == 0, challenge.output
    nonce = challenge.stdout.strip()
    profile = tmp_path / "profile.p7s"
    profile.write_bytes(session.profile_bytes())
    signed = tmp_path / "signin.p7s"
    made = run_cli(
        "signin", "--challenge", nonce, "--key", pki.p12("bidder-a/sign"), "--profile", profile, "-o", signed,
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    recorded = run_cli("opening", "signin", session.directory, signed, "--json")
    assert recorded.exit_code == 0, recorded.output
    assert pki.company("bidder-a")["credit_code"] in recorded.stdout
    again = run_cli("opening", "signin", session.directory, signed)
    assert again.exit_code == 92 and "signin-challenge" in again.stderr
