"""``GET events``: the session's status as server-sent events, sent whenever it changes.

The stream looks at the ledger every ``poll_seconds`` (a change may come
from another process: ``opening pause`` run by the official) and sends the
whole status when anything but the clock moved; a comment line keeps idle
connections open. A stream ends when the server begins to shut down, so that
a graceful shutdown (SIGTERM) does not wait for the viewers to leave. The
hall page falls back to polling ``status`` when the browser has no
``EventSource`` or the stream breaks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse

from bidcrypt.remote.status import without_clock

if TYPE_CHECKING:
    from bidcrypt.remote.hosted import HostedSession
    from bidcrypt.remote.options import ServiceOptions

__all__ = ["event_stream", "sse_message"]


def sse_message(data: object, event: str = "status") -> bytes:
    """One server-sent event carrying *data* as JSON on a single ``data:`` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def event_stream(request: Request, hosted: HostedSession, options: ServiceOptions) -> StreamingResponse:
    """The streaming response of ``GET events``."""

    async def messages() -> AsyncIterator[bytes]:
        last: object = None
        idle = 0.0
        yield b"retry: 3000\n\n"
        stopping = request.app.state.stopping
        while not stopping() and not await request.is_disconnected():
            status = await hosted.status(options.clock())
            seen = without_clock(status)
            if seen != last:
                last, idle = seen, 0.0
                yield sse_message(status)
            elif idle >= options.keepalive_seconds:
                idle = 0.0
                yield b": keep-alive\n\n"
            await anyio.sleep(options.poll_seconds)
            idle += options.poll_seconds

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
