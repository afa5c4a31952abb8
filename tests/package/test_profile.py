"""The session profile (docs/remote.md): read_profile checks the signature, type, version and every field."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import ProfileError
from bidcrypt.keys import KeyEntry
from bidcrypt.opening import OpeningSession, RemoteSettings
from bidcrypt.opening.session_keys import release_key_source
from bidcrypt.package import SESSION_SUITES, profile_json, read_profile, signed

from ..conftest import Pki, require_tool

DEADLINE = dt.datetime(2030, 6, 1, 1, 0, tzinfo=dt.UTC)


def _session(pki: Pki, folder: Path, suite: str, custody: str = "none") -> OpeningSession:
    remote = RemoteSettings(
        custody=custody,
        suite=suite,
        opening_key_out=folder.with_suffix(".p12") if custody == "platform" else None,
        opening_key_password="pass-1234" if custody == "platform" else None,
        service_url="https://bid.example.cn/s/",
    )
    return OpeningSession.create(
        folder,
        tender="HBGP-2026-001",
        lots=["1", "2"],
        deadline=DEADLINE,
        opening_time=DEADLINE + dt.timedelta(minutes=30),
        trust=[pki.roots],
        remote=remote,
    )


@pytest.fixture(scope="module")
def sessions(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, OpeningSession]:
    """A platform session of each suite (made once: key generation is slow)."""
    root = tmp_path_factory.mktemp("profiles")
    return {suite: _session(pki, root / suite, suite, "platform") for suite in SESSION_SUITES}


def _release_entry(session: OpeningSession) -> KeyEntry:
    with session.release_keys() as source:
        return source.entries()[0]


def _signed(session: OpeningSession, document: dict[str, Any]) -> bytes:
    """*document* as JSON, signed by the session's release key (as a profile is)."""
    content = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return signed.sign(content, _release_entry(session))


@pytest.mark.parametrize("suite", SESSION_SUITES)
def test_a_profile_reads_back_as_made(sessions: dict[str, OpeningSession], suite: str) -> None:
    session = sessions[suite]
    data = session.profile_bytes()
    profile = read_profile(data)
    assert profile == session.profile
    assert profile.session == session.session_id and len(profile.session) == 32
    assert profile.tender == "HBGP-2026-001" and profile.lots == ("1", "2")
    assert profile.deadline == DEADLINE and profile.window_seconds == 1800
    assert profile.suite == suite and profile.custody.model == "platform"
    assert profile.rule == "regulation-44" and profile.minimum_bids == 3
    assert profile.service_url == "https://bid.example.cn/s/"
    assert profile.opening_certificate is not None
    assert profile.release_certificate == _release_entry(session).certificate
    # the content is the canonical JSON of the profile's fields
    document = json.loads(signed.verify(data).content)
    assert signed.verify(data).content == profile_json(profile)
    assert list(document) == sorted(document) and document["type"] == "bidcrypt-session-profile"


@pytest.mark.parametrize("suite", ["rsa-3072", "p-256"])
def test_openssl_reads_the_profile_content(
    sessions: dict[str, OpeningSession], suite: str, tmp_path: Path
) -> None:
    """The peer: openssl checks the signature (with the embedded certificate) and gives out the JSON."""
    path = tmp_path / "profile.p7s"
    path.write_bytes(sessions[suite].profile_bytes())
    out = tmp_path / "content.json"
    result = subprocess.run(
        [require_tool("openssl"), "cms", "-verify", "-noverify", "-inform", "DER", "-in", path, "-out", out],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert out.read_bytes() == profile_json(sessions[suite].profile)


def test_openssl_refuses_a_changed_profile(sessions: dict[str, OpeningSession], tmp_path: Path) -> None:
    data = bytearray(sessions["rsa-3072"].profile_bytes())
    at = bytes(data).index(b'"tender":"HBGP') + len('"tender":"')
    data[at] ^= 0x01
    path = tmp_path / "changed.p7s"
    path.write_bytes(bytes(data))
    result = subprocess.run(
        [
            require_tool("openssl"),
            "cms",
            "-verify",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            path,
            "-out",
            "/dev/null",
        ],
        capture_output=True,
    )
    assert result.returncode != 0
    with pytest.raises(ProfileError):
        read_profile(bytes(data))


def _document(session: OpeningSession) -> dict[str, Any]:
    return dict(json.loads(signed.verify(session.profile_bytes()).content))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.update(type="bidcrypt-release"), "type"),
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(session="ABC"), "session id"),
        (lambda d: d.update(tender=7), "tender"),
        (lambda d: d.update(tender=" "), "tender"),
        (lambda d: d.update(lots=["1", "1"]), "lots"),
        (lambda d: d.update(lots="1"), "lots"),
        (lambda d: d.update(deadline="2030-06-01 01:00"), "deadline"),
        (lambda d: d.update(deadline="2030-06-01T09:00:00Z"), "opening time comes before"),
        (lambda d: d.update(window_seconds=0), "window_seconds"),
        (lambda d: d.update(window_seconds="1800"), "window_seconds"),
        (lambda d: d.update(suite="rsa-1024"), "suite"),
        (lambda d: d.update(suite="p-256"), "suite"),
        (lambda d: d.update(transports=[]), "transports"),
        (lambda d: d.update(transports=["ecdh"]), "transport"),
        (lambda d: d.update(opening_certificate="!!"), "opening_certificate"),
        (lambda d: d.update(opening_certificate=None), "opening certificate"),
        (lambda d: d.update(custody={"model": "bank"}), "custody"),
        (lambda d: d.update(custody={"model": "platform", "quorum": 2}), "unknown fields"),
        (lambda d: d.update(custody={"model": "committee", "quorum": 3, "members": []}), "fewer"),
        (lambda d: d.update(minimum_bids=-1), "minimum_bids"),
        (lambda d: d.update(service_url=5), "service_url"),
        (lambda d: d.update(extra=1), "unknown fields"),
        (lambda d: d.pop("rule"), "lacks rule"),
    ],
)
def test_every_field_is_checked(sessions: dict[str, OpeningSession], change: Any, why: str) -> None:
    session = sessions["rsa-3072"]
    document = _document(session)
    change(document)
    with pytest.raises(ProfileError, match=why) as caught:
        read_profile(_signed(session, document))
    assert caught.value.code == "profile-invalid"


def test_a_profile_signed_by_another_key_is_refused(sessions: dict[str, OpeningSession]) -> None:
    """Signed by the p-256 session's release key, naming the rsa session's release certificate."""
    document = _document(sessions["rsa-3072"])
    with pytest.raises(ProfileError, match="not signed by its release certificate"):
        read_profile(_signed(sessions["p-256"], {**document, "suite": "rsa-3072"}))


def test_garbage_is_refused_with_profile_invalid() -> None:
    for data in (b"", b"{}", b"\x30\x03\x02\x01\x01", b"x" * 100, b"\x30" * (2 << 20)):
        with pytest.raises(ProfileError) as caught:
            read_profile(data)
        assert caught.value.code == "profile-invalid"


def test_a_profile_of_json_that_is_not_an_object(sessions: dict[str, OpeningSession]) -> None:
    entry = _release_entry(sessions["rsa-3072"])
    for content in (b"[1]", b"null", b"\xff\xfe", b'"x"'):
        with pytest.raises(ProfileError):
            read_profile(signed.sign(content, entry))


def test_the_committee_custody_reads(sessions: dict[str, OpeningSession]) -> None:
    session = sessions["rsa-3072"]
    document = _document(session)
    members = [{"member": i, "name": f"委员{i}", "certificate_sha256": "ab" * 32} for i in (1, 2, 3)]
    document["custody"] = {"model": "committee", "quorum": 2, "members": members}
    profile = read_profile(_signed(session, document))
    assert profile.custody.quorum == 2 and [m.name for m in profile.custody.members] == [
        "委员1",
        "委员2",
        "委员3",
    ]
    assert profile.custody.to_json() == document["custody"]
    members[1]["member"] = 5
    with pytest.raises(ProfileError, match="member 2"):
        read_profile(_signed(session, document))


def test_custody_none_has_no_opening_certificate(pki: Pki, tmp_path: Path) -> None:
    session = _session(pki, tmp_path / "none", "p-256")
    profile = session.profile
    assert profile.custody.model == "none" and profile.opening_certificate is None
    assert json.loads(signed.verify(session.profile_bytes()).content)["opening_certificate"] is None


@settings(max_examples=150)
@given(data=st.data())
def test_bit_flips_and_cuts_never_crash(sessions: dict[str, OpeningSession], data: st.DataObject) -> None:
    suite = data.draw(st.sampled_from(SESSION_SUITES))
    original = sessions[suite].profile_bytes()
    changed = bytearray(original)
    if data.draw(st.booleans()):
        changed = changed[: data.draw(st.integers(0, len(original) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(original) - 1))
            changed[at] ^= 1 << data.draw(st.integers(0, 7))
    try:
        profile = read_profile(bytes(changed))
    except ProfileError as error:
        assert error.code == "profile-invalid"
        return
    assert profile == sessions[suite].profile  # a flip that changed nothing signed (e.g. in an OID's padding)


def test_a_profile_field_with_base64_of_garbage(sessions: dict[str, OpeningSession]) -> None:
    session = sessions["sm2"]
    document = _document(session)
    document["release_certificate"] = base64.b64encode(b"\x30\x00").decode()
    with pytest.raises(ProfileError):
        read_profile(_signed(session, document))


def test_release_key_file_is_private(sessions: dict[str, OpeningSession]) -> None:
    for session in sessions.values():
        path = session.directory / "keys" / "release.pem"
        assert path.stat().st_mode & 0o777 == 0o600
        assert b"-----BEGIN PRIVATE KEY-----" in path.read_bytes()  # PKCS#8, unencrypted
        with release_key_source(session.directory) as source:
            assert source.entries()[0].certificate == session.profile.release_certificate


def test_bouncycastle_verifies_an_sm2_profile(
    sessions: dict[str, OpeningSession], bouncycastle: Any, tmp_path: Path
) -> None:
    """openssl 3 does not check SM2 signatures in CMS; BouncyCastle does (SM2 with SM3, default ID)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    session = sessions["sm2"]
    path, certificate = tmp_path / "profile.p7s", tmp_path / "release.pem"
    path.write_bytes(session.profile_bytes())
    certificate.write_bytes(session.profile.release_certificate.public_bytes(Encoding.PEM))
    other = tmp_path / "other.pem"
    other.write_bytes(sessions["rsa-3072"].profile.release_certificate.public_bytes(Encoding.PEM))
    answers = bouncycastle.batch([("cms-verify", path, certificate), ("cms-verify", path, other)])
    assert [answer.ok for answer in answers] == [True, False]
