"""Releases accepted by a session: the bid opens through the bulk opening's path, and each hostile
release of the issue's acceptance list is refused with its code, recorded, and changes nothing else."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import (
    BidcryptError,
    ReleaseKeyWrongError,
    ReleaseMalformedError,
    ReleaseNotCompanyError,
    ReleaseNotForSessionError,
    ReleaseNotThisBidderError,
    ReleaseReplayedError,
    ReleaseTooLargeError,
    WindowClosedError,
    WindowNotOpenError,
)
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, accept_release, build_record
from bidcrypt.opening.window import pause_window, resume_window
from bidcrypt.package import make_release, seal, sign_statement

from ..conftest import PKI, Pki, run_cli
from ..release_support import (
    TENDER,
    WINDOW_SECONDS,
    bidder_ukey,
    in_window,
    remote_session,
    start,
)
from .conftest import make_package

BIDDERS = ("bidder-a", "bidder-c", "sm2/bidder-a")


@dataclass(frozen=True)
class Template:
    directory: Path
    packages: dict[str, Path]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Template:
    """A session (custody none, RSA release key) with a bid of each bidder, its window started."""
    directory = tmp_path_factory.mktemp("release")
    packages = {b: make_package(pki, directory, b, authority=False) for b in BIDDERS}
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    session = remote_session(pki, directory / "session", BIDDERS, deadline=deadline)
    for package in packages.values():
        session.submit(package)
    start(session)
    session.close_ledger()
    return Template(directory / "session", packages)


@pytest.fixture
def session(template: Template, tmp_path: Path) -> Iterator[OpeningSession]:
    folder = tmp_path / "session"
    shutil.copytree(template.directory, folder)
    opened = OpeningSession.load(folder)
    yield opened
    opened.close_ledger()


def release_of(
    pki: Pki, template: Template, session: OpeningSession, bidder: str, seconds: float = 60
) -> bytes:
    with bidder_ukey(pki, bidder) as ukey:
        return make_release(template.packages[bidder], ukey, session.profile, in_window(session, seconds))


def number_of(session: OpeningSession, bidder: str) -> int:
    code = session.bidder(bidder_code(session, bidder))["credit_code"]
    rows = [r for r in session.submissions() if r["credit_code"] == code]
    return int(rows[0]["id"])


def bidder_code(session: OpeningSession, bidder: str) -> str:

    return str(json.loads((PKI / "index.json").read_text())["companies"][bidder]["credit_code"])


def state(session: OpeningSession) -> dict[str, Any]:
    """Everything a release may change except its own row of ``releases``."""
    db = sqlite3.connect(session.directory / "ledger.sqlite")
    try:
        tables = {
            name: db.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()  # noqa: S608 - our names
            for name in ("outcomes", "attempts", "submissions", "signins", "window_events", "attributions")
        }
    finally:
        db.close()
    return {**tables, "opened": sorted(p.name for p in (session.directory / "opened").iterdir())}


def releases(session: OpeningSession) -> list[sqlite3.Row]:
    return [r.data for r in session.ledger.query("SELECT * FROM releases ORDER BY id")]  # type: ignore[misc]


def forged(pki: Pki, to: OpeningSession, *, signer: str = "bidder-a/sign", **changes: Any) -> bytes:
    """A release statement of bidder-a's bid with *changes*, signed by *signer*, sealed to session *to*."""
    session = to
    package = session.directory / "submissions" / "1.bid"
    payload: dict[str, Any] = {
        "type": "bidcrypt-release",
        "version": 1,
        "session": session.profile.session,
        "tender": TENDER,
        "lot": "1",
        "credit_code": pki.company("bidder-a")["credit_code"],
        "submission_sha256": hashlib.sha256(package.read_bytes()).hexdigest(),
        "cipher": "aes-256-gcm",
        "content_key": base64.b64encode(os.urandom(32)).decode(),
        "time": "2026-12-01T09:00:00Z",
        **changes,
    }
    with open_key_source(str(pki.p12(signer)), PinSource.of_value(pki.pin)) as source:
        statement = sign_statement(payload, source.entries()[0])
    return seal(statement, session.profile.release_certificate)


# -- the round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("bidder", ["bidder-a", "sm2/bidder-a"])
def test_a_release_opens_the_bid_as_the_bulk_opening_does(
    pki: Pki, template: Template, session: OpeningSession, bidder: str
) -> None:
    """PKCS#12 bidders, RSA and SM2: the bid opens, released by the bidder at the arrival time."""
    body = release_of(pki, template, session, bidder)
    before = state(session)
    arrival = in_window(session, 90)
    result = accept_release(session, body, arrival)
    number = number_of(session, bidder)
    assert (result.submission, result.status) == (number, "opened")
    outcome = session.outcomes()[number]
    assert outcome["status"] == "opened" and outcome["opened_by"] == "release"
    assert outcome["released_at"].startswith(arrival.moment.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (session.directory / "opened" / str(number) / "附件" / "说明.bin").is_file()
    [row] = releases(session)
    assert row["verdict"] == "accepted" and row["code"] is None and row["submission_id"] == number
    assert bytes(row["body"]) == body and row["sha256"] == hashlib.sha256(body).hexdigest()
    after = state(session)
    assert after["opened"] == [str(number)] and before["opened"] == []
    others = [n for n in (1, 2, 3) if n != number]
    assert set(session.outcomes()) == {number} and all(
        n in [r["id"] for r in session.pending()] for n in others
    )
    record = build_record(session)
    assert [r for r in record.rows if r.status == "opened"]


def test_a_softhsm_ukey_releases_its_bid(
    pki: Pki, softhsm: Any, template: Template, session: OpeningSession
) -> None:
    """The bidder's UKey (SoftHSM2) unwraps and signs on the token."""
    from bidcrypt.keys import open_key_source as open_source

    with open_source(softhsm.uri("bidder-a"), PinSource.of_value(pki.pin)) as ukey:
        body = make_release(template.packages["bidder-a"], ukey, session.profile, in_window(session))
    assert accept_release(session, body, in_window(session, 100)).status == "opened"


def test_the_command_accepts_a_release(
    pki: Pki, template: Template, session: OpeningSession, tmp_path: Path
) -> None:
    """`bidcrypt release` with two key files, then `opening accept --json` (the system clock is in
    the window: the session's times are moved back)."""
    profile = tmp_path / "profile.p7s"
    profile.write_bytes(session.profile_bytes())
    release = tmp_path / "a.release"
    made = run_cli(
        "release", template.packages["bidder-a"], "--key", pki.p12("bidder-a/enc"),
        "--key", pki.p12("bidder-a/sign"), "--profile", profile, "-o", release, "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    _move_window_to_now(session)
    accepted = run_cli("opening", "accept", session.directory, release, "--json")
    assert accepted.exit_code == 0, accepted.output
    assert '"status": "opened"' in accepted.stdout
    again = run_cli("opening", "accept", session.directory, release, "--json")
    assert again.exit_code == 84  # release-replayed
    assert "release-replayed" in again.stderr


def _move_window_to_now(session: OpeningSession) -> None:
    """Shift the session's times so that its window runs now (the command reads the system clock)."""
    shift = dt.datetime.now(dt.UTC) - in_window(session, 60).moment
    from bidcrypt.opening.ledger import now_text, parse_time

    with session.ledger.transaction() as db:
        for key in ("deadline", "opening_time"):
            value = parse_time(str(session.ledger.meta(key)))
            db.execute("UPDATE meta SET value = ? WHERE key = ?", (now_text(value + shift), key))
        for row in db.execute("SELECT id, at FROM window_events").fetchall():
            db.execute(
                "UPDATE window_events SET at = ? WHERE id = ?", (now_text(parse_time(row[1]) + shift), row[0])
            )


# -- hostile releases ---------------------------------------------------------------------------


def refused(
    session: OpeningSession, body: bytes, error: type[BidcryptError], seconds: float = 120, **kw: Any
) -> sqlite3.Row:
    """Accept *body*: refused with *error*, recorded without the body, nothing else changed."""
    before = state(session)
    count = len(releases(session))
    with pytest.raises(error) as caught:
        accept_release(session, body, in_window(session, seconds), **kw)
    assert state(session) == before
    rows = releases(session)
    assert len(rows) == count + 1
    row = rows[-1]
    assert row["verdict"] == "refused" and row["code"] == caught.value.code and row["body"] is None
    return row


def test_another_bidders_bid(pki: Pki, session: OpeningSession) -> None:
    """bidder-c signs a release of bidder-a's submission."""
    body = forged(pki, session, signer="bidder-c/sign", credit_code=pki.company("bidder-c")["credit_code"])
    row = refused(session, body, ReleaseNotThisBidderError)
    assert row["submission_id"] == 1


def test_after_the_window(pki: Pki, template: Template, session: OpeningSession) -> None:
    body = release_of(pki, template, session, "bidder-a")
    refused(session, body, WindowClosedError, seconds=WINDOW_SECONDS + 1)
    refused(session, release_of(pki, template, session, "bidder-a", 1), WindowNotOpenError, seconds=-30)


def test_a_paused_window_refuses_and_a_resumed_one_accepts(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    """The same body, refused while the window is paused, is no replay once it resumes."""
    from bidcrypt.errors import WindowPausedError

    body = release_of(pki, template, session, "bidder-a")
    pause_window(session, "platform outage", clock=in_window(session, 100))
    refused(session, body, WindowPausedError, seconds=110)
    resume_window(session, clock=in_window(session, 200))
    assert accept_release(session, body, in_window(session, 210)).status == "opened"


def test_a_release_from_another_session(
    pki: Pki, template: Template, session: OpeningSession, tmp_path: Path
) -> None:
    """Made for another session (its profile, its release key): not for this one; and a replay here."""
    other = remote_session(pki, tmp_path / "other", BIDDERS, deadline=session.settings.deadline)
    with bidder_ukey(pki, "bidder-a") as ukey:
        elsewhere = make_release(template.packages["bidder-a"], ukey, other.profile, in_window(session))
    refused(session, elsewhere, ReleaseNotForSessionError)
    named = forged(pki, session, session="0" * 32)
    refused(session, named, ReleaseNotForSessionError)
    body = release_of(pki, template, session, "bidder-a")
    accept_release(session, body, in_window(session, 130))
    refused(session, body, ReleaseReplayedError, seconds=140)


def test_a_key_that_does_not_open_leaves_the_bid_pending(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    wrong = forged(pki, session)
    refused(session, wrong, ReleaseKeyWrongError)
    refused(session, wrong, ReleaseReplayedError, seconds=125)
    assert 1 in [r["id"] for r in session.pending()]
    again = release_of(pki, template, session, "bidder-a", 5)  # the bidder releases again within the window
    assert accept_release(session, again, in_window(session, 150)).status == "opened"


def test_signed_by_the_personal_certificate(pki: Pki, session: OpeningSession) -> None:
    """The legal representative's certificate (法人章, ``bidder-a/legal``) names the company: a person's."""
    refused(session, forged(pki, session, signer="bidder-a/legal"), ReleaseNotCompanyError)


def test_a_huge_body_and_garbage(pki: Pki, session: OpeningSession, tmp_path: Path) -> None:
    refused(session, b"\x30" * (64 << 10) + b"x", ReleaseTooLargeError)
    row = refused(
        session, b"x", ReleaseTooLargeError, size=1 << 30
    )  # a 1 GiB body, of which a little was read
    assert row["size"] == 1 << 30
    refused(session, os.urandom(3000), ReleaseMalformedError)
    refused(session, b"", ReleaseMalformedError)
    huge = tmp_path / "huge.release"
    with huge.open("wb") as sparse:
        sparse.truncate(1 << 30)
    _move_window_to_now(session)
    result = run_cli("opening", "accept", session.directory, huge)
    assert result.exit_code == 82 and "release-too-large" in result.stderr
    assert releases(session)[-1]["size"] == 1 << 30


def test_a_release_of_a_withdrawn_or_unknown_submission(pki: Pki, session: OpeningSession) -> None:
    from bidcrypt.errors import ReleaseNoSubmissionError

    refused(session, forged(pki, session, submission_sha256="ab" * 32), ReleaseNoSubmissionError)


def test_refused_releases_are_in_the_record_and_keep_no_secret(pki: Pki, session: OpeningSession) -> None:
    """A refused body is not kept: its content key is nowhere in the ledger."""
    body = forged(pki, session)
    with pytest.raises(ReleaseKeyWrongError):
        accept_release(session, body, in_window(session))
    ledger = (session.directory / "ledger.sqlite").read_bytes()
    assert body not in ledger


@settings(max_examples=25)
@given(data=st.data())
def test_changed_releases_never_crash_the_session(
    pki: Pki, template: Template, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    """Bit flips and cuts of a good release: refused with a bidcrypt error and recorded, or accepted."""
    folder = tmp_path_factory.mktemp("flips") / "session"
    shutil.copytree(template.directory, folder)
    session = OpeningSession.load(folder)
    try:
        body = bytearray(_good_release(pki, template, session))
        for _ in range(data.draw(st.integers(0, 3))):
            body[data.draw(st.integers(0, len(body) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        body = body[: data.draw(st.integers(0, len(body)))]
        try:
            accept_release(session, bytes(body), in_window(session))
        except BidcryptError as error:
            assert releases(session)[-1]["code"] == error.code
        assert len(releases(session)) == 1
    finally:
        session.close_ledger()


_GOOD: dict[str, bytes] = {}


def _good_release(pki: Pki, template: Template, session: OpeningSession) -> bytes:
    """bidder-c's release, made once (every copy of the template has the same profile)."""
    if "c" not in _GOOD:
        _GOOD["c"] = release_of(pki, template, session, "bidder-c")
    return _GOOD["c"]


def test_a_service_opens_in_its_own_process_with_the_release_key_it_holds(
    pki: Pki, template: Template, session: OpeningSession
) -> None:
    """``in_process`` (a long-running service): the same worker function, no process started; the
    release key opened once and passed in."""
    body = release_of(pki, template, session, "bidder-c")
    with session.release_keys() as keys:
        result = accept_release(session, body, in_window(session), release_keys=keys, in_process=True)
    assert result.status == "opened"
    number = number_of(session, "bidder-c")
    assert session.outcomes()[number]["opened_by"] == "release"
    assert sorted(p.name for p in (session.directory / "opened").iterdir()) == [str(number)]
