"""The service's gates: a body read with a hard limit while it streams, and a token bucket per address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bidcrypt.errors import BidcryptError, RateLimitedError
from bidcrypt.remote import RateLimiter
from bidcrypt.remote.limits import read_body
from bidcrypt.remote.refusals import refusal, status_for

LIMIT = 1000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, monotonic=clock)
    for _ in range(3):
        limiter.take("10.0.0.1")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("10.0.0.1")
    assert refused.value.params["retry_after"] == 1
    limiter.take("10.0.0.2")  # another address has its own bucket
    clock.now += 0.5  # one token back at 2 a second
    limiter.take("10.0.0.1")
    with pytest.raises(RateLimitedError):
        limiter.take("10.0.0.1")
    clock.now += 100  # a long pause refills the bucket to its burst, no further
    for _ in range(3):
        limiter.take("10.0.0.1")
    with pytest.raises(RateLimitedError):
        limiter.take("10.0.0.1")


def test_the_limiter_forgets_the_oldest_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bidcrypt.remote.limits.MAX_ADDRESSES", 10)
    limiter = RateLimiter(rate=1.0, burst=1, monotonic=Clock())
    for n in range(50):
        limiter.take(f"10.0.0.{n}")
    assert len(limiter._buckets) == 10


@given(st.lists(st.floats(min_value=0, max_value=5), max_size=50))
def test_never_more_than_the_burst_plus_the_rate_over_time(steps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=2, monotonic=clock)
    taken = 0
    for step in steps:
        clock.now += step
        try:
            limiter.take("a")
            taken += 1
        except RateLimitedError:
            pass
    assert taken <= 2 + sum(steps) + 1e-9


async def _echo(request: Request) -> Response:
    try:
        body = await read_body(request, LIMIT)
    except BidcryptError as error:
        return refusal(error)
    return JSONResponse({"size": len(body)})


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=[Route("/", _echo, methods=["POST"])])) as client:
        yield client


def test_a_body_within_the_limit_is_read(client: TestClient) -> None:
    assert client.post("/", content=b"x" * LIMIT).json() == {"size": LIMIT}


def test_a_declared_length_over_the_limit_is_refused(client: TestClient) -> None:
    answer = client.post("/", content=b"x" * 10, headers={"Content-Length": str(1 << 30)})
    assert answer.status_code == 413
    assert answer.json()["code"] == "request-too-large"


def test_a_streamed_body_is_refused_once_it_passes_the_limit(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(1000):
            yield b"x" * 300

    answer = client.post("/", content=body())  # chunked: no length declared
    assert answer.status_code == 413
    assert set(answer.json()) == {"code", "message", "message_zh"}


def test_statuses_follow_the_contract() -> None:
    assert status_for("release-not-this-bidder") == 403
    assert status_for("release-replayed") == 409
    assert status_for("window-closed") == 409
    assert status_for("window-paused") == 409
    assert status_for("window-not-open") == 409
    assert status_for("release-too-large") == 413
    assert status_for("rate-limited") == 429
    assert status_for("release-malformed") == 400
    assert status_for("anything-else") == 400
    answer = refusal(RateLimitedError(address="1.2.3.4", retry_after=3))
    assert answer.status_code == 429 and answer.headers["retry-after"] == "3"
