"""Share releases the session refuses, each recorded with its code; and committees that cannot be made."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from bidcrypt.certs import Purpose, load_certificate
from bidcrypt.clock import FixedClock
from bidcrypt.envelope import decrypt_bytes
from bidcrypt.errors import (
    BidcryptError,
    CertificateExpiredError,
    CommitteeError,
    InputError,
    NotOpeningTimeError,
    ReleaseMalformedError,
    ReleaseNotForSessionError,
    ReleaseReplayedError,
    ReleaseSignatureInvalidError,
    ReleaseTooLargeError,
    ShareMismatchError,
    ShareNotMemberError,
    StatementError,
    WindowNotOpenError,
    WindowPausedError,
    WrongKeyError,
    WrongKeyUsageError,
)
from bidcrypt.opening.committee import accept_share, entrust, shares_released
from bidcrypt.opening.window import pause_window, start_window
from bidcrypt.package import (
    MemberShare,
    make_share_release,
    parse_share_file,
    seal,
    share_statement,
    sign_statement,
)

from ..conftest import Pki
from ..release_support import Profile
from .committee_support import MEMBERS, Committee, committee_session, member_ukey
from .conftest import new_session

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def committee(pki: Pki, tmp_path: Path) -> Committee:
    return committee_session(pki, tmp_path / "session")


def started(committee: Committee) -> Committee:
    start_window(committee.session, 1800, committee.clock(0))
    return committee


def release(pki: Pki, committee: Committee, member: int, seconds: float = 60) -> bytes:
    with member_ukey(pki, MEMBERS[member - 1]) as ukey:
        return make_share_release(
            committee.share_file(member), ukey, committee.profile, committee.clock(seconds)
        )


def signed_share(
    pki: Pki, committee: Committee, share: MemberShare, signer: str, seconds: float = 60
) -> bytes:
    """A share statement for *share*, signed by the fixture company *signer*, sealed to the session."""
    moment = committee.opening_time + dt.timedelta(seconds=seconds)
    with member_ukey(pki, signer) as ukey:
        entry = ukey.entry(Purpose.SIGNING)
        statement = sign_statement(share_statement(share, moment), entry, signing_time=moment)
    return seal(statement, committee.profile.release_certificate, at=moment)


def refused(
    pki: Pki, committee: Committee, body: bytes, error: type[BidcryptError], seconds: float = 61
) -> None:
    """*body* is refused with *error*, recorded with its code, and no share counts."""
    before = shares_released(committee.session)
    with pytest.raises(error) as caught:
        accept_share(committee.session, body, committee.clock(seconds))
    last = committee.session.ledger.query("SELECT * FROM releases ORDER BY id DESC LIMIT 1")[0]
    assert (last["kind"], last["verdict"], last["code"]) == ("share", "refused", caught.value.code)
    assert last["body"] is None and last["message_zh"]
    assert shares_released(committee.session) == before


def test_a_wrong_share_signed_by_its_member(pki: Pki, committee: Committee) -> None:
    started(committee)
    wrong = MemberShare(committee.session_id, 1, os.urandom(32))
    refused(pki, committee, signed_share(pki, committee, wrong, MEMBERS[0]), ShareMismatchError)


def test_a_share_signed_by_a_non_member(pki: Pki, committee: Committee) -> None:
    started(committee)
    with member_ukey(pki, MEMBERS[0]) as ukey:
        share = parse_share_file(decrypt_bytes(committee.share_file(1), ukey))
    refused(pki, committee, signed_share(pki, committee, share, "bidder-c"), ShareNotMemberError)
    # the member's own signing certificate is accepted with the same share
    body = signed_share(pki, committee, share, MEMBERS[0])
    accept_share(committee.session, body, committee.clock(62))
    assert shares_released(committee.session) == (2, 1, 3)


def test_a_share_signed_under_a_rogue_ca_with_the_members_name(pki: Pki, committee: Committee) -> None:
    started(committee)
    with member_ukey(pki, MEMBERS[0]) as ukey:
        share = parse_share_file(decrypt_bytes(committee.share_file(1), ukey))
    refused(pki, committee, signed_share(pki, committee, share, "rogue"), ReleaseSignatureInvalidError)


def test_a_share_naming_another_member(pki: Pki, committee: Committee) -> None:
    started(committee)
    unknown = MemberShare(committee.session_id, 7, os.urandom(32))
    refused(pki, committee, signed_share(pki, committee, unknown, MEMBERS[0]), ShareNotMemberError)
    # member 2's index with member 1's signature
    other = MemberShare(committee.session_id, 2, os.urandom(32))
    refused(pki, committee, signed_share(pki, committee, other, MEMBERS[0]), ShareNotMemberError)


def test_a_share_for_another_session(pki: Pki, committee: Committee, tmp_path: Path) -> None:
    started(committee)
    other = started(committee_session(pki, tmp_path / "other"))
    with member_ukey(pki, MEMBERS[0]) as ukey:
        body = make_share_release(other.share_file(1), ukey, other.profile, other.clock(60))
        # the other session's share, sealed to this session's release key
        misled = Profile(committee.profile.release_certificate, other.session_id)
        resealed = make_share_release(other.share_file(1), ukey, misled, other.clock(60))
    refused(pki, committee, body, ReleaseNotForSessionError)
    refused(pki, committee, resealed, ReleaseNotForSessionError)
    accept_share(other.session, body, other.clock(61))


def test_the_share_file_of_another_session_is_refused_by_the_member_tool(
    pki: Pki, committee: Committee
) -> None:
    with member_ukey(pki, MEMBERS[0]) as ukey, pytest.raises(StatementError):
        make_share_release(
            committee.share_file(1), ukey, Profile(committee.profile.release_certificate), None
        )
    with member_ukey(pki, MEMBERS[1]) as ukey, pytest.raises(WrongKeyError):
        make_share_release(committee.share_file(1), ukey, committee.profile, None)


def test_a_replayed_share(pki: Pki, committee: Committee) -> None:
    started(committee)
    body = release(pki, committee, 1)
    accept_share(committee.session, body, committee.clock(61))
    refused(pki, committee, body, ReleaseReplayedError, seconds=62)
    # a fresh release of the same member's share is a replay of the share
    refused(pki, committee, release(pki, committee, 1, seconds=63), ReleaseReplayedError, seconds=64)
    assert shares_released(committee.session) == (2, 1, 3)


def test_before_the_opening_time_no_member_can_act(pki: Pki, committee: Committee) -> None:
    body = release(pki, committee, 1, seconds=-600)
    refused(pki, committee, body, NotOpeningTimeError, seconds=-60)
    refused(pki, committee, release(pki, committee, 2, seconds=-600), NotOpeningTimeError, seconds=-1)
    # the same body later, inside the window, is accepted: a refused body was not received
    started(committee)
    accept_share(committee.session, body, committee.clock(61))


def test_outside_the_running_window(pki: Pki, committee: Committee) -> None:
    refused(pki, committee, release(pki, committee, 1), WindowNotOpenError)
    started(committee)
    pause_window(committee.session, "平台故障", clock=committee.clock(30))
    refused(pki, committee, release(pki, committee, 1), WindowPausedError)


def test_garbage_and_oversize(pki: Pki, committee: Committee) -> None:
    started(committee)
    refused(pki, committee, b"", ReleaseMalformedError)
    refused(pki, committee, b"\x30\x82garbage" * 10, ReleaseMalformedError)
    refused(pki, committee, committee.share_file(1), ReleaseNotForSessionError)  # not sealed to the session
    refused(pki, committee, b"\0" * ((64 << 10) + 1), ReleaseTooLargeError)


# -- making a committee -------------------------------------------------------------------------


@pytest.mark.parametrize("quorum", [0, 1, 4])
def test_the_quorum_is_between_2_and_n(pki: Pki, tmp_path: Path, quorum: int) -> None:
    with pytest.raises(InputError):  # the creation's own check, before any key is made
        committee_session(pki, tmp_path / "s", quorum=quorum)
    with pytest.raises(CommitteeError, match="quorum"):
        _entrust(pki, tmp_path, ["bidder-a/enc", "bidder-b/enc", "sm2/bidder-a/enc"], quorum)


def _entrust(pki: Pki, tmp_path: Path, names: list[str], quorum: int = 2) -> None:
    """entrust() on a plain session's ledger, with an opening key made here."""
    session = new_session(pki, tmp_path / "plain")
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    certificates = [load_certificate(pki.cert(name)) for name in names]
    (tmp_path / "t").mkdir(exist_ok=True)
    with session.ledger.transaction() as db:
        entrust(tmp_path / "t", db, der, certificates, quorum, "x" * 32)


def test_distinct_encryption_certificates(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(CommitteeError, match="same key"):
        _entrust(pki, tmp_path / "1", ["bidder-a/enc", "bidder-b/enc", "bidder-a/enc"])
    assert not (tmp_path / "1" / "t" / "custody").exists()
    with pytest.raises(WrongKeyUsageError):
        _entrust(pki, tmp_path / "2", ["bidder-a/enc", "bidder-b/sign"])
    with pytest.raises(CertificateExpiredError):
        _entrust(pki, tmp_path / "3", ["bidder-a/enc-expired", "bidder-b/enc"])


def test_a_committee_of_two_opens_with_both(pki: Pki, tmp_path: Path) -> None:
    _entrust(pki, tmp_path, ["bidder-a/enc", "bidder-b/enc"])
    assert sorted(p.name for p in (tmp_path / "t" / "custody").iterdir()) == [
        "opening-key.enc",
        "share-1.p7m",
        "share-2.p7m",
    ]


def test_the_clock_is_the_arrival_time(pki: Pki, committee: Committee) -> None:
    started(committee)
    accepted = accept_share(committee.session, release(pki, committee, 2), FixedClock(committee.opening_time))
    assert accepted.at == committee.opening_time
    row = committee.session.ledger.query("SELECT * FROM releases")[0]
    assert (row["verdict"], row["member"], row["code"]) == ("accepted", 2, None)
    assert bytes(row["body"]) != b"" and b"bidcrypt-share" not in bytes(row["body"])
