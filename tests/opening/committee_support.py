"""What the committee tests share: a session in a committee's custody, bids for it, members' UKeys."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography import x509

from bidcrypt.certs import load_certificate
from bidcrypt.clock import FixedClock
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.custody import RemoteSettings
from bidcrypt.package import SessionProfile, Summary, SummaryFile, pack
from bidcrypt.seal import SealKind, choose_entry

from ..conftest import Pki
from ..release_support import Together
from .conftest import TENDER

#: The members: an RSA, an EC (P-256) and an SM2 encryption certificate, each with its signing one.
MEMBERS = ("bidder-a", "bidder-b", "sm2/bidder-a")
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")


def pack_bid(pki: Pki, directory: Path, bidder: str, opening: x509.Certificate) -> Path:
    """A package of *bidder*, encrypted to the bidder and to the session's opening certificate."""
    source = directory / f"src-{bidder}"
    (source / "附件").mkdir(parents=True)
    (source / "附件" / "说明.txt").write_text(f"{bidder} 的投标文件\n" * 50, encoding="utf-8")
    output = directory / f"{bidder}.bid"
    with open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin)) as signer:
        pack(
            source,
            output,
            tender=TENDER,
            lot="1",
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=[load_certificate(pki.cert(f"{bidder}/enc")), opening],
            summary=SummaryFile(Summary(price=Decimal("100.00"), duration="90日历天")),
        )
    return output


@dataclass
class Committee:
    """A session in a committee's custody (3 members, k = 2), made by ``OpeningSession.create``."""

    session: OpeningSession

    @property
    def session_id(self) -> str:
        return self.profile.session

    @property
    def profile(self) -> SessionProfile:
        return self.session.profile

    @property
    def opening_certificate(self) -> x509.Certificate:
        certificate = self.profile.opening_certificate
        assert certificate is not None
        return certificate

    @property
    def opening_time(self) -> dt.datetime:
        return self.session.settings.opening_time

    def clock(self, seconds: float = 60) -> FixedClock:
        """A clock *seconds* after the opening time."""
        return FixedClock(self.opening_time + dt.timedelta(seconds=seconds))

    def share_file(self, member: int) -> bytes:
        return (self.session.directory / "custody" / f"share-{member}.p7m").read_bytes()


def committee_session(
    pki: Pki, directory: Path, *, quorum: int = 2, suite: str = "p-256", members: tuple[str, ...] = MEMBERS
) -> Committee:
    """A session of *suite* whose opening key the fixture companies *members* hold, *quorum* needed."""
    now = dt.datetime.now(dt.UTC)
    trust = pki.root / "trust"
    session = OpeningSession.create(
        directory,
        tender=TENDER,
        lots=["1"],
        deadline=now + dt.timedelta(hours=1),
        opening_time=now + dt.timedelta(hours=1),
        trust=[pki.roots, pki.intermediates, trust / "sm2-roots.pem", trust / "sm2-intermediates.pem"],
        crls=[pki.crl],
        remote=RemoteSettings(
            "committee",
            suite=suite,
            members=tuple(load_certificate(pki.cert(f"{member}/enc")) for member in members),
            quorum=quorum,
        ),
    )
    for bidder in BIDDERS:
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    return Committee(session)


def member_ukey(pki: Pki, member: str, signing: str = "sign") -> Together:
    """A member's UKey: the signing and the encryption key of the fixture company *member*."""
    pins = PinSource.of_value(pki.pin)
    return Together(
        open_key_source(str(pki.p12(f"{member}/{signing}")), pins),
        open_key_source(str(pki.p12(f"{member}/enc")), pins),
    )


def new_session_id() -> str:
    return secrets.token_hex(16)
