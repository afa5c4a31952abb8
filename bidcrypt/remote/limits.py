"""What the service lets in: request bodies read with a hard size limit, and a rate limit per client address.

A body is read as it streams in and refused (413) as soon as it passes its
limit, or before a byte of it is read when its declared ``Content-Length``
already does: a 1 GB upload costs the service at most the limit. The rate
limit is a token bucket per client address, on an injected monotonic clock.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from starlette.requests import Request

from bidcrypt.errors import InputError, RateLimitedError, RequestTooLargeError
from bidcrypt.i18n import Text

__all__ = ["RateLimiter", "declared_length", "read_body", "save_body"]

#: How many client addresses the rate limiter remembers (the least recently seen are forgotten).
MAX_ADDRESSES = 10_000


def declared_length(request: Request) -> int | None:
    """The ``Content-Length`` the client declared, if any."""
    header = request.headers.get("content-length")
    if header is None:
        return None
    if not header.strip().isdigit():
        raise InputError(Text("a bad Content-Length header", "Content-Length 请求头无效"), path="-")
    return int(header)


def _declared_length(request: Request, limit: int) -> int | None:
    """The declared length; refused at once when it already passes *limit*."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise RequestTooLargeError(limit=limit)
    return declared


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, at most *limit* bytes: :class:`RequestTooLargeError` as soon as it passes."""
    _declared_length(request, limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(limit=limit)
        parts.append(chunk)
    return b"".join(parts)


async def save_body(request: Request, limit: int, target: BinaryIO) -> int:
    """Stream the request's body into *target* (a file), at most *limit* bytes; return its size."""
    _declared_length(request, limit)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(limit=limit)
        target.write(chunk)
    target.flush()
    os.fsync(target.fileno())
    return size


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per client address: *burst* requests at once, then *rate* a second.

    *monotonic* is the clock (seconds); tests give their own. Only the
    :data:`MAX_ADDRESSES` most recently seen addresses are remembered, so a
    flood of addresses cannot grow the service's memory.
    """

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, address: str) -> None:
        """Spend one token of *address*'s bucket, or raise :class:`RateLimitedError` with the wait."""
        now = self._monotonic()
        bucket = self._buckets.pop(address, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[address] = bucket
        while len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / self.rate)
            raise RateLimitedError(address=address, retry_after=max(wait, 1))
        bucket.tokens -= 1.0
