"""`opening create --custody ...`: the session's keys and signed profile, all of it or nothing.

Each suite, custody ``none`` and ``platform`` (a new PKCS#12 key or an
existing key's certificate); ``committee`` (its shares made by
:mod:`bidcrypt.opening.committee`);
a failed or killed create leaves no folder, no release key, no key file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt import certs
from bidcrypt.errors import InputError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, RemoteSettings, creation, custody
from bidcrypt.opening.session_keys import RELEASE_KEY_FILE
from bidcrypt.package import SESSION_SUITES, profile_sha256, read_profile

from ..conftest import Pki, require_tool, run_bidcrypt, run_cli

DEADLINE = "2026-12-01T09:30+08:00"
MOMENT = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
PASSWORD = "new-key-pass"


def _create(pki: Pki, session: Path, *extra: object, env: dict[str, str] | None = None) -> object:
    return run_cli(
        "opening", "create", session, "--tender", "HBGP-2026-001", "--lot", "1", "--deadline", DEADLINE,
        "--opening-time", DEADLINE, "--trust", pki.roots, *[str(e) for e in extra], "--json", env=env,
    )  # fmt: skip


def _nothing_made(tmp_path: Path, keep: tuple[str, ...] = ()) -> None:
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in keep) == []


@pytest.mark.parametrize("suite", SESSION_SUITES)
@pytest.mark.parametrize("model", ["none", "platform"])
def test_create_with_each_suite(pki: Pki, tmp_path: Path, suite: str, model: str) -> None:
    session, key_file = tmp_path / "s", tmp_path / "opening.p12"
    extra = ["--opening-key-out", key_file] if model == "platform" else []
    result = _create(
        pki, session, "--custody", model, "--suite", suite, *extra, env={"BIDCRYPT_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    report = json.loads(result.stdout)  # type: ignore[attr-defined]
    loaded = OpeningSession.load(session)
    profile = loaded.profile
    assert report["session_id"] == loaded.session_id == profile.session
    assert report["profile_sha256"] == profile_sha256((session / "profile.p7s").read_bytes())
    assert profile.suite == suite and profile.custody.model == model and profile.lots == ("1",)
    assert profile.deadline == MOMENT and profile.opening_time == MOMENT
    release = profile.release_certificate
    assert certs.common_name(release) == f"bidcrypt release key {loaded.session_id}"
    assert release.not_valid_after_utc == MOMENT + dt.timedelta(days=30)
    assert (session / RELEASE_KEY_FILE).stat().st_mode & 0o777 == 0o600
    with loaded.release_keys() as source:
        assert source.entries()[0].certificate == release
    if model == "none":
        assert profile.opening_certificate is None and not key_file.exists()
        return
    opening = profile.opening_certificate
    assert opening is not None and certs.common_name(opening) == f"bidcrypt opening key {loaded.session_id}"
    assert certs.purposes(opening) == {certs.Purpose.ENCRYPTION}
    assert key_file.stat().st_mode & 0o777 == 0o600
    with open_key_source(key_file, PinSource.of_value(PASSWORD)) as source:
        assert [e.certificate for e in source.entries()] == [opening]


def test_two_sessions_have_different_ids(pki: Pki, tmp_path: Path) -> None:
    ids = {
        OpeningSession.create(
            tmp_path / name, tender="T", deadline=MOMENT, opening_time=MOMENT, trust=[pki.roots]
        ).session_id
        for name in ("a", "b")
    }
    assert len(ids) == 2 and all(len(i or "") == 32 for i in ids)


def test_a_session_without_custody_has_no_profile_and_still_works(pki: Pki, tmp_path: Path) -> None:
    result = run_cli(
        "opening", "create", tmp_path / "s", "--tender", "T", "--deadline", DEADLINE, "--opening-time",
        DEADLINE, "--trust", pki.roots,
    )  # fmt: skip
    assert result.exit_code == 0
    loaded = OpeningSession.load(tmp_path / "s")
    made = sorted(p.name for p in (tmp_path / "s").iterdir() if not p.name.endswith(("-wal", "-shm")))
    assert not loaded.has_profile and made == [
        "ledger.sqlite",
        "open.lock",
        "opened",
        "submissions",
        "trust",
    ]
    with pytest.raises(InputError, match="no profile"):
        loaded.profile_bytes()
    refused = run_cli("opening", "profile", tmp_path / "s", "-o", tmp_path / "p.p7s")
    assert refused.exit_code == 3 and "no profile" in refused.stderr
    assert not (tmp_path / "p.p7s").exists()


def test_platform_with_an_existing_key_uses_its_encryption_certificate(pki: Pki, tmp_path: Path) -> None:
    result = _create(
        pki, tmp_path / "s", "--custody", "platform", "--opening-key", pki.p12("authority/enc"),
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    profile = OpeningSession.load(tmp_path / "s").profile
    assert profile.opening_certificate == certs.load_certificate(pki.cert("authority/enc"))


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--custody", "platform", "--suite", "p-256", "--opening-key", "AUTHORITY"), 3, "exactly one p-256"),
        (("--custody", "platform"), 3, "one of --opening-key or --opening-key-out"),
        (("--custody", "none", "--opening-key-out", "K"), 3, "for custody platform"),
        (("--custody", "committee", "--member", "A", "--quorum", "2"), 3, "n ≥ 2"),
        (("--custody", "none", "--rule", "majority"), 3, "unknown rule"),
        (("--custody", "none", "--rule", "minimum:0"), 3, "unknown rule"),
        (("--custody", "none", "--rule", " minimum:3"), 3, "unknown rule"),  # not as the opening reads it
        (("--custody", "none", "--service-url", "ftp://x"), 3, "http(s)"),
        (("--custody", "none", "--window", "soon"), 2, "not a length"),
        (
            (
                "--suite",
                "sm2",
            ),
            2,
            "need --custody",
        ),
    ],
)
def test_refused_settings_make_nothing(
    pki: Pki, tmp_path: Path, extra: tuple[str, ...], code: int, message: str
) -> None:
    names = {
        "AUTHORITY": pki.p12("authority/enc"),
        "K": tmp_path / "k.p12",
        "A": pki.cert("bidder-a/enc"),
        "B": pki.cert("bidder-b/enc"),
    }
    given = [names.get(e, e) for e in extra]
    result = _create(pki, tmp_path / "s", *given, env={"BIDCRYPT_PIN": pki.pin, "BIDCRYPT_PASSWORD": "x"})
    assert result.exit_code == code, result.stderr  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]
    _nothing_made(tmp_path)


def test_committee_custody_lists_its_members_in_the_profile(pki: Pki, tmp_path: Path) -> None:
    members = [pki.cert(f"bidder-{x}/enc") for x in "abc"]
    extra = [a for m in members for a in ("--member", m)]
    result = _create(
        pki, tmp_path / "s", "--custody", "committee", *extra, "--quorum", "2", "--suite", "p-256"
    )
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    loaded = OpeningSession.load(tmp_path / "s")
    profile = loaded.profile
    assert profile.custody.model == "committee" and profile.custody.quorum == 2
    assert [m.member for m in profile.custody.members] == [1, 2, 3]
    digests = [
        hashlib.sha256(certs.load_certificate(m).public_bytes(Encoding.DER)).hexdigest() for m in members
    ]
    assert [m.certificate_sha256 for m in profile.custody.members] == digests
    assert profile.opening_certificate is not None and certs.is_sm2(profile.opening_certificate) is False
    assert sorted(p.name for p in (tmp_path / "s" / "custody").iterdir() if p.name.startswith("share-")) == [
        "share-1.p7m",
        "share-2.p7m",
        "share-3.p7m",
    ]


def test_a_new_key_file_without_a_password_is_refused(pki: Pki, tmp_path: Path) -> None:
    result = _create(pki, tmp_path / "s", "--custody", "platform", "--opening-key-out", tmp_path / "k.p12")
    assert result.exit_code == 16, result.stderr  # type: ignore[attr-defined]
    _nothing_made(tmp_path)


def _settings(tmp_path: Path) -> RemoteSettings:
    return RemoteSettings(
        custody="platform", suite="p-256", opening_key_out=tmp_path / "k.p12", opening_key_password=PASSWORD
    )


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("point", ["profile", "key file", "publishing"])
def test_a_remote_create_failing_midway_leaves_nothing(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str, existing: bool
) -> None:
    target = tmp_path / "s"
    if existing:
        target.mkdir()
        if point == "publishing":
            return  # an existing folder is filled in place: nothing to publish
    error = OSError(28, "No space left on device")

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    if point == "profile":
        monkeypatch.setattr(custody, "write_profile", fail)
    elif point == "key file":
        monkeypatch.setattr(creation, "write_opening_key", fail)
    else:
        monkeypatch.setattr(creation, "_publish", fail)
    with pytest.raises(OSError):
        OpeningSession.create(
            target,
            tender="T",
            deadline=MOMENT,
            opening_time=MOMENT,
            trust=[pki.roots],
            remote=_settings(tmp_path),
        )
    assert not (tmp_path / "k.p12").exists()
    if existing:
        assert sorted(p.name for p in target.iterdir()) == []
        _nothing_made(tmp_path, keep=("s",))
    else:
        _nothing_made(tmp_path)


_KILLED = """
import datetime as dt, os, signal, sys
from pathlib import Path
from bidcrypt.opening import OpeningSession, RemoteSettings, creation, custody

target, roots, key_file, point = sys.argv[1:5]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if point == "profile":
    custody.write_profile = die          # after the release key is written
else:
    creation.store_remote = die         # inside the ledger's creating transaction
moment = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
remote = RemoteSettings(custody="platform", suite="p-256", opening_key_out=Path(key_file),
                        opening_key_password="pw")
OpeningSession.create(Path(target), tender="T", deadline=moment, opening_time=moment, trust=[Path(roots)],
                      remote=remote)
"""


@pytest.mark.parametrize("point", ["profile", "transaction"])
def test_a_killed_remote_create_leaves_no_session_and_no_key(pki: Pki, tmp_path: Path, point: str) -> None:
    target, key_file = tmp_path / "s", tmp_path / "k.p12"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, str(target), str(pki.roots), str(key_file), point],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not target.exists() and not key_file.exists()
    staging = [p for p in tmp_path.iterdir() if "bidcrypt-create" in p.name]
    assert len(staging) == 1  # hidden, and unusable: no profile, no complete ledger
    # the next create beside it removes the dead one's staging folder, release key and all
    made = run_bidcrypt(
        "opening", "create", target, "--tender", "T", "--deadline", DEADLINE, "--opening-time", DEADLINE,
        "--trust", pki.roots, "--custody", "none",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert read_profile((target / "profile.p7s").read_bytes()).custody.model == "none"


def test_openssl_reads_the_sm2_opening_key_file(pki: Pki, tmp_path: Path) -> None:
    """gm.dump_pkcs12 writes what ``openssl pkcs12`` reads (the peer), key and certificate."""
    key_file = tmp_path / "opening.p12"
    result = _create(
        pki, tmp_path / "s", "--custody", "platform", "--suite", "sm2", "--opening-key-out", key_file,
        env={"BIDCRYPT_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    read = subprocess.run(
        [require_tool("openssl"), "pkcs12", "-in", key_file, "-passin", "env:PW", "-nodes"],
        capture_output=True,
        text=True,
        env={"PW": PASSWORD, "PATH": "/usr/bin:/bin"},
    )
    assert read.returncode == 0, read.stderr
    assert "BEGIN PRIVATE KEY" in read.stdout and "BEGIN CERTIFICATE" in read.stdout
    opening = OpeningSession.load(tmp_path / "s").profile.opening_certificate
    assert opening is not None
    assert certs.parse_certificates(read.stdout.encode()) == [opening]
