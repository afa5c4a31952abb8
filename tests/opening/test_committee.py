"""The opening committee (k of n): 2 of 3 members open the authority-encrypted bids, 1 cannot."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bidcrypt.envelope import decrypt_bytes
from bidcrypt.errors import QuorumNotReachedError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import build_record
from bidcrypt.opening.committee import accept_share, rebuild_opening_key, shares_released
from bidcrypt.opening.committee_open import open_with_committee
from bidcrypt.opening.window import start_window
from bidcrypt.package import combine_shares, make_share_release, parse_share_file

from ..conftest import Pki, SoftHsm
from .committee_support import BIDDERS, MEMBERS, Committee, committee_session, member_ukey, pack_bid

pytestmark = pytest.mark.usefixtures("english")


def with_bids(pki: Pki, tmp_path: Path, suite: str) -> Committee:
    """A committee session of *suite* with the three bids submitted to it and its window started."""
    made = committee_session(pki, tmp_path / "session", suite=suite)
    for bidder in BIDDERS:
        made.session.submit(pack_bid(pki, tmp_path, bidder, made.opening_certificate))
    start_window(made.session, 1800, made.clock(0))
    return made


@pytest.fixture
def committee(pki: Pki, tmp_path: Path) -> Committee:
    return with_bids(pki, tmp_path, "p-256")


def release(pki: Pki, committee: Committee, member: int, seconds: float = 60) -> bytes:
    """Member *member*'s share release, made with the member's UKey at opening time + *seconds*."""
    with member_ukey(pki, MEMBERS[member - 1]) as ukey:
        return make_share_release(
            committee.share_file(member), ukey, committee.profile, committee.clock(seconds)
        )


def test_the_profile_names_the_committee(committee: Committee) -> None:
    custody = committee.profile.custody
    assert (custody.model, custody.quorum) == ("committee", 2)
    assert [m.member for m in custody.members] == [1, 2, 3]
    assert custody.members[0].name == "湖北楚天建设工程有限公司"
    assert shares_released(committee.session) == (2, 0, 3)
    custody_folder = committee.session.directory / "custody"
    assert sorted(p.name for p in custody_folder.iterdir()) == [
        "opening-key.enc",
        "share-1.p7m",
        "share-2.p7m",
        "share-3.p7m",
    ]


@pytest.mark.parametrize("suite", ["p-256", "rsa-3072", "sm2"])
def test_two_of_three_members_open_the_authority_encrypted_bids(pki: Pki, tmp_path: Path, suite: str) -> None:
    committee = with_bids(pki, tmp_path, suite)
    session = committee.session
    first = accept_share(session, release(pki, committee, 1), committee.clock(61))
    assert (first.member, first.quorum, first.released, first.members) == (1, 2, 1, 3)
    third = accept_share(session, release(pki, committee, 3), committee.clock(62))
    assert (third.member, third.released) == (3, 2)
    assert shares_released(session) == (2, 2, 3)
    run = open_with_committee(session, workers=1, now=committee.opening_time + dt.timedelta(seconds=90))
    assert len(run.opened) == 3 and not run.failed
    record = build_record(session)
    assert [row.status for row in record.rows] == ["opened"] * 3
    assert {str(row["opened_by"]) for row in session.outcomes().values()} == {"committee"}


def test_one_share_cannot_rebuild_the_key(pki: Pki, committee: Committee) -> None:
    session = committee.session
    accept_share(session, release(pki, committee, 2), committee.clock(61))
    with pytest.raises(QuorumNotReachedError) as caught:
        rebuild_opening_key(session)
    assert "1 of 3 shares released" in caught.value.message("en")
    assert "1/3" in caught.value.message("zh") and "2 份" in caught.value.message("zh")
    with pytest.raises(QuorumNotReachedError):
        open_with_committee(session, workers=1, now=committee.opening_time + dt.timedelta(seconds=90))
    assert session.outcomes() == {}


def test_any_two_members_suffice(pki: Pki, committee: Committee) -> None:
    for member in (2, 3):
        accept_share(committee.session, release(pki, committee, member), committee.clock(61))
    with rebuild_opening_key(committee.session) as key:
        assert key.entries()[0].certificate == committee.opening_certificate
    assert key.entries() == []  # closed: the key is dropped


def _every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_key_material_rests_in_the_session_folder(pki: Pki, committee: Committee) -> None:
    session = committee.session
    for member in (1, 2):
        accept_share(session, release(pki, committee, member), committee.clock(61))
    open_with_committee(session, workers=1, now=committee.opening_time + dt.timedelta(seconds=90))
    shares = {}
    for index, member in enumerate(MEMBERS, start=1):
        with member_ukey(pki, member) as ukey:
            shares[index] = parse_share_file(decrypt_bytes(committee.share_file(index), ukey)).share
    kek = combine_shares(shares, 2)
    assert combine_shares({2: shares[2], 3: shares[3]}, 2) == kek
    sealed = (session.directory / "custody" / "opening-key.enc").read_bytes()
    pkcs8 = AESGCM(kek).decrypt(sealed[:12], sealed[12:], committee.session_id.encode())
    session.close_ledger()  # the WAL checkpointed: every byte the ledger holds is in its files
    stored = _every_byte(session.directory)
    key = serialization.load_der_private_key(pkcs8, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    secrets = [pkcs8, scalar, kek, kek[:16], kek[16:], *shares.values()]
    secrets += [base64.b64encode(s) for s in (pkcs8, kek, *shares.values())]
    for secret in secrets:
        assert secret not in stored
    assert sealed in stored  # the search does see what the folder holds


def test_members_release_from_their_softhsm_ukeys(pki: Pki, softhsm: SoftHsm, committee: Committee) -> None:
    """Two members' UKeys (SoftHSM2 tokens with a company, a legal-person and an encryption certificate)."""
    session = committee.session
    for index, token in ((1, "bidder-a"), (2, "bidder-b")):
        with open_key_source(softhsm.uri(token), PinSource.of_value(softhsm.pin)) as ukey:
            body = make_share_release(
                committee.share_file(index), ukey, committee.profile, committee.clock(60)
            )
        released = accept_share(session, body, committee.clock(61))
        assert released.member == index
    run = open_with_committee(session, workers=1, now=committee.opening_time + dt.timedelta(seconds=90))
    assert len(run.opened) == 3
