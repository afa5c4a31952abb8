"""What the release tests share: a bidder's keys as one UKey, a session profile, the session's release key."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from bidcrypt.certs import load_certificate
from bidcrypt.clock import FixedClock
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.custody import RemoteSettings
from bidcrypt.opening.window import start_window

from .conftest import Pki

TENDER = "HBGP-2026-001"
#: The release certificate of each suite in the tests: a fixture encryption certificate with its key.
RELEASE_KEYS = {"rsa": "authority/enc", "ec": "bidder-b/enc", "sm2": "sm2/authority/enc"}


class Together(KeySource):
    """Several key sources as one UKey (a PKCS#12 file holds one certificate; a UKey holds two)."""

    def __init__(self, *sources: KeySource) -> None:
        self.sources = sources
        self.description = " + ".join(s.description for s in sources)
        self._entries = [entry for source in sources for entry in source.entries()]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)

    def close(self) -> None:
        for source in self.sources:
            source.close()


def bidder_ukey(pki: Pki, bidder: str, *, signing: str = "sign") -> Together:
    """The bidder's signing (*signing*: ``sign`` or ``legal``) and encryption keys, as one UKey."""
    pins = PinSource.of_value(pki.pin)
    return Together(
        open_key_source(str(pki.p12(f"{bidder}/{signing}")), pins),
        open_key_source(str(pki.p12(f"{bidder}/enc")), pins),
    )


def release_keys(pki: Pki, suite: str = "rsa") -> KeySource:
    """The session's release key of *suite* (a fixture encryption key)."""
    return open_key_source(str(pki.p12(RELEASE_KEYS[suite])), PinSource.of_value(pki.pin))


@dataclass(frozen=True)
class Profile:
    """The fields of a session profile a release reads (docs/remote.md)."""

    release_certificate: x509.Certificate
    session: str = field(default_factory=lambda: secrets.token_hex(16))
    tender: str = TENDER
    lots: Sequence[str] = ("1",)


def profile_for(pki: Pki, suite: str = "rsa", session: str | None = None) -> Profile:
    """A profile whose release certificate is *suite*'s fixture key."""
    certificate = load_certificate(pki.cert(RELEASE_KEYS[suite]))
    return Profile(certificate) if session is None else Profile(certificate, session)


#: The window of the test sessions: it starts a minute after the opening time and lasts 30 minutes.
WINDOW_START = dt.timedelta(minutes=1)
WINDOW_SECONDS = 1800


def trust_files(pki: Pki) -> tuple[list[Path], list[Path]]:
    """Both hierarchies' roots and issuing CAs, and both CRLs (RSA/EC and SM2 bidders in one session)."""
    trust = pki.root / "trust"
    return (
        [pki.roots, pki.intermediates, trust / "sm2-roots.pem", trust / "sm2-intermediates.pem"],
        [pki.crl, pki.root / "sm2" / "ca" / "vendor.crl"],
    )


def remote_session(
    pki: Pki, directory: Path, bidders: Sequence[str], *, suite: str = "rsa-3072", deadline: dt.datetime
) -> OpeningSession:
    """A remote-opening session (custody none) with *bidders* registered and bound."""
    anchors, crls = trust_files(pki)
    session = OpeningSession.create(
        directory,
        tender=TENDER,
        lots=["1"],
        deadline=deadline,
        opening_time=deadline,
        trust=anchors,
        crls=crls,
        remote=RemoteSettings(custody="none", suite=suite),
    )
    for bidder in bidders:
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    return session


def in_window(session: OpeningSession, seconds: float = 120) -> FixedClock:
    """A clock *seconds* after the window started (negative: before it, past its length: after)."""
    return FixedClock(session.settings.opening_time + WINDOW_START + dt.timedelta(seconds=seconds))


def start(session: OpeningSession) -> None:
    """Start the window a minute after the opening time."""
    start_window(session, WINDOW_SECONDS, clock=FixedClock(session.settings.opening_time + WINDOW_START))
