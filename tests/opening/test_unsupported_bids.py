"""A bid bidcrypt cannot open is that bid's outcome, and its cause says what is supported instead."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bidcrypt.envelope import KeyTransport
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import open_bids

from ..conftest import Pki
from . import hostile
from .conftest import make_package, new_session


def test_an_unsupported_oaep_bid_fails_alone_saying_what_is_supported(pki: Pki, tmp_path: Path) -> None:
    bad = hostile.craft_package(
        pki, tmp_path, "bidder-a", [("a.txt", b"a")], name="oaep384", key_transport=KeyTransport.OAEP_SHA256
    )
    hostile.oaep_sha384(bad, pki.cert("authority/enc"))
    good = make_package(pki, tmp_path, "bidder-c", name="good")
    session = new_session(pki, tmp_path / "s", lots=("1", "2", "3"))
    for package in (bad, good):
        session.submit(package)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, workers=2, now=session.settings.opening_time + dt.timedelta(seconds=1))
    assert run.stopped is None and run.opened == [2] and run.failed == [1]
    outcome = session.outcomes()[1]
    assert outcome["cause_code"] == "unsupported-algorithm"
    cause = outcome["cause"]
    assert "RSAES-OAEP (sha384, MGF1 sha384)" in cause
    assert "supported: RSAES-OAEP (SHA-256), RSAES-OAEP (SHA-1), RSAES-PKCS1-v1_5" in cause
    assert cause.count("unsupported algorithm") == 1
