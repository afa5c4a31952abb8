"""Issue 11's acceptance: honest bids always open next to hostile ones, each hostile one with its cause.

One session holds 20 honest bids and 20 hostile ones: one of each kind of
issue 11 §1 (and of the damaged storage of §2), hostile content with valid
crypto, and random mutations. One run with the opening officials' keys
opens every honest bid; every hostile bid has exactly one outcome with its
own cause. A Hypothesis test then mutates packages at random and checks
the same two properties on many small sessions.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import KeyTransport
from bidcrypt.errors import BidcryptError
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningRun, OpeningSession, build_record, open_bids

from ..conftest import Pki, SoftHsm
from . import hostile
from .conftest import make_package, new_session

BIDDERS = ("bidder-a", "bidder-b", "bidder-c")
LOTS = tuple(str(n) for n in range(1, 15))


class Keys(KeySource):
    """The opening officials' keys together: the authority's UKey and bidder B's own EC key."""

    def __init__(self, *sources: KeySource) -> None:
        self.description = " + ".join(s.description for s in sources)
        self._entries = [entry for source in sources for entry in source.entries()]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


def _flip(package: Path, offset: int) -> None:
    data = bytearray(package.read_bytes())
    data[offset % len(data)] ^= 0xFF
    package.chmod(0o644)
    package.write_bytes(bytes(data))


class Bench:
    """Packages for the session, each on its own (bidder, lot), in submission order."""

    def __init__(self, pki: Pki, directory: Path) -> None:
        self.pki = pki
        self.directory = directory
        self.slots = [(bidder, lot) for lot in LOTS for bidder in BIDDERS]
        self.packages: list[tuple[str, Path]] = []  # (kind, package)

    def next_slot(self, bidder: str | None = None, hostile: bool = False) -> tuple[str, str]:
        """The next free (bidder, lot), of *bidder* when given.

        A hostile bid goes to bidder A or C: bidder B's own key is among the
        officials' keys, and would open a bid whose authority part is damaged.
        """
        slot = next(
            s
            for s in self.slots
            if (bidder is None or s[0] == bidder) and not (hostile and s[0] == "bidder-b")
        )
        self.slots.remove(slot)
        return slot

    def own_key_only(self, kind: str, bidder: str) -> Path:
        """A bid encrypted to the bidder's own key only (not to the authority)."""
        _, lot = self.next_slot(bidder)
        package = make_package(self.pki, self.directory, bidder, lot=lot, name=kind, authority=False)
        self.packages.append((kind, package))
        return package

    def honest(self, kind: str = "honest") -> Path:
        bidder, lot = self.next_slot(hostile=kind != "honest")
        package = make_package(self.pki, self.directory, bidder, lot=lot, name=f"{kind}-{bidder}-{lot}")
        self.packages.append((kind, package))
        return package

    def crafted(self, kind: str, files: list[tuple[str, bytes]], **options: object) -> Path:
        bidder, lot = self.next_slot(hostile=True)
        options.setdefault("recipients", ("{bidder}/enc", "authority/enc"))
        package = hostile.craft_package(
            self.pki, self.directory, bidder, files, lot=lot, name=f"{kind}-{bidder}-{lot}", **options
        )  # type: ignore[arg-type]
        self.packages.append((kind, package))
        return package


@pytest.mark.softhsm
@pytest.mark.slow
def test_twenty_honest_and_twenty_hostile_bids_in_one_run(pki: Pki, softhsm: SoftHsm, tmp_path: Path) -> None:
    bench = Bench(pki, tmp_path)
    authority = pki.cert("authority/enc")
    rng = random.Random(11)
    honest = [bench.honest() for _ in range(10)]

    hostile.garble_wrapped_key(bench.honest("garbled-v15"), authority)
    hostile.garble_wrapped_key(
        bench.crafted("garbled-oaep1", [("a.txt", b"a")], key_transport=KeyTransport.OAEP_SHA1), authority
    )
    hostile.unknown_key_algorithm(bench.honest("unknown-algorithm"), authority)
    hostile.invalid_originator_point(bench.own_key_only("bad-ec-point", "bidder-b"), pki.cert("bidder-b/enc"))
    bench.own_key_only("not-for-these-keys", "bidder-a")
    bench.crafted("oaep-sha256", [("a.txt", b"a")], key_transport=KeyTransport.OAEP_SHA256)
    bench.crafted("long-path", [("/".join(["p" * 250] * 16), b"x")])
    bench.crafted("traversal", [("../../outside.txt", b"x")])
    bench.crafted("right-to-left", [("invoice\u202efdp.exe", b"MZ")])
    bench.crafted("listed-twice", [("a.txt", b"a"), ("a.txt", b"a")])
    _flip(bench.honest("tampered-content"), -4000)  # inside the GCM content, before the tag
    for index in range(3):  # random mutations of honest packages
        package = bench.honest(f"fuzz-{index}")
        _flip(package, rng.randrange(package.stat().st_size))
    stored_damage = {
        kind: bench.honest(kind) for kind in ("missing", "folder", "symlink", "bit-flip", "truncated", "attr")
    }
    honest += [bench.honest() for _ in range(10)]
    assert len(honest) == 20 and len(bench.packages) == 40

    session = new_session(pki, tmp_path / "s", lots=LOTS)
    numbers: dict[Path, int | None] = {}
    for _, package in bench.packages:
        try:
            numbers[package] = session.submit(package).submission
        except BidcryptError:
            numbers[package] = None  # refused at the door: recorded as a rejection
    stored = session.directory / "submissions"
    for kind, package in stored_damage.items():
        target = stored / f"{numbers[package]}.bid"
        target.chmod(0o644)
        if kind == "missing":
            target.unlink()
        elif kind == "folder":
            target.unlink()
            target.mkdir()
        elif kind == "symlink":  # the right bytes, but not the stored file itself
            shutil.copy(target, tmp_path / "elsewhere.bid")
            target.unlink()
            target.symlink_to(tmp_path / "elsewhere.bid")
        elif kind == "bit-flip":
            _flip(target, target.stat().st_size // 2)
        elif kind == "truncated":
            os.truncate(target, target.stat().st_size // 3)
        else:  # a byte of the authority's certificate in the unauthenticated attribute that lists them
            listed = load_certificate(authority).public_bytes(Encoding.DER)
            _flip(target, target.read_bytes().rfind(listed) + len(listed) // 2)
    (session.directory / "opened" / str(numbers[honest[0]])).write_text("stray")

    now = session.settings.opening_time + dt.timedelta(seconds=1)
    with (
        open_key_source(softhsm.uri("authority"), PinSource.of_value(pki.pin)) as ukey,
        open_key_source(str(pki.p12("bidder-b/enc")), PinSource.of_value(pki.pin)) as own,
    ):
        run = open_bids(session, Keys(ukey, own), workers=2, now=now)

    assert run.stopped is None
    assert {numbers[p] for p in honest} <= set(run.opened)  # every honest bid, in one run
    wrongly_opened = [kind for kind, p in bench.packages if kind != "honest" and numbers[p] in run.opened]
    assert all(kind.startswith("fuzz") for kind in wrongly_opened), wrongly_opened  # a flip may be harmless
    _assert_one_outcome_each(session, run, [numbers[p] for _, p in bench.packages if numbers[p] is not None])
    record = build_record(session)
    rows = {row.submission: row for row in record.rows if row.submission is not None}
    causes = {kind: rows[numbers[p]].cause if numbers[p] else "refused" for kind, p in bench.packages}
    for kind, cause in causes.items():
        if kind == "honest":
            continue
        if not kind.startswith("fuzz"):  # a random flip may land where nothing checks it (the room)
            assert cause, f"{kind} has no cause in the record"
    assert all("receipt" in str(causes[kind]) for kind in stored_damage)
    assert sorted(p.name for p in (session.directory / "opened").iterdir()) == sorted(
        str(n) for n in run.opened
    )


def _assert_one_outcome_each(session: OpeningSession, run: OpeningRun, accepted: list[int]) -> None:
    """Every accepted bid ended in exactly one way: an outcome, or pending with an attempt's cause."""
    outcomes = session.outcomes()
    attempts = session.attempts()
    for number in accepted:
        has_outcome = number in outcomes
        pending_with_cause = number in attempts and (number in run.skipped or number in run.deferred)
        assert has_outcome != pending_with_cause, (
            f"bid {number}: outcome {has_outcome}, pending {pending_with_cause}"
        )


# --- random mutations --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_packages(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> dict[tuple[str, str], Path]:
    directory = tmp_path_factory.mktemp("fuzz")
    return {
        (bidder, lot): make_package(pki, directory, bidder, lot=lot, size=4096, name=f"{bidder}-{lot}")
        for bidder in BIDDERS
        for lot in ("1", "2", "3")
    }


MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("splice"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=512)),
    st.tuples(st.just("garble-key")),
    st.tuples(st.just("unknown-algorithm")),
)


def _mutate(package: Path, mutation: tuple[Any, ...], authority: Path) -> None:
    data = bytearray(package.read_bytes())
    kind = mutation[0]
    if kind == "flip":
        data[mutation[1] % len(data)] ^= 0x5A
    elif kind == "truncate":
        del data[mutation[1] % len(data) :]
    elif kind == "splice":
        at = mutation[1] % len(data)
        data[at : at + len(mutation[2])] = mutation[2]
    elif kind == "append":
        data += mutation[1]
    if kind in ("garble-key", "unknown-algorithm"):
        (hostile.garble_wrapped_key if kind == "garble-key" else hostile.unknown_key_algorithm)(
            package, authority
        )
        return
    package.write_bytes(bytes(data))


@pytest.mark.slow
@hypothesis_settings(max_examples=6)
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=5))
def test_random_hostile_bids_never_keep_an_honest_one_closed(
    pki: Pki,
    tmp_path_factory: pytest.TempPathFactory,
    base_packages: dict[tuple[str, str], Path],
    mutations: list[tuple[Any, ...]],
) -> None:
    directory = tmp_path_factory.mktemp("case")
    slots = sorted(base_packages)
    hostile_packages = []
    for index, mutation in enumerate(mutations):
        copy = directory / f"hostile-{index}.bid"
        shutil.copy(base_packages[slots[index]], copy)
        _mutate(copy, mutation, pki.cert("authority/enc"))
        hostile_packages.append(copy)
    honest_packages = [base_packages[slot] for slot in slots[-2:]]  # slots no hostile bid uses

    session = new_session(pki, directory / "s", lots=("1", "2", "3"))
    accepted = []
    for package in [*hostile_packages, *honest_packages]:
        try:
            accepted.append((package, session.submit(package).submission))
        except BidcryptError:
            continue  # refused at submission, with its recorded rejection
    now = session.settings.opening_time + dt.timedelta(seconds=1)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=1, now=now)
    assert run.stopped is None
    numbers = dict(accepted)
    for package in honest_packages:
        assert numbers[package] in run.opened
    _assert_one_outcome_each(session, run, list(numbers.values()))
    session.close_ledger()
