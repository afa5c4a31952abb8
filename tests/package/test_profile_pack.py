"""``pack --profile``: a package packed to a session profile is accepted by that session and opens there.

End to end through the command line: the session is created with a new
platform opening key (``--opening-key-out``, PKCS#12), the bidder packs to
its published profile without naming the tender or the authority, the
session takes the submission, and ``opening open --key`` opens it with that
key. Contradictions with the profile are refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt import certs
from bidcrypt.opening import OpeningSession

from ..conftest import Pki, SoftHsm, run_bidcrypt, run_cli
from ..opening.conftest import TENDER, move_opening_time_back
from .conftest import make_folder

PASSWORD = "opening-key-pass"
A = "91420100MA4KXB7Q09"


def _ok(*args: object, env: dict[str, str] | None = None) -> str:
    result = run_cli(*[str(a) for a in args], env=env)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def platform_session(pki: Pki, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A platform-custody session with two lots, bidder A registered; its published profile; the key file."""
    session, key_file, profile = tmp_path / "session", tmp_path / "opening.p12", tmp_path / "profile.p7s"
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    created = json.loads(
        _ok(
            "opening", "create", session, "--tender", TENDER, "--lot", "1", "--lot", "2",
            "--deadline", deadline.isoformat(), "--opening-time", deadline.isoformat(),
            "--trust", pki.roots, "--trust", pki.intermediates, "--crl", pki.crl,
            "--custody", "platform", "--opening-key-out", key_file, "--window", "20m", "--json",
            env={"BIDCRYPT_PASSWORD": PASSWORD},
        )
    )  # fmt: skip
    assert created["custody"] == "platform" and created["suite"] == "rsa-3072"
    company = pki.company("bidder-a")
    _ok(
        "opening",
        "register",
        session,
        "--name",
        company["name"],
        "--uscc",
        A,
        "--cert",
        pki.cert("bidder-a/enc"),
    )
    published = json.loads(_ok("opening", "profile", session, "-o", profile, "--json"))
    assert published["sha256"] == created["profile_sha256"] and published["window_seconds"] == 1200
    assert key_file.stat().st_mode & 0o777 == 0o600
    return session, profile, key_file


def _pack(pki: Pki, tmp_path: Path, sealed: Path, profile: Path, *extra: object) -> object:
    source, summary = make_folder(tmp_path / "src", sealed)
    return run_cli(
        "pack", source, "-o", tmp_path / "bid.bid", "--key", pki.p12("bidder-a/sign"),
        "--encrypt-to", pki.cert("bidder-a/enc"), "--summary", summary, "--profile", profile,
        "--trust", pki.roots, "--trust", pki.intermediates, "--json", *[str(e) for e in extra],
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip


@pytest.mark.slow
def test_packed_to_the_profile_submitted_and_opened_with_the_platform_key(
    pki: Pki, tmp_path: Path, sealed_pdfs: dict[str, Path], platform_session: tuple[Path, Path, Path]
) -> None:
    session, profile, key_file = platform_session
    packed = _pack(pki, tmp_path, sealed_pdfs["bidder-a"], profile, "--lot", "2")
    assert packed.exit_code == 0, packed.stderr  # type: ignore[attr-defined]
    report = json.loads(packed.stdout)  # type: ignore[attr-defined]
    assert report["attributes"]["tender"] == TENDER and report["attributes"]["lot"] == "2"
    authority = next(r for r in report["recipients"] if r["role"] == "opening-authority")
    opening_certificate = OpeningSession.load(session, read_only=True).profile.opening_certificate
    assert opening_certificate is not None
    assert authority["subject"] == certs.display_name(opening_certificate)
    assert authority["key_transport"] == "oaep"

    receipt = json.loads(_ok("opening", "submit", session, tmp_path / "bid.bid", "--json"))
    assert receipt["lot"] == "2" and receipt["credit_code"] == A
    loaded = OpeningSession.load(session)
    move_opening_time_back(loaded)
    loaded.close_ledger()
    opened = run_bidcrypt(
        "opening", "open", session, "--key", key_file, "--json", env={"BIDCRYPT_PIN": PASSWORD}
    )
    assert opened.returncode == 0, opened.stderr
    record = json.loads(_ok("opening", "report", session, "--json"))
    rows = record["rows"] if "rows" in record else record["bids"]
    assert [row["status"] for row in rows] == ["opened"], rows


def test_a_single_lot_is_taken_from_the_profile(
    pki: Pki, tmp_path: Path, sealed_pdfs: dict[str, Path]
) -> None:
    session, profile = tmp_path / "one-lot", tmp_path / "one.p7s"
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    _ok(
        "opening", "create", session, "--tender", TENDER, "--lot", "7", "--deadline", deadline,
        "--opening-time", deadline, "--trust", pki.roots, "--custody", "none", "--suite", "p-256",
    )  # fmt: skip
    _ok("opening", "profile", session, "-o", profile)
    packed = _pack(pki, tmp_path, sealed_pdfs["bidder-a"], profile)
    assert packed.exit_code == 0, packed.stderr  # type: ignore[attr-defined]
    report = json.loads(packed.stdout)  # type: ignore[attr-defined]
    assert report["attributes"]["lot"] == "7"
    # custody none: no opening authority, the bidder's own certificate only
    assert [r["role"] for r in report["recipients"]] == ["bidder"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--tender", "OTHER-1"), "--tender 'OTHER-1' contradicts the session profile"),
        (("--lot", "3"), "--lot '3' contradicts the session profile"),
        ((), "choose one with --lot"),
        (("--lot", "1", "--authority-transport", "pkcs1v15"), "--authority-transport 'pkcs1v15' contradicts"),
        (("--lot", "1", "--encrypt-to", "AUTHORITY"), "--encrypt-to"),
    ],
)
def test_a_contradiction_is_refused(
    pki: Pki,
    tmp_path: Path,
    sealed_pdfs: dict[str, Path],
    platform_session: tuple[Path, Path, Path],
    extra: tuple[str, ...],
    message: str,
) -> None:
    _, profile, _ = platform_session
    given = [str(pki.cert("authority/enc")) if e == "AUTHORITY" else e for e in extra]
    result = _pack(pki, tmp_path, sealed_pdfs["bidder-a"], profile, *given)
    assert result.exit_code == 3, result.stderr  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]
    assert "profile-mismatch" in result.stderr or "contradicts" in result.stderr  # type: ignore[attr-defined]
    assert not (tmp_path / "bid.bid").exists()


def test_a_damaged_profile_is_refused(pki: Pki, tmp_path: Path, sealed_pdfs: dict[str, Path]) -> None:
    profile = tmp_path / "bad.p7s"
    profile.write_bytes(b"0\x80not a profile")
    result = _pack(pki, tmp_path, sealed_pdfs["bidder-a"], profile, "--lot", "1")
    assert result.exit_code == 3, result.stderr  # type: ignore[attr-defined]
    assert "not a valid session profile" in result.stderr  # type: ignore[attr-defined]
    assert not (tmp_path / "bid.bid").exists()


@pytest.mark.slow
def test_a_platform_hsm_key_with_its_declared_transport(
    pki: Pki, softhsm: SoftHsm, tmp_path: Path, sealed_pdfs: dict[str, Path]
) -> None:
    """The platform's existing key on a token (SoftHSM2, which undoes OAEP-SHA1, not OAEP-SHA256): the
    profile carries the transport its owner declares, and the token opens what was packed to it."""
    env = {
        "BIDCRYPT_PIN": pki.pin,
        "BIDCRYPT_PKCS11_MODULE": softhsm.module,
        "SOFTHSM2_CONF": str(softhsm.config),
    }
    session, profile = tmp_path / "session", tmp_path / "profile.p7s"
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    _ok(
        "opening", "create", session, "--tender", TENDER, "--lot", "1", "--deadline", deadline,
        "--opening-time", deadline, "--trust", pki.roots, "--trust", pki.intermediates, "--crl", pki.crl,
        "--custody", "platform", "--opening-key", "pkcs11:token=authority",
        "--authority-transport", "oaep-sha1", env=env,
    )  # fmt: skip
    company = pki.company("bidder-a")
    _ok(
        "opening",
        "register",
        session,
        "--name",
        company["name"],
        "--uscc",
        A,
        "--cert",
        pki.cert("bidder-a/enc"),
    )
    _ok("opening", "profile", session, "-o", profile)
    loaded = OpeningSession.load(session, read_only=True)
    assert loaded.profile.transports == ("oaep-sha1",)
    assert loaded.profile.opening_certificate == certs.load_certificate(pki.cert("authority/enc"))
    loaded.close_ledger()
    packed = _pack(pki, tmp_path, sealed_pdfs["bidder-a"], profile)
    assert packed.exit_code == 0, packed.stderr  # type: ignore[attr-defined]
    authority = next(
        r
        for r in json.loads(packed.stdout)["recipients"]  # type: ignore[attr-defined]
        if r["role"] == "opening-authority"
    )
    assert authority["key_transport"] == "oaep-sha1"
    _ok("opening", "submit", session, tmp_path / "bid.bid")
    writable = OpeningSession.load(session)
    move_opening_time_back(writable)
    writable.close_ledger()
    opened = run_bidcrypt("opening", "open", session, "--key", "pkcs11:token=authority", env=env)
    assert opened.returncode == 0, opened.stderr
    record = json.loads(_ok("opening", "report", session, "--json"))
    rows = record["rows"] if "rows" in record else record["bids"]
    assert [row["status"] for row in rows] == ["opened"], rows


def test_declared_transports_are_only_for_an_existing_rsa_key(pki: Pki, tmp_path: Path) -> None:
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    refused = run_cli(
        "opening", "create", tmp_path / "s", "--tender", TENDER, "--deadline", deadline, "--opening-time",
        deadline, "--trust", pki.roots, "--custody", "none", "--authority-transport", "pkcs1v15",
    )  # fmt: skip
    assert refused.exit_code == 3 and "existing RSA opening key" in refused.stderr
    assert list(tmp_path.iterdir()) == []
