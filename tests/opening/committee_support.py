"""What the committee tests share: an opening key, a session in a committee's custody, members' UKeys."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bidcrypt.certs import load_certificate
from bidcrypt.clock import FixedClock
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.committee import entrust
from bidcrypt.package import Summary, SummaryFile, pack
from bidcrypt.seal import SealKind, choose_entry

from ..conftest import Pki
from ..release_support import Profile, Together, release_keys
from .conftest import TENDER

#: The members: an RSA, an EC (P-256) and an SM2 encryption certificate, each with its signing one.
MEMBERS = ("bidder-a", "bidder-b", "sm2/bidder-a")
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")


@dataclass(frozen=True)
class OpeningKey:
    """The session's opening key pair: PKCS#8 DER and a self-issued certificate."""

    der: bytes
    certificate: x509.Certificate


def make_opening_key(session_id: str) -> OpeningKey:
    """An RSA opening key (2048 bits: the tests' speed) and its certificate, keyEncipherment."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"bidcrypt opening key {session_id}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TENDER),
        ]
    )
    usage = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return OpeningKey(der, certificate)


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
    """A session in a committee's custody (3 members, k = 2) with its profile and release key."""

    session: OpeningSession
    session_id: str
    profile: Profile
    opening: OpeningKey
    members: list[dict[str, object]]

    @property
    def opening_time(self) -> dt.datetime:
        return self.session.settings.opening_time

    def clock(self, seconds: float = 60) -> FixedClock:
        """A clock *seconds* after the opening time."""
        return FixedClock(self.opening_time + dt.timedelta(seconds=seconds))

    def share_file(self, member: int) -> bytes:
        return (self.session.directory / "custody" / f"share-{member}.p7m").read_bytes()


def committee_session(
    pki: Pki, directory: Path, opening: OpeningKey, session_id: str, quorum: int = 2
) -> Committee:
    """A session whose opening key *opening* is held by the three :data:`MEMBERS`, *quorum* of them needed."""
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
    )
    for bidder in BIDDERS:
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    certificates = [load_certificate(pki.cert(f"{member}/enc")) for member in MEMBERS]
    with session.ledger.transaction() as db:
        listed = entrust(session.directory, db, opening.der, certificates, quorum, session_id)
    profile = Profile(load_certificate(pki.cert("authority/enc")), session_id)
    return Committee(session, session_id, profile, opening, listed)


def member_ukey(pki: Pki, member: str, signing: str = "sign") -> Together:
    """A member's UKey: the signing and the encryption key of the fixture company *member*."""
    pins = PinSource.of_value(pki.pin)
    return Together(
        open_key_source(str(pki.p12(f"{member}/{signing}")), pins),
        open_key_source(str(pki.p12(f"{member}/enc")), pins),
    )


def session_release_keys(pki: Pki) -> KeySource:
    """The release key of the tests' sessions (the fixture authority's encryption key)."""
    return release_keys(pki)


def new_session_id() -> str:
    return secrets.token_hex(16)
