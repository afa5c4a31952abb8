"""The committee over the service, end to end: ``bidcrypt serve`` over TLS, members post their shares with
``bidcrypt remote share``; with one share of three (quorum 2) ``opening open --committee`` opens nothing,
with two it opens the bids encrypted to the session's opening key. Clocks moved by faketime."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt.remote import RemoteSession

from ..conftest import Pki, require_tool
from ..opening.committee_support import BIDDERS, committee_session, pack_bid
from .service_process import Service, Shifted, self_signed


@pytest.mark.slow
def test_two_of_three_members_open_through_the_service(pki: Pki, tmp_path: Path) -> None:
    require_tool("faketime")
    committee = committee_session(pki, tmp_path / "session")
    session = committee.session
    bids = tmp_path / "bids"
    bids.mkdir()
    receipts = [
        session.submit(pack_bid(pki, bids, bidder, committee.opening_certificate)) for bidder in BIDDERS
    ]
    cert, key = self_signed(tmp_path)
    clock = Shifted(
        (committee.opening_time - dt.datetime.now(dt.UTC)).total_seconds() + 5, {"BIDCRYPT_PIN": pki.pin}
    )
    service = Service(session.directory, cert, key, clock)
    service.start()
    url = f"https://127.0.0.1:{service.port}/s/{committee.session_id}/"
    remote = RemoteSession(url, ca=cert)

    def share(member: int, company: str) -> dict[str, object]:
        result = clock.ok(
            "remote",
            "share",
            url,
            session.directory / "custody" / f"share-{member}.p7m",
            "--key",
            pki.p12(f"{company}/enc"),
            "--key",
            pki.p12(f"{company}/sign"),
            "--ca",
            cert,
            "--json",
        )
        return dict(json.loads(result))

    try:
        clock.ok("opening", "start", session.directory, "--window", "30m")
        assert share(1, "bidder-a")["shares"] == {"quorum": 2, "released": 1, "members": 3}
        assert remote.status()["shares"] == {"quorum": 2, "released": 1, "members": 3}
        too_few = clock.run("opening", "open", session.directory, "--committee")
        assert too_few.returncode == 72 and "quorum-not-reached" in too_few.stderr, too_few.stderr
        assert all(bid["status"] == "pending" for b in remote.status()["bidders"] for bid in b["bids"])

        assert share(2, "bidder-b")["shares"] == {"quorum": 2, "released": 2, "members": 3}
        opened = json.loads(clock.ok("opening", "open", session.directory, "--committee", "--json"))
        assert sorted(opened["opened"]) == sorted(r.submission for r in receipts)
        status = remote.status()
        assert {bid["opened_by"] for b in status["bidders"] for bid in b["bids"]} == {"committee"}
        assert "已释放 {k}/{n} 份" in remote._call("GET", "hall").decode()
    finally:
        service.stop()
        session.close_ledger()
