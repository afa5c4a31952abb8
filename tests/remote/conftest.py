"""Fixtures of the service tests: a session made remote (an id and a profile file), and a clock to move."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bidcrypt.certs import load_certificate
from bidcrypt.opening import OpeningSession, Receipt
from bidcrypt.opening.custody import RemoteSettings
from bidcrypt.remote import ServiceOptions, create_app

from ..conftest import Pki
from ..opening.conftest import TENDER, make_package

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class MovingClock:
    """The service's clock in a test: it moves only when told."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += dt.timedelta(seconds=seconds)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    """A hosted session, its test client and clocks."""

    session: OpeningSession
    folder: Path
    session_id: str
    client: TestClient
    clock: MovingClock
    monotonic: Monotonic
    receipts: dict[str, Receipt]
    opening_time: dt.datetime

    def url(self, route: str) -> str:
        return f"/s/{self.session_id}/{route}"


def remote_session(
    pki: Pki, directory: Path, deadline: dt.datetime, custody: str = "none", lots: tuple[str, ...] = ("1",)
) -> OpeningSession:
    """A remote-opening session (its keys and signed profile) with the three fixture bidders registered."""
    session = OpeningSession.create(
        directory,
        tender=TENDER,
        lots=list(lots),
        deadline=deadline,
        opening_time=deadline,
        trust=[pki.roots, pki.intermediates],
        crls=[pki.crl],
        remote=RemoteSettings(custody=custody, window_seconds=1800),
    )
    for bidder in ("bidder-a", "bidder-b", "bidder-c"):
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    return session


@pytest.fixture(scope="module")
def packages(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("packages")
    return {
        bidder: make_package(pki, folder, bidder, authority=False, name=bidder)
        for bidder in ("bidder-a", "bidder-b", "bidder-c")
    }


@pytest.fixture
def served(pki: Pki, tmp_path: Path, packages: dict[str, Path]) -> Iterator[Served]:
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    session = remote_session(pki, tmp_path / "session", deadline)
    receipts = {bidder: session.submit(package) for bidder, package in packages.items()}
    session_id = str(session.session_id)
    clock = MovingClock(deadline + dt.timedelta(seconds=5))
    monotonic = Monotonic()
    options = ServiceOptions(clock=clock, monotonic=monotonic, rate=1.0, burst=1000)
    app = create_app([tmp_path / "session"], options)
    with TestClient(app) as client:
        yield Served(session, tmp_path / "session", session_id, client, clock, monotonic, receipts, deadline)
    for hosted in app.state.hosted.values():
        hosted.close()
    session.close_ledger()
