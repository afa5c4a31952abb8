"""Where the time of a submission comes from: the system clock, or an RFC 3161 timestamp authority.

A receipt records which source gave its time. With a TSA the receipt also
keeps the timestamp token, whose message imprint is the SHA-256 of the
submitted bytes, so the time can be proven to anyone later.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from asn1crypto import algos, tsp
from cryptography import x509

from bidcrypt.errors import TimestampError
from bidcrypt.i18n import Text

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
        from bidcrypt.timestamp import async_check_token, check_request_match, parse_response

        nonce = int.from_bytes(os.urandom(8), "big") | 1 << 63
        request = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": sha256,
                },
                "nonce": nonce,
                "cert_req": True,
            }
        )
        token, info = parse_response(self._post(request.dump()), self.url)
        check_request_match(info, sha256, nonce, self.url)
        checked = run_sync(
            async_check_token(
                token,
                sha256=sha256,
                at=dt.datetime.now(dt.UTC),
                trust=self.trust,
                pinned=self.certificate,
                url=self.url,
            )
        )
        return Stamp(checked.time, f"rfc3161:{self.url}", checked.der)

    def _post(self, query: bytes) -> bytes:
        """POST the query; the body of the answer (redirects are refused, the size is bounded)."""
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if self.url.lower().startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=self.tls or ssl.create_default_context()))
        opener = urllib.request.build_opener(*handlers)
        http_request = urllib.request.Request(  # noqa: S310 - scheme checked in __post_init__
            self.url, data=query, headers={"Content-Type": "application/timestamp-query"}
        )
        try:
            with opener.open(http_request, timeout=self.timeout) as response:
                body = bytes(response.read(MAX_RESPONSE_SIZE + 1))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            raise TimestampError(str(exc)[:200], url=self.url) from exc
        if len(body) > MAX_RESPONSE_SIZE:
            raise TimestampError(Text("answer too large", "应答过大"), url=self.url)
        return body


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A TSA answers where it was asked: a redirect (perhaps to plain HTTP) is an error."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


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
