"""What the service's routes ask of the library, one function per route, each run in a thread.

The session side of the remote opening is the library's (``docs/remote.md``):
sign-in challenges and sign-ins, releases, backups and shares are accepted,
checked and recorded by :mod:`bidcrypt.opening`; this module only adapts
their answers to JSON and hands out what a bidder may fetch (the profile, a
submission's front).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request

from bidcrypt.clock import Clock
from bidcrypt.errors import ServiceNotFoundError
from bidcrypt.keys import KeySource
from bidcrypt.opening import (
    OpeningProcesses,
    OpeningSession,
    accept_backup,
    accept_release,
    accept_share,
    accept_signin,
    new_challenge,
)
from bidcrypt.package import front_of
from bidcrypt.remote.limits import declared_length

__all__ = [
    "backup",
    "challenge",
    "front",
    "profile_bytes",
    "read_capped",
    "release",
    "share",
    "signin",
]


def profile_bytes(session: OpeningSession) -> bytes:
    """The session's published profile, as signed."""
    return session.profile_bytes()


def challenge(session: OpeningSession, clock: Clock) -> dict[str, Any]:
    """A new sign-in challenge."""
    return {"challenge": new_challenge(session, clock)}


def signin(session: OpeningSession, body: bytes, clock: Clock) -> dict[str, Any]:
    """Accept (or refuse, and record) a signed sign-in."""
    return accept_signin(session, body, clock).to_dict()


def release(
    session: OpeningSession,
    body: bytes,
    size: int,
    clock: Clock,
    keys: KeySource,
    processes: OpeningProcesses,
) -> dict[str, Any]:
    """Accept (or refuse, and record) a release: an accepted one opens its bid before this returns.

    *body* is at most the release limit + 1 bytes of what was sent, *size*
    the whole body's size: one too large is recorded and refused unread. The
    bid is opened by the bulk opening's worker function in one of the
    service's *processes* (kept for its life: no process started per
    release). *keys* is the session's release key, read once by the service.
    """
    return accept_release(session, body, clock, size=size, release_keys=keys, processes=processes).to_dict()


def share(session: OpeningSession, body: bytes, clock: Clock, keys: KeySource) -> dict[str, Any]:
    """Accept (or refuse, and record) a committee member's share release (one too large, from its start)."""
    return accept_share(session, body, clock, release_keys=keys).to_dict()


def backup(session: OpeningSession, sha256: str, path: Path, clock: Clock) -> dict[str, Any]:
    """Accept (or refuse, and record) the backup copy of the submission with this receipt digest."""
    return accept_backup(session, sha256, path, clock).to_dict()


def _stored(session: OpeningSession, sha256: str) -> Path:
    row = session.ledger.one(
        "SELECT stored_as FROM submissions WHERE sha256 = ? AND state = 'current'", (sha256,)
    )
    if row is None:
        raise ServiceNotFoundError(what=f"submission {sha256}")
    return session.directory / str(row["stored_as"])


def front(session: OpeningSession, sha256: str, *, check_only: bool = False) -> bytes:
    """The front of the current submission with this receipt digest: its bytes before the encrypted content.

    All a bidder's UKey needs to recover the content key (``docs/remote.md``);
    with *check_only*, only whether there is such a submission.
    """
    path = _stored(session, sha256)
    return b"" if check_only else front_of(path)


async def read_capped(request: Request, limit: int) -> tuple[bytes, int]:
    """At most *limit* + 1 bytes of the body, and its size (declared, or as far as it was read).

    The rest of a body over the limit is never read: the library records it
    as too large from its first bytes and its size, and the service refuses it.
    """
    declared = declared_length(request)
    parts: list[bytes] = []
    size = 0
    if declared is None or declared <= limit:
        async for chunk in request.stream():
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    data = b"".join(parts)[: limit + 1]
    if declared is not None:
        return data, declared
    return data, size
