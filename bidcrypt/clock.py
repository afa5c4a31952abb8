"""Where the time of a submission comes from: the system clock, or an RFC 3161 timestamp authority.

A receipt records which source gave its time. With a TSA the receipt also
keeps the timestamp token, whose message imprint is the SHA-256 of the
submitted bytes, so the time can be proven to anyone later.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from asn1crypto import algos, cms, tsp

from bidcrypt.errors import BidcryptError, TimestampError
from bidcrypt.i18n import pick

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
    """An RFC 3161 timestamp authority reached over HTTP.

    The answer must be a token for this request (message imprint and nonce),
    signed by the authority; with *trust*, the authority's certificate must
    chain to it.
    """

    url: str
    timeout: float = 10.0
    trust: TrustStore | None = None

    def stamp(self, sha256: bytes) -> Stamp:
        """Ask the TSA to timestamp *sha256*; check the answer matches the question."""
        nonce = int.from_bytes(os.urandom(8), "big")
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
        if not self.url.startswith(("http://", "https://")):
            raise TimestampError(pick("only http(s) URLs are used", "只支持 http(s) 地址"), url=self.url)
        http_request = urllib.request.Request(  # noqa: S310 - scheme checked above
            self.url, data=request.dump(), headers={"Content-Type": "application/timestamp-query"}
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(MAX_RESPONSE_SIZE + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise TimestampError(str(exc), url=self.url) from exc
        if len(body) > MAX_RESPONSE_SIZE:
            raise TimestampError(pick("answer too large", "应答过大"), url=self.url)
        token, info = parse_response(body, self.url)
        if info["message_imprint"]["hashed_message"].native != sha256 or info["nonce"].native != nonce:
            raise TimestampError(pick("the answer is for another request", "应答与请求不符"), url=self.url)
        moment = info["gen_time"].native
        self._check_signature(token, moment)
        return Stamp(moment, f"rfc3161:{self.url}", token)

    def _check_signature(self, token: bytes, moment: dt.datetime) -> None:
        from bidcrypt.package.signed import verify

        try:
            signed = verify(token, content_type="tst_info")
            if self.trust is not None:
                self.trust.validate(signed.signer, moment, signed.certificates)
        except BidcryptError as exc:
            raise TimestampError(
                pick(
                    f"the token does not verify ({exc.message()})", f"时间戳令牌验证失败（{exc.message()}）"
                ),
                url=self.url,
            ) from exc


def parse_response(body: bytes, url: str = "-") -> tuple[bytes, tsp.TSTInfo]:
    """The token (DER ContentInfo) and its TSTInfo from a TimeStampResp."""
    try:
        response = tsp.TimeStampResp.load(body, strict=True)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise TimestampError(pick(f"request refused: {status}", f"请求被拒绝：{status}"), url=url)
        token = response["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        if not isinstance(token, cms.ContentInfo) or not isinstance(info, tsp.TSTInfo):
            raise TimestampError(pick("not a timestamp token", "不是时间戳令牌"), url=url)
        return bytes(token.dump()), info
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(pick("malformed answer", "应答格式错误"), url=url) from exc
