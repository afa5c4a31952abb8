"""The opening committee (k of n): 2 of 3 members open the authority-encrypted bids, 1 cannot."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from bidcrypt.envelope import decrypt_bytes
from bidcrypt.errors import QuorumNotReachedError
from bidcrypt.opening import build_record, open_bids
from bidcrypt.opening.committee import accept_share, open_with_committee, rebuild_opening_key, shares_released
from bidcrypt.opening.window import start_window
from bidcrypt.package import combine_shares, make_share_release, parse_share_file

from ..conftest import Pki
from .committee_support import (
    BIDDERS,
    MEMBERS,
    Committee,
    OpeningKey,
    committee_session,
    make_opening_key,
    member_ukey,
    new_session_id,
    pack_bid,
    session_release_keys,
)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(scope="module")
def session_id() -> str:
    return new_session_id()


@pytest.fixture(scope="module")
def opening_key(session_id: str) -> OpeningKey:
    return make_opening_key(session_id)


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory, opening_key: OpeningKey) -> list[Path]:
    directory = tmp_path_factory.mktemp("committee-bids")
    return [pack_bid(pki, directory, bidder, opening_key.certificate) for bidder in BIDDERS]


@pytest.fixture
def committee(
    pki: Pki, tmp_path: Path, opening_key: OpeningKey, session_id: str, bids: list[Path]
) -> Committee:
    made = committee_session(pki, tmp_path / "session", opening_key, session_id)
    for bid in bids:
        made.session.submit(bid)
    start_window(made.session, 1800, made.clock(0))
    return made


def release(pki: Pki, committee: Committee, member: int, seconds: float = 60) -> bytes:
    """Member *member*'s share release, made with the member's UKey at opening time + *seconds*."""
    with member_ukey(pki, MEMBERS[member - 1]) as ukey:
        return make_share_release(
            committee.share_file(member), ukey, committee.profile, committee.clock(seconds)
        )


def test_entrust_lists_the_members_for_the_profile(committee: Committee) -> None:
    assert [m["member"] for m in committee.members] == [1, 2, 3]
    assert committee.members[0]["name"] == "湖北楚天建设工程有限公司"
    assert all(len(str(m["certificate_sha256"])) == 64 for m in committee.members)
    assert shares_released(committee.session) == (2, 0, 3)
    custody = committee.session.directory / "custody"
    assert sorted(p.name for p in custody.iterdir()) == [
        "opening-key.enc",
        "share-1.p7m",
        "share-2.p7m",
        "share-3.p7m",
    ]


def test_two_of_three_members_open_the_authority_encrypted_bids(pki: Pki, committee: Committee) -> None:
    session = committee.session
    first = accept_share(
        session, release(pki, committee, 1), committee.clock(61), release_keys=session_release_keys(pki)
    )
    assert (first.member, first.quorum, first.released, first.members) == (1, 2, 1, 3)
    third = accept_share(
        session, release(pki, committee, 3), committee.clock(62), release_keys=session_release_keys(pki)
    )
    assert (third.member, third.released) == (3, 2)
    assert shares_released(session) == (2, 2, 3)
    run = open_with_committee(
        session,
        session_release_keys(pki),
        committee.opening.certificate,
        workers=1,
        now=committee.opening_time + dt.timedelta(seconds=90),
    )
    assert len(run.opened) == 3 and not run.failed
    record = build_record(session)
    assert [row.status for row in record.rows] == ["opened"] * 3
    assert {str(row["opened_by"]) for row in session.outcomes().values()} == {"committee"}


def test_one_share_cannot_rebuild_the_key(pki: Pki, committee: Committee) -> None:
    session = committee.session
    accept_share(
        session, release(pki, committee, 2), committee.clock(61), release_keys=session_release_keys(pki)
    )
    with pytest.raises(QuorumNotReachedError) as caught:
        rebuild_opening_key(session, session_release_keys(pki), committee.opening.certificate)
    with pytest.raises(QuorumNotReachedError):
        open_with_committee(session, session_release_keys(pki), committee.opening.certificate, workers=1)
    assert "1 of 3 shares released" in caught.value.message("en")
    assert "1/3" in caught.value.message("zh") and "2 份" in caught.value.message("zh")
    assert session.outcomes() == {}


def test_any_two_members_suffice(pki: Pki, committee: Committee) -> None:
    for member in (2, 3):
        accept_share(
            committee.session,
            release(pki, committee, member),
            committee.clock(61),
            release_keys=session_release_keys(pki),
        )
    with rebuild_opening_key(
        committee.session, session_release_keys(pki), committee.opening.certificate
    ) as key:
        assert key.entries()[0].certificate == committee.opening.certificate


def _every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_key_material_rests_in_the_session_folder(pki: Pki, committee: Committee) -> None:
    session = committee.session
    for member in (1, 2):
        accept_share(
            session,
            release(pki, committee, member),
            committee.clock(61),
            release_keys=session_release_keys(pki),
        )
    with rebuild_opening_key(session, session_release_keys(pki), committee.opening.certificate) as key:
        open_bids(session, key, workers=1, now=committee.opening_time + dt.timedelta(seconds=90))
    shares = {}
    for index, member in enumerate(MEMBERS, start=1):
        with member_ukey(pki, member) as ukey:
            shares[index] = parse_share_file(decrypt_bytes(committee.share_file(index), ukey)).share
    kek = combine_shares(shares, 2)
    assert combine_shares({2: shares[2], 3: shares[3]}, 2) == kek
    session.close_ledger()  # the WAL checkpointed: every byte the ledger holds is in its files
    stored = _every_byte(session.directory)
    secrets = [committee.opening.der, kek, kek[:16], kek[16:], *shares.values()]
    secrets += [base64.b64encode(s) for s in (kek, *shares.values())]
    for secret in secrets:
        assert secret not in stored
    # the private key's own integers are not there either (a PEM or raw copy)
    assert committee.opening.der[-64:] not in stored
