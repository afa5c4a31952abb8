"""Where the time of a submission comes from: the system clock, or an RFC 3161 timestamp authority.

A receipt records which source gave its time. With a TSA the receipt also
keeps the timestamp token, whose message imprint is the SHA-256 of the
submitted bytes, so the time can be proven to anyone later.
"""

from __future__ import annotations

import datetime as dt
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509

from bidcrypt.errors import TimestampError
from bidcrypt.i18n import Text, pick

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore

#: A timestamp response larger than this is refused.
MAX_RESPONSE_SIZE = 1 << 20


@dataclass(frozen=True)
class Stamp:
    """A moment, the source that vouches for it, and its evidence (a timestamp token) if any."""

    time: dt.datetime
    source: str
    evidence: bytes | None = field(default=None, repr=False)


class Clock(Protocol):
    """Gives the time at which something with a given SHA-256 happened."""

    def stamp(self, sha256: bytes) -> Stamp:
        """The time now, for the data whose digest is *sha256*."""
        ...


class SystemClock:
    """The machine's clock."""

    def stamp(self, sha256: bytes) -> Stamp:
        """Now, by the system clock."""
        return Stamp(dt.datetime.now(dt.UTC), "system-clock")


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one moment (for tests and for replaying a past session)."""

    moment: dt.datetime

    def stamp(self, sha256: bytes) -> Stamp:
        """Always the fixed moment."""
        return Stamp(self.moment, "fixed-clock")


@dataclass(frozen=True)
class TsaClock:
    """An RFC 3161 timestamp authority (TSA), asked over HTTPS, or over HTTP with a pinned certificate.

    The answer must be a token for this request (SHA-256 message imprint and
    nonce), signed by a TSA certificate as RFC 3161 and RFC 5816 require (see
    :mod:`bidcrypt.timestamp`). The signer is trusted by a chain to *trust*,
    or, with *certificate*, by being exactly that pinned TSA certificate (then
    the pin is the only anchor, and ``http://`` is allowed: the pin, not the
    channel, vouches for the token). Without a pin the URL must be
    ``https://`` and *trust* is required. *tls* is the TLS context for
    ``https://`` (default: the system's CA certificates).

    The request goes through pyHanko's TSA client
    (:class:`~pyhanko.sign.timestamps.HTTPTimeStamper`, the one seals use),
    on a connection that refuses redirects and answers larger than
    :data:`MAX_RESPONSE_SIZE`.
    """

    url: str
    timeout: float = 10.0
    trust: TrustStore | None = None
    certificate: x509.Certificate | None = None
    tls: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_tsa_settings(self.url, self.trust, self.certificate)

    def stamp(self, sha256: bytes) -> Stamp:
        """Ask the TSA to timestamp *sha256*; refuse an answer that does not pass every check."""
        from bidcrypt.aio import run_sync

        return run_sync(self.async_stamp(sha256))

    async def async_stamp(self, sha256: bytes) -> Stamp:
        """:meth:`stamp`, for a caller that runs an event loop."""
        from bidcrypt.timestamp import async_check_token, check_request_match, parse_response

        body, nonce = await self._ask(sha256)
        token, info = parse_response(body, self.url)
        check_request_match(info, sha256, nonce, self.url)
        checked = await async_check_token(
            token,
            sha256=sha256,
            at=dt.datetime.now(dt.UTC),
            trust=self.trust,
            pinned=self.certificate,
            url=self.url,
        )
        return Stamp(checked.time, f"rfc3161:{self.url}", checked.der)

    async def _ask(self, sha256: bytes) -> tuple[bytes, int]:
        """Send pyHanko's request for *sha256*: the body of the answer, exactly as received, and the nonce."""
        import aiohttp
        from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError

        received: list[bytes] = []
        redirects = aiohttp.TraceConfig()
        redirects.on_request_redirect.append(_refuse_redirect)
        tls = self.tls or ssl.create_default_context()  # made now: SSL_CERT_FILE is read when it is made
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls),
            response_class=_bounded_response(received),
            trace_configs=[redirects],
            trust_env=True,  # proxies from the environment, as other HTTP clients take them
        ) as session:
            stamper = HTTPTimeStamper(self.url, timeout=self.timeout, session=session)
            nonce, request = stamper.request_cms(sha256, "sha256")  # type: ignore[no-untyped-call]
            try:
                await stamper.async_request_tsa_response(request)
            except TimestampRequestError as exc:
                raise TimestampError(_failure(exc), url=self.url) from exc
            except (ValueError, TypeError) as exc:  # pyHanko's reading of the body; ours says why below
                if not received:
                    raise TimestampError(_failure(exc), url=self.url) from exc
        return received[-1], int(nonce)


class _AnswerRefusedError(OSError):
    """Why bidcrypt stopped reading an answer (an OSError, so pyHanko reports it as a failed request)."""


async def _refuse_redirect(session: Any, context: Any, params: Any) -> None:
    """A TSA answers where it was asked: a redirect (perhaps to plain HTTP) is an error."""
    status = getattr(getattr(params, "response", None), "status", "?")
    raise _AnswerRefusedError(
        pick(f"redirected (HTTP {status}): refused", f"被重定向（HTTP {status}），已拒绝")
    )


def _bounded_response(received: list[bytes]) -> Any:
    """aiohttp's response class: reads at most :data:`MAX_RESPONSE_SIZE`, keeps the body in *received*."""
    import aiohttp

    class BoundedResponse(aiohttp.ClientResponse):
        async def read(self) -> bytes:
            too_large = _AnswerRefusedError(pick("answer too large", "应答过大"))
            if self.content_length is not None and self.content_length > MAX_RESPONSE_SIZE:
                raise too_large
            body = bytearray()
            while len(body) <= MAX_RESPONSE_SIZE:
                chunk = await self.content.read(MAX_RESPONSE_SIZE + 1 - len(body))
                if not chunk:
                    break
                body += chunk
            if len(body) > MAX_RESPONSE_SIZE:
                raise too_large
            self.release()
            received.append(bytes(body))
            return bytes(body)

    return BoundedResponse


def _failure(exc: BaseException) -> str:
    """What went wrong in a request, in a line: the error that pyHanko's wraps, if any."""
    cause = exc.__cause__ if isinstance(exc.__cause__, BaseException) else exc
    return (str(cause) or type(cause).__name__)[:200]


def check_tsa_settings(url: str, trust: TrustStore | None, certificate: x509.Certificate | None) -> None:
    """Refuse a TSA that could not be trusted: ``https://`` with a trust store, or any http(s) with a pin."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise TimestampError(Text("not a URL", "不是有效的地址"), url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise TimestampError(Text("only http(s) URLs are used", "只支持 http(s) 地址"), url=url)
    if scheme == "http" and certificate is None:
        raise TimestampError(
            Text(
                "plain http:// needs a pinned TSA certificate (--tsa-cert); or use https://",
                "http:// 地址须固定时间戳证书（--tsa-cert），或改用 https://",
            ),
            url=url,
        )
    if trust is None and certificate is None:
        raise TimestampError(
            Text(
                "a TSA needs a trust store or a pinned TSA certificate",
                "时间戳服务须有信任库或固定的时间戳证书",
            ),
            url=url,
        )
