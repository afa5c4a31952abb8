"""The service's routes over a hosted session: Starlette's test client, the service's clocks injected."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bidcrypt.clock import FixedClock
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.window import pause_window, resume_window, start_window
from bidcrypt.package import front_of
from bidcrypt.remote import ServiceOptions, create_app

from .conftest import Served

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_status_before_the_window(served: Served) -> None:
    status = served.client.get(served.url("status")).json()
    assert status["session"] == served.session_id
    assert status["window"]["state"] == "not-started"
    assert status["window"]["started_at"] is None
    names = [b["name"] for b in status["bidders"]]
    assert len(names) == 3
    for bidder in status["bidders"]:
        assert bidder["signed_in_at"] is None
        assert [bid["status"] for bid in bidder["bids"]] == ["pending"]
    assert status["shares"] is None and status["record"] is None


def test_the_remaining_time_is_the_servers_and_pauses_keep_it(served: Served) -> None:
    start_window(served.session, 1800, clock=FixedClock(served.clock()))
    served.clock.advance(600)
    window = served.client.get(served.url("status")).json()["window"]
    assert (window["state"], window["remaining"], window["seconds"]) == ("running", 1200, 1800)
    pause_window(
        served.session, "平台网络故障 platform outage", "platform-outage", clock=FixedClock(served.clock())
    )
    served.clock.advance(3600)  # an hour of outage is not counted
    window = served.client.get(served.url("status")).json()["window"]
    assert (window["state"], window["remaining"]) == ("paused", 1200)
    assert window["pauses"][0]["reason"] == "平台网络故障 platform outage"
    resume_window(served.session, clock=FixedClock(served.clock()))
    served.clock.advance(200)
    window = served.client.get(served.url("status")).json()["window"]
    assert (window["state"], window["remaining"]) == ("running", 1000)
    assert window["pauses"][0]["resumed_at"] is not None
    served.clock.advance(1000)  # the window closes by itself at zero
    assert served.client.get(served.url("status")).json()["window"]["state"] == "closed"


def test_a_restarted_service_shows_the_same_window(served: Served) -> None:
    start_window(served.session, 1800, clock=FixedClock(served.clock()))
    served.clock.advance(100)
    before = served.client.get(served.url("status")).json()["window"]
    again = create_app([served.folder], ServiceOptions(clock=served.clock))
    from starlette.testclient import TestClient

    with TestClient(again) as client:
        after = client.get(served.url("status")).json()["window"]
    for hosted in again.state.hosted.values():
        hosted.close()
    assert after == before


def test_the_front_of_a_submission(served: Served) -> None:
    receipt = served.receipts["bidder-a"]
    answer = served.client.get(served.url(f"front/{receipt.sha256}"))
    assert answer.status_code == 200
    stored = served.folder / "submissions" / f"{receipt.submission}.bid"
    assert answer.content == front_of(stored)
    assert stored.read_bytes().startswith(answer.content) and len(answer.content) < stored.stat().st_size
    missing = served.client.get(served.url("front/" + "0" * 64))
    assert missing.status_code == 404 and missing.json()["code"] == "not-found"
    bad = served.client.get(served.url("front/..%2F..%2Fledger.sqlite"))
    assert bad.status_code == 404


def test_the_profile_is_handed_out_as_published(served: Served) -> None:
    answer = served.client.get(served.url("profile"))
    assert answer.content == (served.folder / "profile.p7s").read_bytes()
    assert answer.headers["content-type"] == "application/pkcs7-mime"


def test_unknown_sessions_and_routes_are_json_refusals(served: Served) -> None:
    for path in ("/s/" + "ab" * 16 + "/status", "/nothing", served.url("nothing")):
        answer = served.client.get(path)
        assert answer.status_code == 404
        assert set(answer.json()) == {"code", "message", "message_zh"}
    assert served.client.get(served.url("release")).status_code == 404  # GET of a POST route


def test_the_rate_limit_per_address(served: Served) -> None:
    options = ServiceOptions(clock=served.clock, monotonic=served.monotonic, rate=1.0, burst=3)
    app = create_app([served.folder], options)
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        answers = [client.get(served.url("status")).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        refused = client.get(served.url("status"))
        assert refused.json()["code"] == "rate-limited" and refused.headers["retry-after"] == "1"
        served.monotonic.now += 1.0
        assert client.get(served.url("status")).status_code == 200
    for hosted in app.state.hosted.values():
        hosted.close()


HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>&amp;\u2028'


def test_the_hall_page_escapes_what_bidders_wrote(served: Served) -> None:
    code = served.receipts["bidder-c"].credit_code
    served.session.register_bidder(HOSTILE, code)
    for lang, marker in (("", 'lang="zh-CN"'), ("?lang=en", 'lang="en"')):
        answer = served.client.get(served.url("hall") + lang)
        page = answer.text
        assert answer.status_code == 200 and marker in page
        outside = re.sub(
            r"<script type=\"application/json\" id=\"initial\">.*?</script>", "", page, flags=re.S
        )
        assert "<img" not in page, page[page.index("<img") - 200 :][:400]
        assert "alert(" not in outside
        assert page.count("<script") == 3  # the two data elements and the page's own script, no more
        assert "</script><script>" not in page
        assert "http://" not in page and "https://" not in page  # nothing loaded from anywhere
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        data = re.search(r'<script type="application/json" id="initial">(.*?)</script>', page, re.S)
        assert data is not None
        status = json.loads(data.group(1))
        assert HOSTILE in [b["name"] for b in status["bidders"]]
    assert "@media print" in page


def test_the_record_when_the_window_is_closed(served: Served) -> None:
    from bidcrypt.opening.closing import close_window

    start_window(served.session, 60, clock=FixedClock(served.clock()))
    served.clock.advance(61)
    close_window(served.session, clock=FixedClock(served.clock()))
    status = served.client.get(served.url("status")).json()
    assert status["window"]["state"] == "closed"
    rows = status["record"]["rows"]
    assert {row["status"] for row in rows} == {"not-decrypted"}
    assert all(row["cause"] and row["cause_zh"] for row in rows)
    decisions = status["record"]["decisions"], status["record"]["decisions_zh"]
    assert len(decisions[0]) == len(decisions[1]) == 1 and decisions[0] != decisions[1]
    assert "第四十四条" in decisions[1][0]  # the session's rule, regulation-44, and its decision
    record = served.client.get(served.url("record")).json()
    assert len(record["rows"]) == 3
    text = served.client.get(served.url("record?format=text&lang=en")).text
    assert "not decrypted" in text


def test_the_time_of_the_status_is_the_servers(served: Served) -> None:
    served.clock.moment = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    status = served.client.get(served.url("status")).json()
    assert status["now"] == "2031-01-02 03:04:05Z"
    assert status["now_epoch"] == served.clock.moment.timestamp()


def test_garbage_is_refused_and_recorded(served: Served) -> None:
    start_window(served.session, 1800, clock=FixedClock(served.clock()))
    for route, code in (("release", "release-malformed"), ("signin", None), ("share", None)):
        answer = served.client.post(served.url(route), content=b"\x00garbage\xff" * 10)
        assert answer.status_code == 400, (route, answer.text)
        assert set(answer.json()) == {"code", "message", "message_zh"}
        if code:
            assert answer.json()["code"] == code
    rows = served.session.ledger.query("SELECT kind, verdict, code FROM releases ORDER BY id")
    assert (rows[0]["kind"], rows[0]["verdict"], rows[0]["code"]) == (
        "release",
        "refused",
        "release-malformed",
    )
    challenge = served.client.post(served.url("challenge"))
    assert challenge.status_code == 200 and len(challenge.json()["challenge"]) == 32


def test_a_release_too_large_is_recorded_from_its_start(served: Served) -> None:
    answer = served.client.post(served.url("release"), content=b"\x30" * (64 * 1024 + 1))
    assert answer.status_code == 413 and answer.json()["code"] == "release-too-large"
    declared = served.client.post(
        served.url("release"), content=b"\x30" * 100, headers={"Content-Length": str(1 << 30)}
    )
    assert declared.status_code in (413, 400)  # the test client may refuse the lie itself
    rows = served.session.ledger.query("SELECT code, size FROM releases ORDER BY id")
    assert rows[0]["code"] == "release-too-large" and rows[0]["size"] == 64 * 1024 + 1


def test_a_backup_over_the_sessions_limit_is_refused_unread(served: Served) -> None:
    receipt = served.receipts["bidder-a"]
    with served.session.ledger.transaction() as db:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('max_package_size', '1000')")
    answer = served.client.post(served.url(f"backup/{receipt.sha256}"), content=b"x" * 5000)
    assert answer.status_code == 413 and answer.json()["code"] == "request-too-large"
    unknown = served.client.post(served.url("backup/" + "1" * 64), content=b"x")
    assert unknown.status_code == 404


def test_the_status_is_made_again_only_after_a_change(served: Served) -> None:
    from bidcrypt.remote.status import StatusCache

    cache = StatusCache()
    first = cache.status(served.session, served.session_id, served.clock(), 0)
    served.clock.advance(30)
    second = cache.status(served.session, served.session_id, served.clock(), 0)
    assert second["bidders"] is first["bidders"] and second["now"] != first["now"]  # kept, the clock moved
    third = cache.status(served.session, served.session_id, served.clock(), 1)  # the service changed it
    assert third["bidders"] is not second["bidders"]
    other = OpeningSession.load(served.folder)  # another process's change: SQLite's data_version
    try:
        start_window(other, 60, clock=FixedClock(served.clock()))
    finally:
        other.close_ledger()
    fourth = cache.status(served.session, served.session_id, served.clock(), 1)
    assert fourth["window"]["state"] == "running" and fourth["bidders"] is not third["bidders"]
