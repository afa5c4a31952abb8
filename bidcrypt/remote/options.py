"""The service's options, and what a route needs to find them and its session."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bidcrypt.errors import ServiceNotFoundError
from bidcrypt.remote.hosted import HostedSession

__all__ = [
    "RELEASE_LIMIT",
    "SIGNIN_LIMIT",
    "Endpoint",
    "ServiceOptions",
    "hosted_of",
    "options_of",
    "system_now",
]

#: The largest release or share the service takes (``docs/remote.md``).
RELEASE_LIMIT = 64 * 1024
#: The largest sign-in statement or challenge request.
SIGNIN_LIMIT = 64 * 1024


def system_now() -> dt.datetime:
    """The server's time (UTC)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ServiceOptions:
    """How the service behaves: its clocks, rate limit, body limits and how often it looks for changes."""

    clock: Callable[[], dt.datetime] = system_now
    monotonic: Callable[[], float] = time.monotonic
    rate: float = 20.0  # requests a second per client address, once its burst is spent
    burst: int = 120
    release_limit: int = RELEASE_LIMIT
    signin_limit: int = SIGNIN_LIMIT
    poll_seconds: float = 1.0  # how often the event stream looks at the ledger
    keepalive_seconds: float = 15.0


Endpoint = Callable[[Request], Awaitable[Response]]


def hosted_of(request: Request) -> HostedSession:
    """The hosted session the request's path names, or :class:`ServiceNotFoundError`."""
    hosted: dict[str, HostedSession] = request.app.state.hosted
    session_id = str(request.path_params.get("session_id", ""))
    found = hosted.get(session_id)
    if found is None:
        raise ServiceNotFoundError(what=f"session {session_id[:64]}")
    return found


def options_of(request: Request) -> ServiceOptions:
    """The service's options."""
    options: ServiceOptions = request.app.state.options
    return options
