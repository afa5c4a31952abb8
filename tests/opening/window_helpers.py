"""Shared pieces of the window tests: three bids with their backup copies, a session they are in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bidcrypt.clock import FixedClock
from bidcrypt.opening import OpeningSession

from ..conftest import Pki
from .conftest import make_package, new_session

BIDDERS = ("bidder-a", "bidder-b", "bidder-c")


@dataclass(frozen=True)
class Bids:
    """A package and its backup copy for each fixture bidder."""

    packages: dict[str, Path]
    backups: dict[str, Path]


def make_bids(pki: Pki, directory: Path) -> Bids:
    """Packages of bidders a, b and c with their backups (made once per module: packing takes time)."""
    packages, backups = {}, {}
    for bidder in BIDDERS:
        backups[bidder] = directory / f"{bidder}-backup.tar"
        packages[bidder] = make_package(pki, directory, bidder, backup=backups[bidder])
    return Bids(packages, backups)


def session_with_bids(
    pki: Pki, directory: Path, bids: Bids, who: tuple[str, ...] = BIDDERS
) -> OpeningSession:
    """A new session holding the bids of *who* (submitted now, before its deadline)."""
    session = new_session(pki, directory)
    for bidder in who:
        session.submit(bids.packages[bidder])
    return session


def window_clock(session: OpeningSession, seconds: float) -> FixedClock:
    """A clock *seconds* after the session's opening time."""
    return FixedClock(session.settings.opening_time + dt.timedelta(seconds=seconds))


def code_of(pki: Pki, bidder: str) -> str:
    """The fixture bidder's credit code."""
    return str(pki.company(bidder)["credit_code"])
