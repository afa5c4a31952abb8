"""Refusals as the service answers them: JSON ``{code, message, message_zh}`` with the contract's HTTP status.

See ``docs/remote.md``: 400 for bad input, 403 when the signer may not act
on that bid, 404 for what the service does not have, 409 for the window and
replays, 413 for a body too large, 429 for the rate limit. The status is
chosen by the error's stable code, so an error class added later with a
known code is answered right.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from bidcrypt.errors import BidcryptError

__all__ = ["INTERNAL", "refusal", "status_for"]

#: The codes answered with something other than 400.
_STATUS: dict[str, int] = {
    "release-not-this-bidder": 403,
    "release-not-company": 403,
    "share-not-member": 403,
    "not-found": 404,
    "unknown-bidder": 404,
    "window-not-open": 409,
    "window-closed": 409,
    "window-paused": 409,
    "release-replayed": 409,
    "signin-replayed": 409,
    "challenge-unknown": 409,
    "challenge-expired": 409,
    "session-busy": 409,
    "release-too-large": 413,
    "request-too-large": 413,
    "package-too-large": 413,
    "rate-limited": 429,
}

#: What an unexpected failure is answered with: no detail of it leaves the service.
INTERNAL = {
    "code": "internal-error",
    "message": "the opening service failed; the request was not completed",
    "message_zh": "开标服务内部错误，请求未完成",
}


def status_for(code: str) -> int:
    """The HTTP status of a refusal with this error code."""
    return _STATUS.get(code, 400)


def refusal(error: BidcryptError) -> JSONResponse:
    """The JSON answer to a refused request, in both languages."""
    headers = {}
    if error.code == "rate-limited":
        headers["Retry-After"] = str(error.params.get("retry_after", 1))
    return JSONResponse(
        {"code": error.code, "message": error.message("en"), "message_zh": error.message("zh")},
        status_code=status_for(error.code),
        headers=headers,
    )
