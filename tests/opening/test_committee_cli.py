"""The committee's commands as a user runs them: create, share-release, accept-share, open --committee."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt.clock import FixedClock
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.window import start_window

from ..conftest import Pki, run_bidcrypt
from .committee_support import BIDDERS, MEMBERS, pack_bid
from .conftest import TENDER


def _run(*args: object, clock_at: dt.datetime | None = None, **env: str) -> tuple[int, str, str]:
    result = run_bidcrypt(*[str(a) for a in args], env={"BIDCRYPT_LANG": "en", **env}, clock_at=clock_at)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def _ok(*args: object, clock_at: dt.datetime | None = None, **env: str) -> str:
    code, out, err = _run(*args, clock_at=clock_at, **env)
    assert code == 0, (args, out, err)
    return out


@pytest.mark.slow
def test_two_members_release_from_the_command_line_and_the_session_opens(pki: Pki, tmp_path: Path) -> None:
    env = {"BIDCRYPT_PIN": pki.pin}
    session_dir = tmp_path / "session"
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    opening_time = deadline + dt.timedelta(seconds=1)
    trust = pki.root / "trust"
    members = [arg for member in MEMBERS for arg in ("--member", pki.cert(f"{member}/enc"))]
    created = json.loads(
        _ok(
            "opening",
            "create",
            session_dir,
            "--tender",
            TENDER,
            "--lot",
            "1",
            "--deadline",
            deadline.isoformat(),
            "--opening-time",
            opening_time.isoformat(),
            "--trust",
            pki.roots,
            "--trust",
            pki.intermediates,
            "--trust",
            trust / "sm2-roots.pem",
            "--trust",
            trust / "sm2-intermediates.pem",
            "--crl",
            pki.crl,
            "--custody",
            "committee",
            "--suite",
            "p-256",
            *members,
            "--quorum",
            "2",
            "--json",
        )
    )
    assert created["custody"] == "committee"
    profile = tmp_path / "profile.p7s"
    _ok("opening", "profile", session_dir, "-o", profile)

    session = OpeningSession.load(session_dir)
    opening_certificate = session.profile.opening_certificate
    assert opening_certificate is not None
    for bidder in BIDDERS:
        company = pki.company(bidder)
        _ok(
            "opening",
            "register",
            session_dir,
            "--name",
            company["name"],
            "--uscc",
            company["credit_code"],
            "--cert",
            pki.cert(f"{bidder}/enc"),
        )
        session.submit(pack_bid(pki, tmp_path, bidder, opening_certificate))
    start_window(session, 1800, FixedClock(opening_time + dt.timedelta(seconds=1)))
    session.close_ledger()
    later = opening_time + dt.timedelta(minutes=2)

    releases = []
    for index in (1, 3):
        member = MEMBERS[index - 1]
        out = tmp_path / f"share-{index}.release"
        _ok(
            "opening",
            "share-release",
            session_dir / "custody" / f"share-{index}.p7m",
            "--key",
            pki.p12(f"{member}/enc"),
            "--key",
            pki.p12(f"{member}/sign"),
            "--profile",
            profile,
            "-o",
            out,
            clock_at=later,
            **env,
        )
        releases.append(out)

    code, _, err = _run("opening", "open", session_dir, "--committee", clock_at=later)
    assert code == 72 and "0 of 3 shares released" in err
    accepted = json.loads(_ok("opening", "accept-share", session_dir, releases[0], "--json", clock_at=later))
    assert accepted["member"] == 1 and accepted["shares"] == {"quorum": 2, "released": 1, "members": 3}
    code, _, err = _run("opening", "open", session_dir, "--committee", clock_at=later)
    assert code == 72 and "1 of 3 shares released" in err and "quorum-not-reached" in err

    code, _, err = _run("opening", "accept-share", session_dir, releases[0], clock_at=later)
    assert code == 84 and "release-replayed" in err
    code, _, err = _run("opening", "accept-share", session_dir, profile, clock_at=later)
    assert code in (81, 83), err  # not a share release
    early = opening_time - dt.timedelta(minutes=1)
    code, _, err = _run("opening", "accept-share", session_dir, releases[1], clock_at=early)
    assert code == 61 and "not-opening-time" in err

    text = _ok("opening", "accept-share", session_dir, releases[1], clock_at=later)
    assert "2 of 3 shares released" in text
    code, _, err = _run("opening", "open", session_dir, clock_at=later)
    assert code == 3 and "--committee" in err  # one of --key and --committee
    opened = json.loads(
        _ok("opening", "open", session_dir, "--committee", "--workers", "1", "--json", clock_at=later)
    )
    assert len(opened["opened"]) == 3 and not opened["failed"]

    reloaded = OpeningSession.load(session_dir, read_only=True)
    refusals = reloaded.ledger.query("SELECT code FROM releases WHERE verdict = 'refused' ORDER BY id")
    assert [r["code"] for r in refusals][:1] == ["release-replayed"] and len(refusals) == 3
    assert {str(r["opened_by"]) for r in reloaded.outcomes().values()} == {"committee"}


def test_share_release_refuses_a_share_file_of_another_member(pki: Pki, tmp_path: Path) -> None:
    from .committee_support import committee_session

    committee = committee_session(pki, tmp_path / "session")
    profile = tmp_path / "profile.p7s"
    profile.write_bytes(committee.session.profile_bytes())
    code, _, err = _run(
        "opening",
        "share-release",
        committee.session.directory / "custody" / "share-2.p7m",
        "--key",
        pki.p12("bidder-a/enc"),
        "--key",
        pki.p12("bidder-a/sign"),
        "--profile",
        profile,
        "-o",
        tmp_path / "out",
        BIDCRYPT_PIN=pki.pin,
    )
    assert code != 0 and code != 70, err
    assert not (tmp_path / "out").exists()
