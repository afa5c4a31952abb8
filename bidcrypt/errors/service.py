"""Errors of the remote-opening service (``bidcrypt serve``) and its bidder's client (``bidcrypt remote``)."""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError

__all__ = [
    "RateLimitedError",
    "RemoteRefusedError",
    "RemoteUnreachableError",
    "RequestTooLargeError",
    "ServiceError",
    "ServiceNotFoundError",
]


class ServiceError(BidcryptError):
    """The remote-opening service refused a request."""

    code = "service"
    en = "the opening service refused the request"
    zh = "开标服务拒绝了该请求"


class RequestTooLargeError(ServiceError):
    """A request body is larger than the service accepts for that route."""

    code = "request-too-large"
    en = "the request body is larger than {limit} bytes"
    zh = "请求内容超过 {limit} 字节"


class RateLimitedError(ServiceError):
    """A client address sent more requests than the service allows."""

    code = "rate-limited"
    en = "too many requests from {address}; try again in {retry_after} s"
    zh = "来自 {address} 的请求过多，请 {retry_after} 秒后再试"


class ServiceNotFoundError(ServiceError):
    """No such session, submission or page on the service."""

    code = "not-found"
    en = "not found: {what}"
    zh = "未找到：{what}"


class RemoteUnreachableError(ServiceError):
    """The bidder's client could not reach the service (network, TLS, a broken answer)."""

    code = "remote-unreachable"
    en = "cannot reach the opening service at {url}"
    zh = "无法连接开标服务 {url}"
    hint_en = "check the address, the network, and the service's certificate (--ca)"
    hint_zh = "请检查地址、网络以及服务证书（--ca）"


class RemoteRefusedError(ServiceError):
    """The service answered the bidder's client with a refusal (its code and message are kept)."""

    code = "remote-refused"
    en = "the opening service refused: [{remote_code}] {remote_message}"
    zh = "开标服务拒绝：[{remote_code}] {remote_message}"
