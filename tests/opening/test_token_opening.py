"""The bulk opening with a token that decrypts the content itself (an SKF UKey's standard path).

The officials' keys are the authorities' PKCS#12 files behind the test
double of :mod:`tests.token_double`, which only imports content keys: each
CBC bid costs one import and is decrypted on the "token" in the batch's
own process; an AES-GCM bid, which the token cannot decrypt, stays pending
for another key. A token failure mid-batch (on an import, or in the middle
of a bid's decryption) stops the batch with nothing lost, and the next run
opens the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bidcrypt.errors import TokenAbsentError, TokenError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import SLOW_PATH, OpeningSession, Progress, build_record, open_bids
from tests.token_double import ImportOnlySource, TokenLedger

from ..conftest import Pki
from .conftest import make_package, move_opening_time_back
from .test_sm2_opening import Keys, mixed_session

#: (bidder, its opening authority): SM4-CBC bids to the SM2 and to the RSA authority (PKCS#1 v1.5),
#: and one AES-GCM bid (an RSA bidder, the RSA authority) the token cannot decrypt.
BIDS = (
    ("sm2/bidder-a", "authority/enc"),
    ("sm2/bidder-b", "sm2/authority/enc"),
    ("sm2/bidder-c", "sm2/authority/enc"),
    ("bidder-b", "sm2/authority/enc"),
    ("bidder-a", "authority/enc"),
)
CBC = 4


@pytest.fixture(scope="module")
def packages(
    pki: Pki,
    tmp_path_factory: pytest.TempPathFactory,
    sealed_pdfs: dict[str, Path],
    sm2_sealed_pdfs: dict[str, Path],
) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("token-opening")
    return {
        bidder: make_package(
            pki,
            directory,
            bidder,
            authority=authority,
            price=f"{200 + number}.00",
            size=150_000,
            sealed_pdf={**sealed_pdfs, **sm2_sealed_pdfs}[bidder],
            name=f"bid-{number}",
        )
        for number, (bidder, authority) in enumerate(BIDS)
    }


def _session(pki: Pki, directory: Path, packages: dict[str, Path]) -> tuple[OpeningSession, dict[str, int]]:
    session = mixed_session(pki, directory, tuple(packages))
    numbers = {bidder: session.submit(path).submission for bidder, path in packages.items()}
    move_opening_time_back(session)
    return session, numbers


def _officials(pki: Pki, ledger: TokenLedger) -> ImportOnlySource:
    password = PinSource.of_value(pki.pin)
    sources = [
        open_key_source(str(pki.p12(name)), password) for name in ("authority/enc", "sm2/authority/enc")
    ]
    return ImportOnlySource(Keys(*sources), ledger)


@pytest.mark.slow
def test_the_token_decrypts_every_cbc_bid_with_one_import_each(
    pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    session, numbers = _session(pki, tmp_path / "session", packages)
    ledger = TokenLedger(max_chunk=8192)
    steps: list[Progress] = []
    run = open_bids(session, _officials(pki, ledger), workers=2, progress=steps.append)
    cbc = sorted(numbers[bidder] for bidder, _ in BIDS[:CBC])
    assert sorted(run.opened) == cbc and run.failed == [] and run.stopped is None
    assert run.deferred == [numbers["bidder-a"]]  # AES-GCM: pending, for a key that can
    assert run.unwraps == ledger.imports == CBC  # one import per CBC bid, none for the GCM one
    assert run.token_decrypted == CBC and ledger.open_keys == 0
    assert max(ledger.sizes) <= 8192 and ledger.finals == CBC
    assert steps[0] == Progress(0, len(BIDS), 0, "", on_token=True)
    assert [s.done for s in steps[1:]] == list(range(1, CBC + 1)) and all(s.on_token for s in steps)
    assert "one at a time" in SLOW_PATH.render("en") and "逐个" in SLOW_PATH.render("zh")
    rows = {row.submission: row for row in build_record(session).rows}
    for number in cbc:
        assert rows[number].status == "opened" and rows[number].seals == "valid"
        assert (session.directory / "opened" / str(number) / "投标函.pdf").is_file()
    gcm = rows[numbers["bidder-a"]]
    assert gcm.status != "opened" and not (session.directory / "opened" / str(numbers["bidder-a"])).exists()
    with session.ledger.transaction() as db:
        attempts = db.execute(
            "SELECT cause_code FROM attempts WHERE submission_id = ?", (numbers["bidder-a"],)
        ).fetchall()
    assert [row[0] for row in attempts] == ["token-cipher-unsupported"]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["import", "update"])
def test_a_token_removed_mid_batch_stops_it_cleanly_and_the_next_run_resumes(
    pki: Pki, tmp_path: Path, packages: dict[str, Path], where: str
) -> None:
    cbc_packages = {bidder: packages[bidder] for bidder, _ in BIDS[:CBC]}
    session, numbers = _session(pki, tmp_path / "session", cbc_packages)
    ledger = TokenLedger(max_chunk=4096)
    removed = TokenAbsentError(token="double-token")
    if where == "import":
        ledger.fail_import = (2, removed)  # the second bid's import
    else:
        first_bid = packages[BIDS[0][0]].stat().st_size // 4096 + 1  # at least the first bid's calls
        ledger.fail_update = (first_bid + 4, removed)  # in the middle of the second bid (150 kB, 4 kB a call)
    first = open_bids(session, _officials(pki, ledger), workers=2)
    assert isinstance(first.stopped, TokenAbsentError)
    assert len(first.opened) == 1 and first.failed == [] and ledger.open_keys == 0
    pending = set(numbers.values()) - set(first.opened)
    opened_dir = session.directory / "opened"
    assert sorted(p.name for p in opened_dir.iterdir()) == [str(first.opened[0])]  # nothing half-opened
    assert set(session.outcomes()) == set(first.opened)
    again = TokenLedger()
    second = open_bids(session, _officials(pki, again), workers=2)
    assert second.stopped is None and sorted(second.opened) == sorted(pending)
    assert again.imports == len(pending) and second.unwraps == len(pending)
    assert all(row.status == "opened" for row in build_record(session).rows)


@pytest.mark.slow
def test_a_token_error_on_a_bid_is_the_machines_not_the_bids(
    pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    one = {"sm2/bidder-b": packages["sm2/bidder-b"]}
    session, numbers = _session(pki, tmp_path / "session", one)
    ledger = TokenLedger()
    ledger.fail_update = (1, TokenError(source="double-token"))
    run = open_bids(session, _officials(pki, ledger), workers=1)
    assert isinstance(run.stopped, TokenError) and run.opened == [] and run.failed == []
    assert session.outcomes() == {}  # no outcome: the bid is pending
    assert open_bids(session, _officials(pki, TokenLedger()), workers=1).opened == [numbers["sm2/bidder-b"]]
