"""The service live: a committee's shares posted over HTTP (k of n on the status and the hall), and the
event stream of a served session (uvicorn in a thread) sending the status when it changes."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient

from bidcrypt.clock import FixedClock
from bidcrypt.opening.window import pause_window, start_window
from bidcrypt.package import make_share_release
from bidcrypt.remote import ServiceOptions, create_app

from ..conftest import Pki
from ..opening.committee_support import Committee, committee_session, member_ukey
from .conftest import MovingClock, Served
from .service_process import free_port

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def share(pki: Pki, committee: Committee, clock: FixedClock) -> bytes:
    """Member 1's share release, made at *clock*'s time."""
    with member_ukey(pki, "bidder-a") as keys:
        return make_share_release(committee.share_file(1), keys, committee.profile, clock)


def test_shares_over_http_and_k_of_n(pki: Pki, tmp_path: Path) -> None:
    committee = committee_session(pki, tmp_path / "session")
    clock = MovingClock(committee.opening_time + dt.timedelta(seconds=30))
    app = create_app([committee.session.directory], ServiceOptions(clock=clock))
    base = f"/s/{committee.session_id}/"
    try:
        with TestClient(app) as client:
            assert client.get(base + "status").json()["shares"] == {"quorum": 2, "released": 0, "members": 3}
            with member_ukey(pki, "bidder-a") as keys:
                body = make_share_release(
                    committee.share_file(1), keys, committee.profile, FixedClock(clock())
                )
            early = client.post(base + "share", content=body)  # before the window starts
            assert early.status_code == 409 and early.json()["code"] == "window-not-open"
            start_window(committee.session, 1800, clock=FixedClock(clock()))
            clock.advance(10)
            with member_ukey(pki, "bidder-a") as keys:
                body = make_share_release(
                    committee.share_file(1), keys, committee.profile, FixedClock(clock())
                )
            answer = client.post(base + "share", content=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["shares"] == {"quorum": 2, "released": 1, "members": 3}
            again = client.post(base + "share", content=body)
            assert again.status_code == 409 and again.json()["code"] == "release-replayed"
            garbage = client.post(base + "share", content=b"\x30\x03\x02\x01\x00")
            assert garbage.status_code == 400
            assert client.get(base + "status").json()["shares"] == {"quorum": 2, "released": 1, "members": 3}
            page = client.get(base + "hall").text
            assert '"shares":{"quorum":2,"released":1,"members":3}' in page
            assert "已释放 {k}/{n} 份（需 {q} 份）" in page and "{k} of {n} shares released" in page
    finally:
        for hosted in app.state.hosted.values():
            hosted.close()
        committee.session.close_ledger()


@pytest.fixture
def running(served: Served) -> Iterator[str]:
    """The served session's service on a real socket (uvicorn in a thread), its base URL."""
    options = ServiceOptions(clock=served.clock, poll_seconds=0.05, keepalive_seconds=0.2)
    app = create_app([served.folder], options)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        threading.Event().wait(0.05)  # the server starting in its thread, not a deadline
    yield f"http://127.0.0.1:{port}/s/{served.session_id}/"
    server.should_exit = True
    thread.join(timeout=10)
    for hosted in app.state.hosted.values():
        hosted.close()


def _events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    event, data = None, None
    for line in lines:
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data = line.partition(":")[2].strip()
        elif line == "" and event == "status" and data is not None:
            yield json.loads(data)
            event, data = None, None


def test_the_event_stream_sends_each_change(served: Served, running: str) -> None:
    with httpx.Client(timeout=10) as client, client.stream("GET", running + "events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.iter_lines())
        first = next(events)
        assert first["window"]["state"] == "not-started"  # type: ignore[index]
        start_window(served.session, 1800, clock=FixedClock(served.clock()))  # a change from elsewhere
        second = next(events)
        assert second["window"]["state"] == "running"  # type: ignore[index]
        served.clock.advance(60)  # the clock alone moving is no change: the next event is the pause
        pause_window(served.session, "停电", clock=FixedClock(served.clock()))
        third = next(events)
        assert third["window"]["state"] == "paused"  # type: ignore[index]
        assert third["window"]["pauses"][0]["reason"] == "停电"  # type: ignore[index]
        assert third["window"]["remaining"] == 1740  # type: ignore[index]
