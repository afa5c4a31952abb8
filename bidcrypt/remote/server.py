"""Running the service: uvicorn over the Starlette app, with TLS when given a certificate and key.

uvicorn catches SIGTERM and SIGINT and shuts down gracefully: it stops
accepting, lets the requests in flight finish (the event streams get
:data:`GRACE_SECONDS`), and returns. Nothing is lost by a harder stop
either: every change is a ledger transaction, and the service keeps no
state of its own. Forwarded-address headers are ignored, so the rate limit
counts the address that really connected.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from bidcrypt.errors import InputError
from bidcrypt.i18n import Text
from bidcrypt.remote.app import create_app
from bidcrypt.remote.options import ServiceOptions

__all__ = ["Binding", "parse_bind", "serve"]

#: Seconds the open requests (event streams) get to finish once a shutdown begins.
GRACE_SECONDS = 3


@dataclass(frozen=True)
class Binding:
    """Where the service listens."""

    host: str
    port: int


def parse_bind(text: str) -> Binding:
    """``HOST:PORT`` (``[::1]:8443`` for IPv6) as a :class:`Binding`."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            Text("expected HOST:PORT, such as 127.0.0.1:8443", "应为 主机:端口，例如 127.0.0.1:8443"),
            path=text,
        )
    return Binding(host, int(port))


def _check_tls(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise InputError(
            Text("TLS needs both --tls-cert and --tls-key", "TLS 需要同时给出 --tls-cert 和 --tls-key"),
            path="-",
        )
    if cert is None or key is None:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(
            Text(
                "cannot use the TLS certificate and key ({why})",
                "无法使用 TLS 证书和私钥（{why}）",
                why=str(exc),
            ),
            path=cert,
        ) from exc


def serve(
    folders: Sequence[str | os.PathLike[str]],
    binding: Binding,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    options: ServiceOptions | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the session folders until SIGTERM or SIGINT; the sessions are checked before listening."""
    _check_tls(tls_cert, tls_key)
    app = create_app(folders, options)
    scheme = "https" if tls_cert else "http"
    host = f"[{binding.host}]" if ":" in binding.host else binding.host
    for session_id in app.state.hosted:
        announce(f"{scheme}://{host}:{binding.port}/s/{session_id}/hall")
    config = uvicorn.Config(
        app,
        host=binding.host,
        port=binding.port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    app.state.stopping = lambda: server.should_exit  # event streams end when a shutdown begins
    try:
        server.run()
    finally:
        for hosted in app.state.hosted.values():
            hosted.close()
