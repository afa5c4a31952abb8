"""The full opening does no work twice: one read of each stored bid, one validation per certificate.

The receipt's SHA-256 is taken from the reads that decrypt the bid
(:mod:`bidcrypt.opening.receipt_stream`); each distinct certificate is
validated once per batch in a worker (one :class:`~bidcrypt.trust.ValidationCache`);
the run reports the time of each phase.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.certs import load_certificate
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import PHASES, open_bids
from bidcrypt.opening import worker as worker_module
from bidcrypt.opening.receipt_stream import ReceiptStream

from ..conftest import Pki
from .conftest import make_package, new_session

# --- the receipt stream ---------------------------------------------------------------------------

_MOVES = st.lists(
    st.tuples(st.sampled_from(["set", "cur", "end"]), st.integers(-300, 3000), st.integers(0, 700)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=4000), moves=_MOVES)
def test_receipt_stream_hashes_the_whole_file_once_whatever_the_reads(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, moves: list[tuple[str, int, int]]
) -> None:
    path = tmp_path_factory.mktemp("receipt") / "bid"
    path.write_bytes(data)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        stream = ReceiptStream(descriptor, str(path))
        mirror = io.BytesIO(data)
        for whence, offset, size in moves:
            how = {"set": io.SEEK_SET, "cur": io.SEEK_CUR, "end": io.SEEK_END}[whence]
            target = {"set": 0, "cur": mirror.tell(), "end": len(data)}[whence] + offset
            if target < 0:
                with pytest.raises(ValueError):
                    stream.seek(offset, how)
                continue
            assert stream.seek(offset, how) == mirror.seek(offset, how)
            assert stream.read(size) == mirror.read(size)  # the reader sees the file as it is
            assert stream.tell() == mirror.tell()
        assert stream.finish() == hashlib.sha256(data).hexdigest()
        assert stream.size == len(data)
    finally:
        os.close(descriptor)


def test_receipt_stream_has_no_descriptor_to_read_behind_its_back(tmp_path: Path) -> None:
    path = tmp_path / "bid"
    path.write_bytes(b"abc")
    descriptor = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(OSError):
            ReceiptStream(descriptor, str(path)).fileno()
    finally:
        os.close(descriptor)


# --- the opening reads each bid once ----------------------------------------------------------------


def _open_in_process(pki: Pki, tmp_path: Path, package: Path, *, store_as_pem: bool = False) -> list[object]:
    """Submit *package*, build its job as the batch does, and run the worker here; its result(s)."""
    from bidcrypt.opening.batch import _Batch

    session = new_session(pki, tmp_path / "s")
    session.submit(package)
    stored = session.directory / "submissions" / "1.bid"
    if store_as_pem:  # a package kept as PEM (as `openssl cms -outform PEM` writes one)
        body = base64.encodebytes(stored.read_bytes()).decode()
        stored.chmod(0o600)
        stored.write_text(f"-----BEGIN CMS-----\n{body}-----END CMS-----\n")
        with session.ledger.transaction() as db:
            digest = hashlib.sha256(stored.read_bytes()).hexdigest()
            db.execute("UPDATE submissions SET sha256 = ?, size = ?", (digest, stored.stat().st_size))
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        batch = _Batch(session, key, 1, None, dt.datetime.now(dt.UTC))
        batch.reconcile()
        batch.run_dir.mkdir()
        results = []
        for row in session.pending():
            job = batch.prepare(row)  # the header read, the content key unwrapped
            assert job is not None
            results.append(worker_module.work(job))
    return results


def test_the_worker_reads_a_stored_bid_once(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = make_package(pki, tmp_path, "bidder-a")

    def no_second_read(path: Path) -> str:
        raise AssertionError(f"{path} hashed in a pass of its own")

    monkeypatch.setattr(worker_module, "file_sha256", no_second_read)
    (result,) = _open_in_process(pki, tmp_path, package)
    assert result.status == "opened", result  # type: ignore[attr-defined]
    assert result.size == package.stat().st_size  # type: ignore[attr-defined]


def test_a_pem_stored_bid_is_hashed_then_opened(pki: Pki, tmp_path: Path) -> None:
    (result,) = _open_in_process(pki, tmp_path, make_package(pki, tmp_path, "bidder-a"), store_as_pem=True)
    assert result.status == "opened", result  # type: ignore[attr-defined]


def test_bytes_that_left_their_receipt_fail_the_bid_even_when_they_decrypt(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest is known only after the decryption: a mismatch still decides, and nothing is kept."""
    package = make_package(pki, tmp_path, "bidder-a")
    real = worker_module.ReceiptStream.finish

    def wrong(self: ReceiptStream) -> str:
        real(self)
        return "0" * 64

    monkeypatch.setattr(worker_module.ReceiptStream, "finish", wrong)
    (result,) = _open_in_process(pki, tmp_path, package)
    assert result.status == "failed" and result.error.code == "receipt-mismatch"  # type: ignore[attr-defined]
    output = tmp_path / "s" / "opened"
    assert not [p for p in output.rglob("*") if p.is_file()]  # the opened files went with it


def test_the_run_reports_each_phase(pki: Pki, tmp_path: Path, sealed_pdfs: dict[str, Path]) -> None:
    session = new_session(pki, tmp_path / "s")
    for bidder in ("bidder-a", "bidder-b"):
        session.submit(make_package(pki, tmp_path, bidder, sealed_pdf=sealed_pdfs[bidder]))
    later = session.settings.opening_time + dt.timedelta(seconds=1)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, now=later, workers=1)
    assert run.opened == [1, 2] and run.worked == 2
    assert set(run.phases) == set(PHASES)
    assert all(seconds >= 0 for seconds in run.phases.values())
    assert list(run.to_dict()["phases"]) == list(PHASES)


# --- one validation per certificate ---------------------------------------------------------------


def test_a_worker_keeps_one_validation_cache_per_batch(pki: Pki) -> None:
    """The batch's chains are validated once in a worker: the cache lives as long as the batch."""
    files = ((str(pki.roots), str(pki.intermediates)), (str(pki.crl),))
    store, cache = worker_module._trust("batch-1", files)
    assert worker_module._trust("batch-1", files) == (store, cache)
    signer = load_certificate(pki.cert("bidder-a/sign"))
    at = dt.datetime.now(dt.UTC)
    store.validate(signer, at, cache=cache)
    store.validate(signer, at, cache=cache)
    assert (cache.misses, cache.hits) == (1, 1)
    _, next_cache = worker_module._trust("batch-2", files)
    assert next_cache is not cache and len(next_cache) == 0  # a new batch forgets the last one's verdicts
