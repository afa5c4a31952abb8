"""`bidcrypt remote ...`: the bidder's side of a remote opening, over the service's HTTPS API."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from bidcrypt.cli.committee import _SHARE_FILE, _member_keys
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    member_keys_option,
    open_source,
    print_json,
    report_error,
)
from bidcrypt.cli.exit_codes import INTERNAL_ERROR, exit_code_for, exit_code_for_code
from bidcrypt.errors import RemoteRefusedError
from bidcrypt.files import read_input
from bidcrypt.i18n import pick
from bidcrypt.opening import terminal_safe
from bidcrypt.remote import RemoteSession, remote_release, remote_share, remote_signin

P = ParamSpec("P")
R = TypeVar("R")

_URL = click.argument("url")
_EXISTING = click.Path(path_type=Path, dir_okay=False, exists=True)
_CA = click.option(
    "--ca",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Trust only this CA certificate (PEM) for the service's TLS certificate (else the system's).",
)
_PROFILE_SHA = click.option(
    "--profile-sha256",
    metavar="HEX",
    help="The profile's SHA-256 as the agency announced it: anything else is refused.",
)


def refused_as_the_service_said(command: Callable[P, R]) -> Callable[P, R]:
    """A refusal of the service exits with the code of the service's error (``window-closed``: 69)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RemoteRefusedError as error:
            report_error(error)
            code = exit_code_for_code(str(error.params.get("remote_code", "")))
            sys.exit(exit_code_for(error) if code == INTERNAL_ERROR else code)

    return wrapper


@click.group()
def remote() -> None:
    """The bidder's side of a remote opening (不见面开标): sign in, release, watch the status."""


def _say(result: dict[str, Any], as_json: bool, en: str, zh: str) -> None:
    if as_json:
        print_json(result)
    else:
        click.echo(pick(en, zh))


@remote.command("signin")
@_URL
@keyref_option(required=True, help="The UKey with the company signing certificate.")
@_CA
@_PROFILE_SHA
@key_options
@json_option
@handles_errors
@refused_as_the_service_said
def signin_command(
    url: str,
    key_ref: str,
    ca: Path | None,
    profile_sha256: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Sign in (签到): fetch and check the session's profile, sign the service's challenge, post it.

    URL is the session's address, https://HOST:PORT/s/<session id>/.
    """
    with open_source(key_ref, module, pin_env) as source:
        result = remote_signin(RemoteSession(url, ca), source, profile_sha256=profile_sha256)
    _say(result, as_json, f"signed in at {result.get('at', '-')}", f"已签到：{result.get('at', '-')}")


@remote.command("release")
@_URL
@click.argument("bid", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--receipt",
    metavar="SHA256",
    help="Without your copy of the bid: its receipt digest; the service hands out its front.",
)
@keyref_option(
    required=True, help="The UKey with the bid's encryption key and the company signing certificate."
)
@_CA
@_PROFILE_SHA
@key_options
@json_option
@handles_errors
@refused_as_the_service_said
def release_command(
    url: str,
    bid: Path | None,
    receipt: str | None,
    key_ref: str,
    ca: Path | None,
    profile_sha256: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Release (解密) a bid inside the window: the UKey recovers its key, sealed to the session, signed.

    BID is your copy of the package (only its front is read); or give
    --receipt with the receipt's SHA-256.
    """
    if (bid is None) == (receipt is None):
        raise click.UsageError(
            pick("give BID or --receipt (one of them)", "请给出 BID 或 --receipt（二选一）")
        )
    with open_source(key_ref, module, pin_env) as source:
        result = remote_release(
            RemoteSession(url, ca), source, package=bid, receipt=receipt, profile_sha256=profile_sha256
        )
    _say(result, as_json, "released: the bid is opened", "已解密：投标文件已打开")


@remote.command("share")
@_URL
@click.argument(
    "share_file", metavar="SHARE_FILE", type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@member_keys_option("The member's UKey (twice for two key files: the encryption key and the signing key).")
@_CA
@_PROFILE_SHA
@key_options
@json_option
@handles_errors
@refused_as_the_service_said
def share_command(
    url: str,
    share_file: Path,
    key_refs: tuple[str, ...],
    ca: Path | None,
    profile_sha256: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Release a committee member's share (SHARE_FILE, custody/share-<i>.p7m) to the service.

    As `opening share-release` does, then posted: opened on the member's
    UKey, signed by the member, sealed to the session's release key.
    """
    data = read_input(share_file, _SHARE_FILE)
    with _member_keys(key_refs, module, pin_env) as keys:
        result = remote_share(RemoteSession(url, ca), keys, data, profile_sha256=profile_sha256)
    shares = result.get("shares") or {}
    released, members, quorum = shares.get("released"), shares.get("members"), shares.get("quorum")
    _say(
        result,
        as_json,
        f"share accepted: {released} of {members} shares released (quorum {quorum})",
        f"密钥分量已接受：已释放 {released}/{members} 份（需 {quorum} 份）",
    )


@remote.command("status")
@_URL
@_CA
@json_option
@handles_errors
@refused_as_the_service_said
def status_command(url: str, ca: Path | None, as_json: bool) -> None:
    """The session's status: the window, each bidder's sign-in and decryption, the committee's shares."""
    status = RemoteSession(url, ca).status()
    if as_json:
        print_json(status)
        return
    window = status.get("window") or {}
    remaining = window.get("remaining")
    left = "-" if remaining is None else f"{int(remaining) // 60}:{int(remaining) % 60:02d}"
    click.echo(terminal_safe(f"{status.get('tender', '')}  {window.get('state', '-')}  {left}"))
    for bidder in status.get("bidders", []):
        signed = bidder.get("signed_in_at") or pick("not signed in", "未签到")
        for bid in bidder.get("bids", []) or [{}]:
            click.echo(
                f"  {bidder.get('name', '')}  {signed}  {bid.get('status', '-')}  {bid.get('cause') or ''}"
            )
