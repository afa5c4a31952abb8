"""Receipts timed by an RFC 3161 timestamp authority on loopback, and what happens when it fails."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms

from bidcrypt.clock import TsaClock
from bidcrypt.errors import TimestampError
from bidcrypt.trust import TrustStore

from ..conftest import Pki, run_cli
from ..seal.tsa import LocalTsa, running_tsa
from .conftest import make_package, new_session


@pytest.fixture(scope="module")
def tsa(pki: Pki) -> Iterator[LocalTsa]:
    with running_tsa(pki.root) as authority:
        yield authority


def test_receipt_time_from_the_tsa(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-c")
    receipt = session.submit(package, TsaClock(tsa.url, trust=session.trust_store()))
    assert receipt.time_source == f"rfc3161:{tsa.url}"
    assert receipt.timestamp_token is not None
    token = cms.ContentInfo.load(receipt.timestamp_token)
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(package.read_bytes()).digest()
    assert info["gen_time"].native == receipt.received_at
    stored = session.ledger.one("SELECT time_source, time_evidence FROM submissions")
    assert stored is not None and bytes(stored["time_evidence"]) == receipt.timestamp_token


def test_cli_submit_with_tsa(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", tsa.url, "--json")
    assert result.exit_code == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["time_source"].startswith("rfc3161:") and receipt["timestamp_token"]


def test_untrusted_or_unreachable_tsa(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    untrusting = TrustStore.load([pki.root / "trust" / "untrusted-root.pem"])
    with pytest.raises(TimestampError, match="does not verify"):
        session.submit(package, TsaClock(tsa.url, trust=untrusting))
    result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", "http://127.0.0.1:9/tsa")
    assert result.exit_code == 6
    assert session.submissions() == []
    assert list((session.directory / "submissions").iterdir()) == []
