"""Bulk openings of SM2 bids (GM/T 0010 packages) next to RSA and EC bids, in one session.

The session trusts both fixture hierarchies (RSA/EC and SM2). The bids:
the RSA and EC bidders and the SM2 bidders, each encrypted to its own key
and to an opening authority, either the RSA one (``authority/enc``) or the
SM2 one (``sm2/authority/enc``): an SM2 bidder with an RSA authority, RSA
and EC bidders with an SM2 authority (GM/T 0010 envelopes with RSA and EC
recipients), and SM2 bidders with the SM2 authority. The officials' keys
are both authorities' PKCS#12 files; every bid opens with exactly one key
operation, its manifest (SM3, SM2-with-SM3), chain, identity and SM2 seals
verified in the workers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from asn1crypto import core

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import Attribute
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningSession, build_record, open_bids
from bidcrypt.package import read_package_info
from bidcrypt.package.attributes import ARC

from ..conftest import Pki, run_bidcrypt
from .conftest import TENDER, make_package, move_opening_time_back

#: (bidder, its opening authority) of each bid of lot 1.
BIDS = (
    ("bidder-a", "authority/enc"),  # RSA bidder, RSA authority: AES-GCM
    ("bidder-b", "sm2/authority/enc"),  # EC bidder, SM2 authority: GM/T 0010 with an EC recipient
    ("bidder-c", "sm2/authority/enc"),  # RSA-signing / EC P-384 bidder, SM2 authority
    ("sm2/bidder-a", "authority/enc"),  # SM2 bidder, RSA authority: GM/T 0010 with an RSA recipient
    ("sm2/bidder-b", "sm2/authority/enc"),  # SM2 bidder, SM2 authority
    ("sm2/bidder-c", "sm2/authority/enc"),
)


class Keys(KeySource):
    """The opening officials' keys together: the RSA and the SM2 authorities' PKCS#12 files."""

    def __init__(self, *sources: KeySource) -> None:
        self.description = " + ".join(s.description for s in sources)
        self._entries = [entry for source in sources for entry in source.entries()]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


def trust_files(pki: Pki) -> tuple[list[Path], list[Path]]:
    """Both hierarchies' roots and issuing CAs, and both CRLs."""
    trust = pki.root / "trust"
    return (
        [pki.roots, pki.intermediates, trust / "sm2-roots.pem", trust / "sm2-intermediates.pem"],
        [pki.crl, pki.root / "sm2" / "ca" / "vendor.crl"],
    )


def mixed_session(pki: Pki, directory: Path, bidders: tuple[str, ...]) -> OpeningSession:
    """A session trusting both hierarchies, *bidders* registered with their encryption certificates."""
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    anchors, crls = trust_files(pki)
    session = OpeningSession.create(
        directory,
        tender=TENDER,
        lots=["1"],
        deadline=deadline,
        opening_time=deadline,
        trust=anchors,
        crls=crls,
    )
    for bidder in bidders:
        certificate = load_certificate(pki.cert(f"{bidder}/enc"))
        company = pki.index["companies"][bidder]
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], certificate)
    return session


@pytest.fixture(scope="module")
def packages(
    pki: Pki,
    tmp_path_factory: pytest.TempPathFactory,
    sealed_pdfs: dict[str, Path],
    sm2_sealed_pdfs: dict[str, Path],
) -> dict[str, Path]:
    """One sealed bid of each bidder of :data:`BIDS`, made once for the module."""
    directory = tmp_path_factory.mktemp("sm2-opening")
    made = {}
    for number, (bidder, authority) in enumerate(BIDS):
        made[bidder] = make_package(
            pki,
            directory,
            bidder,
            authority=authority,
            price=f"{100 + number}.00",
            sealed_pdf={**sealed_pdfs, **sm2_sealed_pdfs}[bidder],
            name=f"bid-{number}",
        )
    return made


def test_the_packages_are_in_the_suite_of_their_certificates(packages: dict[str, Path]) -> None:
    suites = {bidder: read_package_info(path) for bidder, path in packages.items()}
    assert not suites["bidder-a"].is_gm and suites["bidder-a"].authenticated
    for bidder in ("bidder-b", "bidder-c", "sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c"):
        assert suites[bidder].is_gm and not suites[bidder].authenticated
        assert suites[bidder].header.cipher.cipher.value == "sm4-cbc"
    assert suites["sm2/bidder-a"].key_algorithms == ("SM2", "RSA")
    assert suites["sm2/bidder-b"].key_algorithms == ("SM2",)
    assert set(suites["bidder-b"].key_algorithms) == {"EC", "SM2"}


@pytest.mark.slow
def test_sm2_rsa_and_ec_bids_open_in_one_run(pki: Pki, tmp_path: Path, packages: dict[str, Path]) -> None:
    session = mixed_session(pki, tmp_path / "session", tuple(packages))
    receipts = {bidder: session.submit(path) for bidder, path in packages.items()}
    move_opening_time_back(session)
    password = PinSource.of_value(pki.pin)
    with (
        open_key_source(str(pki.p12("authority/enc")), password) as rsa_authority,
        open_key_source(str(pki.p12("sm2/authority/enc")), password) as sm2_authority,
    ):
        run = open_bids(session, Keys(rsa_authority, sm2_authority), workers=2)
    assert run.failed == [] and run.skipped == []
    assert sorted(run.opened) == sorted(r.submission for r in receipts.values())
    assert run.unwraps == len(BIDS)  # exactly one key operation per bid, SM2 ones included
    record = build_record(session)
    rows = {row.credit_code: row for row in record.rows}
    for number, (bidder, _) in enumerate(BIDS):
        row = rows[pki.index["companies"][bidder]["credit_code"]]
        assert row.status == "opened" and row.price == f"{100 + number}.00" and row.seals == "valid"
        assert (session.directory / "opened" / str(receipts[bidder].submission) / "投标函.pdf").is_file()


@pytest.mark.slow
def test_the_command_opens_sm2_bids_with_the_sm2_authority_key(
    pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    """`bidcrypt opening open --key sm2/authority/enc.p12`: the bids for that key open, the others wait."""
    session = mixed_session(pki, tmp_path / "session", tuple(packages))
    for path in packages.values():
        session.submit(path)
    move_opening_time_back(session)
    result = run_bidcrypt(
        "opening", "open", session.directory, "--key", pki.p12("sm2/authority/enc"), "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = json.loads(result.stdout)
    for_sm2 = [bidder for bidder, authority in BIDS if authority == "sm2/authority/enc"]
    assert len(run["opened"]) == len(for_sm2) and run["failed"] == []
    assert len(run["skipped"]) == len(BIDS) - len(for_sm2)  # the RSA authority's, left for its key
    assert run["unwraps"] == len(for_sm2)


@pytest.mark.slow
def test_a_gm_bid_whose_lot_was_edited_is_refused_at_the_opening(
    pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    """A GM package's readable attributes are not authenticated: moved to lot 2 after packing, it is
    accepted for lot 2 at the door (nothing there can tell) and refused at the opening, naming the lot,
    with one key operation; the honest SM2 bid beside it opens."""
    original = packages["sm2/bidder-b"]
    info = read_package_info(original)
    old = Attribute(f"{ARC}.1.3", (bytes(core.UTF8String("1").dump()),)).encode()
    new = Attribute(f"{ARC}.1.3", (bytes(core.UTF8String("2").dump()),)).encode()
    data = original.read_bytes()
    assert info.attributes.lot == "1" and data.count(old) == 1
    moved = tmp_path / "moved.bid"
    moved.write_bytes(data.replace(old, new))
    anchors, crls = trust_files(pki)
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    session = OpeningSession.create(
        tmp_path / "session", tender=TENDER, lots=["1", "2"], deadline=deadline, opening_time=deadline,
        trust=anchors, crls=crls,
    )  # fmt: skip
    for bidder in ("sm2/bidder-b", "sm2/bidder-c"):
        company = pki.index["companies"][bidder]
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    forged = session.submit(moved)
    assert forged.lot == "2"
    honest = session.submit(packages["sm2/bidder-c"])
    move_opening_time_back(session)
    with open_key_source(str(pki.p12("sm2/authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=1)
    assert run.opened == [honest.submission] and run.failed == [forged.submission]
    assert run.unwraps == 2
    row = next(r for r in build_record(session).rows if r.submission == forged.submission)
    assert row.status == "failed" and row.cause is not None and "lot" in row.cause
    assert not (session.directory / "opened" / str(forged.submission)).exists()
