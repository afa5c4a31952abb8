"""The bidder's remote steps: sign in and release over the service, with the bidder's own UKey.

Each begins with the session's profile, fetched from the service and
checked (its signature by the release key inside, its session id against
the URL's, and, when the agency announced it, its SHA-256): a service that
hands out another session's profile gets nothing signed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from bidcrypt.errors import InputError, ProfileError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource
from bidcrypt.package import SessionProfile, make_release, make_share_release, make_signin, read_profile
from bidcrypt.remote.client import RemoteSession

__all__ = ["fetch_profile", "remote_release", "remote_share", "remote_signin"]


def fetch_profile(remote: RemoteSession, profile_sha256: str | None = None) -> SessionProfile:
    """The session's profile from the service, checked against the URL and the announced digest."""
    data = remote.profile()
    digest = hashlib.sha256(data).hexdigest()
    if profile_sha256 is not None and digest != profile_sha256.strip().lower():
        raise ProfileError(
            Text(
                "the service's profile has SHA-256 {digest}, not the announced {announced}",
                "服务提供的开标参数 SHA-256 为 {digest}，与公布的 {announced} 不符",
                digest=digest,
                announced=profile_sha256,
            ),
            path=remote.url + "profile",
        )
    profile = read_profile(data)
    if profile.session != remote.session_id:
        raise ProfileError(
            Text(
                "the service's profile is of session {session}, the URL names {named}",
                "服务提供的开标参数属于会话 {session}，地址中为 {named}",
                session=profile.session,
                named=remote.session_id,
            ),
            path=remote.url + "profile",
        )
    return profile


def remote_signin(
    remote: RemoteSession, keys: KeySource, *, profile_sha256: str | None = None
) -> dict[str, Any]:
    """Sign in (签到): a fresh challenge from the service, signed with the company signing certificate."""
    profile = fetch_profile(remote, profile_sha256)
    challenge = remote.challenge()
    nonce = challenge.get("challenge")
    if not isinstance(nonce, str):
        raise InputError(Text("the service gave no challenge", "服务未给出签到挑战"), path=remote.url)
    statement = make_signin(nonce, keys, profile)
    return remote.signin(statement)


def _lot_of(remote: RemoteSession, sha256: str) -> str | None:
    """The lot of the bid with this receipt digest, as the service's status lists it (a front has none)."""
    for bidder in remote.status().get("bidders", []):
        for bid in bidder.get("bids", []):
            if bid.get("sha256") == sha256:
                lot = bid.get("lot")
                return None if lot is None else str(lot)
    return None


def remote_release(
    remote: RemoteSession,
    keys: KeySource,
    *,
    package: str | os.PathLike[str] | None = None,
    receipt: str | None = None,
    profile_sha256: str | None = None,
) -> dict[str, Any]:
    """Release a bid: from the bidder's own *package*, or the front the service hands out for *receipt*."""
    profile = fetch_profile(remote, profile_sha256)
    if package is not None:
        body = make_release(Path(package), keys, profile, submission_sha256=receipt)
    elif receipt is not None:
        digest = receipt.strip().lower()
        lot = _lot_of(remote, digest)
        body = make_release(remote.front(digest), keys, profile, submission_sha256=digest, lot=lot)
    else:
        raise InputError(Text("give the bid or its receipt digest", "请给出投标文件或其回执摘要"), path="-")
    return remote.release(body)


def remote_share(
    remote: RemoteSession, keys: KeySource, share_file: bytes, *, profile_sha256: str | None = None
) -> dict[str, Any]:
    """A committee member's share release (the member's UKey opens *share_file* and signs), posted."""
    profile = fetch_profile(remote, profile_sha256)
    return remote.share(make_share_release(share_file, keys, profile))
