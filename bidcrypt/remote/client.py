"""The bidder's HTTP client of the service: the standard library (urllib + ssl), TLS verified.

The server's certificate is verified against the system's CA certificates,
or only against *ca* when given (a self-signed service certificate, a
platform's own CA). Redirects are refused (no downgrade to plain HTTP, no
detour), answers are read with a size limit, and a refusal comes back as
:class:`~bidcrypt.errors.RemoteRefusedError` with the service's code and
message.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bidcrypt.errors import InputError, RemoteRefusedError, RemoteUnreachableError
from bidcrypt.i18n import Text, pick

__all__ = ["MAX_ANSWER", "RemoteSession"]

#: The largest answer the client reads (a status of many bids, a front with many recipients).
MAX_ANSWER = 32 << 20


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _tls_context(ca: Path | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(
            Text("cannot use the CA certificate ({why})", "无法使用 CA 证书（{why}）", why=str(exc)),
            path=ca or "-",
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass
class RemoteSession:
    """One session on a service, by its URL ``https://HOST:PORT/s/<session id>/``."""

    url: str
    ca: Path | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InputError(Text("not an https:// URL", "不是 https:// 地址"), path=self.url)
        for suffix in ("hall", "status", "profile"):  # the URL of a page of the session will do
            if parts.path.endswith("/" + suffix):
                parts = parts._replace(path=parts.path[: -len(suffix)])
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        handlers: list[Any] = [_NoRedirect()]
        if parts.scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=_tls_context(self.ca)))
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def session_id(self) -> str:
        """The session id in the URL (``.../s/<id>/``)."""
        return self.url.rstrip("/").rpartition("/")[2]

    # -- the exchange ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | BinaryIO | None = None,
        size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> bytes:
        # the scheme was checked in __post_init__: https or http, never file:
        request = urllib.request.Request(self.url + path, data=body, method=method)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", content_type)
            if size is not None:
                request.add_header("Content-Length", str(size))
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                data: bytes = answer.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as refused:
            raise self._refusal(refused) from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            raise RemoteUnreachableError(str(getattr(exc, "reason", exc)), url=self.url) from None
        if len(data) > MAX_ANSWER:
            raise RemoteUnreachableError(Text("the answer is too large", "应答过大"), url=self.url)
        return data

    def _refusal(self, refused: urllib.error.HTTPError) -> RemoteRefusedError:
        try:
            data = json.loads(refused.read(1 << 16).decode("utf-8"))
            code, message, message_zh = str(data["code"]), str(data["message"]), str(data["message_zh"])
        except (ValueError, KeyError, TypeError, OSError):
            code, message, message_zh = f"http-{refused.code}", str(refused.reason), str(refused.reason)
        return RemoteRefusedError(
            remote_code=code, remote_message=Text(message, message_zh), http_status=refused.code
        )

    def _json(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        data = self._call(method, path, body)
        try:
            value = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise RemoteUnreachableError(
                Text("the answer is not JSON", "应答不是 JSON"), url=self.url
            ) from exc
        if not isinstance(value, dict):
            raise RemoteUnreachableError(
                Text("the answer is not a JSON object", "应答不是 JSON 对象"), url=self.url
            )
        return value

    # -- the routes --------------------------------------------------------------------------------

    def profile(self) -> bytes:
        """The session's signed profile, as published (check it with ``read_profile``)."""
        return self._call("GET", "profile")

    def challenge(self) -> dict[str, Any]:
        """A fresh sign-in challenge."""
        return self._json("POST", "challenge", b"")

    def signin(self, statement: bytes) -> dict[str, Any]:
        """Post a signed sign-in statement."""
        return self._json("POST", "signin", statement)

    def front(self, sha256: str) -> bytes:
        """The front of the submission with this receipt digest."""
        return self._call("GET", f"front/{urllib.parse.quote(sha256.lower())}")

    def release(self, body: bytes) -> dict[str, Any]:
        """Post a release (sealed to the session's release key)."""
        return self._json("POST", "release", body)

    def share(self, body: bytes) -> dict[str, Any]:
        """Post a committee member's share release."""
        return self._json("POST", "share", body)

    def backup(self, sha256: str, path: Path) -> dict[str, Any]:
        """Upload the backup copy of the submission with this receipt digest (streamed from the file)."""
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=path) from exc
        with stream:
            size = os.fstat(stream.fileno()).st_size
            data = self._call("POST", f"backup/{urllib.parse.quote(sha256.lower())}", stream, size)
        value = json.loads(data.decode("utf-8"))
        return value if isinstance(value, dict) else {"result": value}

    def status(self) -> dict[str, Any]:
        """The session's status (window, bidders, shares)."""
        return self._json("GET", "status")


def refusal_message(error: RemoteRefusedError) -> str:
    """The service's own message, in the user's language."""
    message = error.params.get("remote_message")
    return message.render() if isinstance(message, Text) else pick(str(message), str(message))
