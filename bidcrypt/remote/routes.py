"""The routes of one hosted session, ``/s/<session id>/...`` (``docs/remote.md``, "The service").

Each route is thin: read the body with its limit, run the library in a
thread (changes under the session's lock), answer JSON. Who may act is
decided by the signature on what is posted (a sign-in, a release, a share),
never by anything the service remembers about a client.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bidcrypt.clock import FixedClock
from bidcrypt.errors import ServiceNotFoundError
from bidcrypt.i18n import Language
from bidcrypt.opening import OpeningSession, build_record, render
from bidcrypt.remote import actions
from bidcrypt.remote.events import event_stream
from bidcrypt.remote.hall import hall_page
from bidcrypt.remote.limits import read_body, save_body
from bidcrypt.remote.options import Endpoint, hosted_of, options_of

__all__ = ["routes"]


def _hex_digest(request: Request) -> str:
    digest = str(request.path_params.get("sha256", "")).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ServiceNotFoundError(what="submission " + digest[:64])
    return digest


async def profile(request: Request) -> Response:
    hosted = hosted_of(request)
    data = await hosted.read(actions.profile_bytes)
    return Response(data, media_type="application/pkcs7-mime")


async def challenge(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    await read_body(request, options.signin_limit)
    clock = FixedClock(options.clock())
    return JSONResponse(await hosted.change(lambda s: actions.challenge(s, clock)))


async def signin(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    body = await read_body(request, options.signin_limit)
    clock = FixedClock(options.clock())
    return JSONResponse(await hosted.change(lambda s: actions.signin(s, body, clock)))


async def release(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    body, size = await actions.read_capped(request, options.release_limit)
    clock = FixedClock(options.clock())
    keys, processes = hosted.release_keys, hosted.opening_processes
    return JSONResponse(
        await hosted.parallel_change(lambda s: actions.release(s, body, size, clock, keys(), processes()))
    )


async def share(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    body, _ = await actions.read_capped(request, options.release_limit)  # judged by its first bytes
    clock = FixedClock(options.clock())
    keys = hosted.release_keys
    return JSONResponse(await hosted.change(lambda s: actions.share(s, body, clock, keys())))


async def front(request: Request) -> Response:
    hosted = hosted_of(request)
    digest = _hex_digest(request)
    data = await hosted.read(lambda s: actions.front(s, digest))
    return Response(data, media_type="application/octet-stream")


async def backup(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    digest = _hex_digest(request)
    await hosted.read(lambda s: actions.front(s, digest, check_only=True))  # no such bid: refused unread
    with tempfile.TemporaryDirectory(prefix="bidcrypt-backup-") as folder:
        path = Path(folder) / "backup.bid"
        with path.open("wb") as target:
            await save_body(request, hosted.session.max_package_size, target)
        clock = FixedClock(options.clock())
        result = await hosted.change(lambda s: actions.backup(s, digest, path, clock))
    return JSONResponse(result)


async def status(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    return JSONResponse(await hosted.status(options.clock()))


def _record_text(session: OpeningSession, form: str, language: Language) -> str:
    return render(build_record(session, language), form, language)


async def record(request: Request) -> Response:
    hosted = hosted_of(request)
    form = request.query_params.get("format", "json")
    language: Language = "en" if request.query_params.get("lang") == "en" else "zh"
    if form == "text":
        text = await hosted.read(lambda s: _record_text(s, "table", language))
        return PlainTextResponse(text)
    data = await hosted.read(lambda s: build_record(s, language).to_dict())
    return JSONResponse(data)


async def hall(request: Request) -> Response:
    hosted, options = hosted_of(request), options_of(request)
    language = "en" if request.query_params.get("lang") == "en" else "zh"
    return hall_page(await hosted.status(options.clock()), language)


async def events(request: Request) -> Response:
    return event_stream(request, hosted_of(request), options_of(request))


async def index(request: Request) -> Response:
    hosted = request.app.state.hosted
    return JSONResponse(
        {"sessions": [{"session": key, "tender": h.session.settings.tender} for key, h in hosted.items()]}
    )


def routes() -> Iterator[tuple[str, str, Endpoint]]:
    """(method, path, endpoint) of every route."""
    base = "/s/{session_id}/"
    yield "GET", "/", index
    yield "GET", base + "profile", profile
    yield "POST", base + "challenge", challenge
    yield "POST", base + "signin", signin
    yield "GET", base + "front/{sha256}", front
    yield "POST", base + "release", release
    yield "POST", base + "backup/{sha256}", backup
    yield "POST", base + "share", share
    yield "GET", base + "status", status
    yield "GET", base + "record", record
    yield "GET", base + "hall", hall
    yield "GET", base + "events", events
