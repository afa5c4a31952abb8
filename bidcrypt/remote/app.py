"""The service's Starlette application: the routes of ``docs/remote.md`` over hosted session folders.

Every request passes the rate limit of its client address first. A route
reads its body with a hard limit, runs the library in a thread, and answers
JSON; a refusal is JSON ``{code, message, message_zh}`` with the contract's
HTTP status (:mod:`bidcrypt.remote.refusals`); an unexpected failure is a
500 that says nothing of its cause (it goes to the service's log).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bidcrypt.errors import BidcryptError, ServiceNotFoundError
from bidcrypt.remote.hosted import host_sessions
from bidcrypt.remote.limits import RateLimiter
from bidcrypt.remote.options import Endpoint, ServiceOptions
from bidcrypt.remote.refusals import INTERNAL, refusal
from bidcrypt.remote.routes import routes

__all__ = ["ServiceOptions", "create_app"]

LOG = logging.getLogger("bidcrypt.remote")


def answers_refusals(endpoint: Endpoint) -> Endpoint:
    """Turn a bidcrypt error into its JSON refusal, and anything else into an opaque 500."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BidcryptError as error:
            return refusal(error)
        except Exception:
            LOG.exception("internal error on %s %s", request.method, request.url.path)
            return JSONResponse(INTERNAL, status_code=500)

    return wrapper


class RateLimit:
    """ASGI middleware: each HTTP request spends a token of its client address's bucket, or gets 429."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            address = str(client[0]) if client else "-"
            try:
                self.limiter.take(address)
            except BidcryptError as error:
                await refusal(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(folders: Sequence[str | os.PathLike[str]], options: ServiceOptions | None = None) -> Starlette:
    """The service over these session folders (each must be a session with its profile)."""
    options = options or ServiceOptions()
    hosted = host_sessions(folders)
    app = Starlette(
        routes=[
            Route(path, answers_refusals(endpoint), methods=[method]) for method, path, endpoint in routes()
        ]
    )
    app.state.hosted = hosted
    app.state.options = options
    app.state.stopping = lambda: False  # the server running the app says when it shuts down
    app.add_middleware(RateLimit, limiter=RateLimiter(options.rate, options.burst, options.monotonic))

    async def not_found(request: Request, exc: Exception) -> Response:
        return refusal(ServiceNotFoundError(what=request.url.path[:200]))

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_found)
    return app
