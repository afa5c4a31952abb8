"""One bid never stops the opening: each hostile bid of issue 11 §1 is its own outcome, the rest open.

Every hostile bid is submitted before an honest one, so that a stop at the
hostile bid would leave the honest one unopened.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from bidcrypt.envelope import KeyTransport
from bidcrypt.errors import KeyNotFoundError
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningRun, OpeningSession, open_bids

from ..conftest import Pki, SoftHsm, run_bidcrypt
from . import hostile
from .conftest import make_package, move_opening_time_back, new_session

LOTS = tuple(str(n) for n in range(1, 9))


def _session(pki: Pki, directory: Path, packages: Sequence[Path]) -> tuple[OpeningSession, dt.datetime]:
    """A session holding *packages* in order; returns it and a moment after its opening time."""
    session = new_session(pki, directory, lots=LOTS)
    for package in packages:
        session.submit(package)
    return session, session.settings.opening_time + dt.timedelta(seconds=1)


def _open(session: OpeningSession, key: KeySource, now: dt.datetime) -> OpeningRun:
    return open_bids(session, key, workers=2, now=now)


def _authority(pki: Pki) -> KeySource:
    return open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin))


def _causes(session: OpeningSession) -> dict[int, tuple[str, str | None]]:
    return {n: (row["status"], row["cause_code"]) for n, row in session.outcomes().items()}


def test_a_garbage_wrapped_key_is_that_bids_outcome(pki: Pki, tmp_path: Path) -> None:
    bad = make_package(pki, tmp_path, "bidder-b", name="garbled")
    hostile.garble_wrapped_key(bad, pki.cert("authority/enc"))
    good = make_package(pki, tmp_path, "bidder-a", name="good")
    session, now = _session(pki, tmp_path / "s", [bad, good])
    with _authority(pki) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2] and run.failed == [1]
    assert _causes(session)[1] == ("failed", "wrong-key")


def test_a_bid_not_encrypted_to_the_key_is_skipped_without_a_trial(pki: Pki, tmp_path: Path) -> None:
    """No fallback to "any RSA recipient of the same size": the key is tried only where it is named."""
    other = make_package(pki, tmp_path, "bidder-a", name="own-key-only", authority=False)
    good = make_package(pki, tmp_path, "bidder-c", name="good")
    session, now = _session(pki, tmp_path / "s", [other, good])
    with _authority(pki) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2] and run.skipped == [1]
    assert run.unwraps == 1  # the honest bid's only: nothing was tried on the other
    assert 1 not in session.outcomes()  # still pending: the bidder's own key may open it
    assert "not encrypted to the key" in session.attempts()[1]["cause"]


def test_an_unknown_key_encryption_algorithm_is_that_bids_outcome(pki: Pki, tmp_path: Path) -> None:
    bad = make_package(pki, tmp_path, "bidder-a", name="unknown-oid")
    hostile.unknown_key_algorithm(bad, pki.cert("authority/enc"))
    good = make_package(pki, tmp_path, "bidder-c", name="good")
    session, now = _session(pki, tmp_path / "s", [bad, good])
    with _authority(pki) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2]
    assert _causes(session)[1] == ("failed", "unsupported-algorithm")


def test_an_invalid_ec_point_is_that_bids_outcome(pki: Pki, tmp_path: Path) -> None:
    """Bidder B opens its own bids with its EC key; one bid's ephemeral point is off the curve."""
    bad = make_package(pki, tmp_path, "bidder-b", lot="1", name="bad-point", authority=False)
    hostile.invalid_originator_point(bad, pki.cert("bidder-b/enc"))
    good = make_package(pki, tmp_path, "bidder-b", lot="2", name="good", authority=False)
    session, now = _session(pki, tmp_path / "s", [bad, good])
    with open_key_source(str(pki.p12("bidder-b/enc")), PinSource.of_value(pki.pin)) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2] and run.failed == [1]
    assert _causes(session)[1] == ("failed", "malformed-envelope")


@pytest.mark.softhsm
def test_a_key_transport_the_token_cannot_undo_is_that_bids_outcome(
    pki: Pki, softhsm: SoftHsm, tmp_path: Path
) -> None:
    """SoftHSM2 undoes OAEP with SHA-1 only: an OAEP-SHA256 bid fails alone; the batch goes on."""
    bad = hostile.craft_package(
        pki, tmp_path, "bidder-a", [("a.txt", b"a")], name="oaep256", key_transport=KeyTransport.OAEP_SHA256
    )
    good = make_package(pki, tmp_path, "bidder-c", name="good")
    session, now = _session(pki, tmp_path / "s", [bad, good])
    with open_key_source(softhsm.uri("authority"), PinSource.of_value(pki.pin)) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2] and run.failed == [1]
    assert _causes(session)[1] == ("failed", "key-transport-unsupported")


def test_missing_replaced_and_stray_files_in_the_session(pki: Pki, tmp_path: Path) -> None:
    packages = [make_package(pki, tmp_path, b, name=b) for b in ("bidder-a", "bidder-b", "bidder-c")]
    session, now = _session(pki, tmp_path / "s", packages)
    stored = session.directory / "submissions"
    (stored / "1.bid").unlink()  # lost from storage
    (stored / "2.bid").unlink()
    (stored / "2.bid").mkdir()  # replaced by a folder
    (session.directory / "opened" / "3").write_text("stray")  # a file where bid 3's folder goes
    with _authority(pki) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [3]
    assert _causes(session) == {
        1: ("failed", "receipt-mismatch"),
        2: ("failed", "receipt-mismatch"),
        3: ("opened", None),
    }
    assert (session.directory / "opened" / "3").is_dir()
    assert sorted(p.name for p in (session.directory / "opened").iterdir()) == ["3"]


def test_a_path_the_file_system_refuses_is_that_bids_outcome(pki: Pki, tmp_path: Path) -> None:
    """A manifest path inside the format's 4,096 bytes that is too long for this file system."""
    deep = "/".join(["d" * 203] * 20) + "/f"
    assert len(deep.encode()) < 4096 < len(str(tmp_path / "s" / "opened" / "1" / deep).encode())
    bad = hostile.craft_package(pki, tmp_path, "bidder-a", [(deep, b"x")], name="long")
    good = make_package(pki, tmp_path, "bidder-c", name="good")
    session, now = _session(pki, tmp_path / "s", [bad, good])
    with _authority(pki) as key:
        run = _open(session, key, now)
    assert run.stopped is None and run.opened == [2] and run.failed == [1]
    status, code = _causes(session)[1]
    assert status == "failed" and code != "output-failed"
    assert sorted(p.name for p in (session.directory / "opened").iterdir()) == ["2"]


def test_every_kind_through_the_command_line(pki: Pki, tmp_path: Path) -> None:
    """`opening open` exits 0 with no traceback; each hostile bid has its own cause in the record."""
    garbled = make_package(pki, tmp_path, "bidder-a", lot="1", name="garbled")
    hostile.garble_wrapped_key(garbled, pki.cert("authority/enc"))
    unknown = make_package(pki, tmp_path, "bidder-a", lot="2", name="unknown")
    hostile.unknown_key_algorithm(unknown, pki.cert("authority/enc"))
    own_only = make_package(pki, tmp_path, "bidder-a", lot="3", name="own", authority=False)
    long_path = hostile.craft_package(
        pki, tmp_path, "bidder-a", [("/".join(["n" * 250] * 16), b"x")], lot="4", name="long"
    )
    missing = make_package(pki, tmp_path, "bidder-a", lot="5", name="missing")
    honest = [make_package(pki, tmp_path, b, lot="6", name=f"h-{b}") for b in ("bidder-a", "bidder-b")]
    session, _ = _session(pki, tmp_path / "s", [garbled, unknown, own_only, long_path, missing, *honest])
    (session.directory / "submissions" / "5.bid").unlink()
    move_opening_time_back(session)
    session.close_ledger()

    env = {"BIDCRYPT_PIN": pki.pin}
    result = run_bidcrypt(
        "opening", "open", session.directory, "--key", pki.p12("authority/enc"), "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = json.loads(result.stdout)
    assert sorted(run["opened"]) == [6, 7] and sorted(run["failed"]) == [1, 2, 4, 5] and run["skipped"] == [3]
    record = json.loads(run_bidcrypt("opening", "report", session.directory, "--format", "json").stdout)
    causes = {row["submission"]: row["cause"] for row in record["rows"]}
    assert "cannot be opened with this key" in causes[1]
    assert "not supported" in causes[2] or "unsupported" in causes[2]
    assert "not encrypted to the key" in causes[3]
    assert "receipt" in causes[5]
    assert causes[6] is None and causes[7] is None


def test_a_stored_copy_of_a_session_can_be_reopened(pki: Pki, tmp_path: Path) -> None:
    """Reconciliation keeps what the ledger calls opened, and nothing else, across runs."""
    packages = [make_package(pki, tmp_path, b, name=b) for b in ("bidder-a", "bidder-b")]
    session, now = _session(pki, tmp_path / "s", packages)
    with _authority(pki) as key:
        first = _open(session, key, now)
    assert sorted(first.opened) == [1, 2]
    (session.directory / "opened" / "7").mkdir()  # not a bid of the ledger's
    (session.directory / "opened" / ".run-1-1").mkdir()  # a dead run's
    shutil.copy(packages[0], session.directory / "opened" / "notes.bid")  # not ours to remove
    with _authority(pki) as key:
        again = _open(session, key, now)
    assert again.opened == [] and again.failed == []
    names = sorted(p.name for p in (session.directory / "opened").iterdir())
    assert names == ["1", "2", "notes.bid"]


def test_a_key_source_without_private_keys_is_refused_before_any_bid(pki: Pki, tmp_path: Path) -> None:
    """A certificate alone opens nothing: the opening says so instead of skipping every bid."""
    session, now = _session(pki, tmp_path / "s", [make_package(pki, tmp_path, "bidder-a", name="a")])
    with _authority(pki) as key:
        certificate_only = Keys([e for e in key.entries()], private=False)
        with pytest.raises(KeyNotFoundError):
            _open(session, certificate_only, now)
    assert session.outcomes() == {} and session.attempts() == {}


class Keys(KeySource):
    """The entries of another source, claiming to hold no private key when *private* is False."""

    def __init__(self, entries: list[KeyEntry], *, private: bool) -> None:
        self.description = "certificates only"
        self._entries = [_NoKey(e) if not private else e for e in entries]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


class _NoKey(KeyEntry):
    def __init__(self, inner: KeyEntry) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)

    @property
    def has_private_key(self) -> bool:
        return False

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        raise AssertionError("no key to decrypt with")

    def ecdh(self, peer: object) -> bytes:  # type: ignore[override]
        raise AssertionError("no key to agree with")

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        raise AssertionError("no key to sign with")

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        return ()
