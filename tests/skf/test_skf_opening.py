"""A bulk opening with the SM2 opening authority on an SKF UKey (fast path): one login, one key
operation per bid (the token counts them); the UKey removed mid-batch stops the batch cleanly, and
the next run, with the UKey back, opens the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt import errors
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import open_bids
from tests.conftest import Pki
from tests.opening.conftest import make_package, move_opening_time_back
from tests.opening.test_sm2_opening import mixed_session
from tests.skf.softskf import SoftSkf

BIDDERS = ("sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c")
DEVICE = "sm2-authority"


@pytest.fixture(scope="module")
def packages(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, sm2_sealed_pdfs: dict[str, Path]
) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("skf-opening")
    return {
        bidder: make_package(
            pki,
            directory,
            bidder,
            authority="sm2/authority/enc",
            price=f"{100 + n}.00",
            sealed_pdf=sm2_sealed_pdfs[bidder],
            name=f"bid-{n}",
        )
        for n, bidder in enumerate(BIDDERS)
    }


@pytest.mark.slow
def test_opening_on_an_skf_authority_survives_a_removed_ukey(
    softskf_factory: Callable[..., SoftSkf], pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    token = softskf_factory(["sm2/authority"])
    session = mixed_session(pki, tmp_path / "session", BIDDERS)
    receipts = [session.submit(path) for path in packages.values()]
    move_opening_time_back(session)
    token.inject(DEVICE, removed_after=1)
    ref = token.bidder_uri("sm2/authority")
    with open_key_source(ref, PinSource.of_value(pki.pin)) as authority:
        first = open_bids(session, authority, workers=1)
    assert isinstance(first.stopped, errors.TokenRemovedError)
    assert len(first.opened) == 1 and first.failed == []
    token.reinsert(DEVICE)
    with open_key_source(ref, PinSource.of_value(pki.pin)) as authority:
        second = open_bids(session, authority, workers=1)
    assert second.stopped is None and second.failed == []
    assert sorted(first.opened + second.opened) == sorted(r.submission for r in receipts)
    counted = token.counters(DEVICE)
    assert counted["verify_pin"] == 2  # one login per run
    assert counted["private_decrypt"] == len(BIDDERS)  # one key operation per bid opened
