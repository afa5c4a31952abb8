"""Remote opening on the command line: `bidcrypt release`, `bidcrypt signin` (the bidder's side) and
`opening accept`, `opening challenge`, `opening signin` (the session's side)."""

from __future__ import annotations

from pathlib import Path

import click

from bidcrypt.cli.common import (
    KEYREF_FORMS,
    accept_received,
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    open_source,
    print_json,
)
from bidcrypt.files import InputKind, atomic_output, check_output, read_input
from bidcrypt.i18n import pick
from bidcrypt.keys import KeySource
from bidcrypt.opening import OpeningSession, accept_release, accept_signin, new_challenge
from bidcrypt.package import (
    MAX_PROFILE_SIZE,
    MAX_RELEASE,
    SessionProfile,
    make_release,
    make_signin,
    read_profile,
)

_FILE = click.Path(path_type=Path, dir_okay=False)
_SESSION = click.argument("session", type=click.Path(path_type=Path, file_okay=False))
_PROFILE = InputKind("a session profile", "会话配置文件", MAX_PROFILE_SIZE)
_SIGNIN = InputKind("a sign-in", "签到文件", MAX_RELEASE)


def _profile(path: Path) -> SessionProfile:
    return read_profile(read_input(path, _PROFILE))


def _write(output: Path, data: bytes) -> None:
    with atomic_output(output) as sink:
        sink.write(data)


def _keys(key_refs: tuple[str, ...], module: str | None, pin_env: str) -> KeySource:
    """The bidder's UKey, or the key files given together (a signing and an encryption key file)."""
    sources: list[KeySource] = []
    try:
        for ref in key_refs:
            sources.append(open_source(ref, module, pin_env))
    except BaseException:
        for opened in sources:
            opened.close()
        raise
    if len(sources) == 1:
        return sources[0]
    from bidcrypt.keys import KeyEntry

    class _Together(KeySource):
        description = " + ".join(s.description for s in sources)

        def entries(self) -> list[KeyEntry]:
            return [entry for source in sources for entry in source.entries()]

        def close(self) -> None:
            for source in sources:
                source.close()

    return _Together()


@click.command("release")
@click.argument("bid", type=_FILE)
@click.option(
    "--key",
    "key_refs",
    required=True,
    multiple=True,
    metavar="KEYREF",
    help="The bidder's UKey: its encryption key recovers the content key, its company signing certificate "
    "signs. Repeatable: the signing and the encryption key files together. " + KEYREF_FORMS,
)
@click.option(
    "--profile", "profile_path", required=True, type=_FILE, help="The session profile (profile.p7s)."
)
@click.option("-o", "--output", required=True, type=_FILE, help="The release to write.")
@click.option(
    "--sha256", "sha256", help="The submission's SHA-256 from the receipt (needed with a front only)."
)
@click.option("--lot", help="The lot, when BID is only a front and the profile has several.")
@key_options
@json_option
@handles_errors
def release_command(
    bid: Path,
    key_refs: tuple[str, ...],
    profile_path: Path,
    output: Path,
    sha256: str | None,
    lot: str | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Release BID's content key to the session of PROFILE (解密): signed and sealed to the session.

    BID is the bid package or only its front (the bytes before the content).
    """
    profile = _profile(profile_path)
    check_output(output, False)
    with _keys(key_refs, module, pin_env) as keys:
        body = make_release(bid, keys, profile, submission_sha256=sha256, lot=lot)
    _write(output, body)
    if as_json:
        print_json({"release": str(output), "session": profile.session, "size": len(body)})
    else:
        click.echo(pick(f"release written to {output}", f"解密授权已写入 {output}"))


@click.command("signin")
@click.option("--challenge", required=True, help="The session's sign-in challenge (`opening challenge`).")
@keyref_option(help="The bidder's UKey (its company signing certificate signs).")
@click.option(
    "--profile", "profile_path", required=True, type=_FILE, help="The session profile (profile.p7s)."
)
@click.option("-o", "--output", required=True, type=_FILE, help="The signed sign-in to write.")
@key_options
@json_option
@handles_errors
def signin_command(
    challenge: str,
    key_ref: str,
    profile_path: Path,
    output: Path,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Sign the session's challenge with the company signing certificate (签到)."""
    profile = _profile(profile_path)
    check_output(output, False)
    with open_source(key_ref, module, pin_env) as keys:
        body = make_signin(challenge.strip(), keys, profile)
    _write(output, body)
    if as_json:
        print_json({"signin": str(output), "session": profile.session})
    else:
        click.echo(pick(f"sign-in written to {output}", f"签到文件已写入 {output}"))


@click.command("accept")
@_SESSION
@click.argument("release", type=_FILE)
@json_option
@handles_errors
def accept_command(session: Path, release: Path, as_json: bool) -> None:
    """Accept a bidder's RELEASE inside the window and open that bid; every release is recorded."""
    accept_received(
        session,
        release,
        lambda opened, body, size: accept_release(opened, body, size=size),
        lambda result: pick(
            f"release accepted: bid {result.submission} ({result.credit_code}) {result.status}",
            f"解密授权已接受：投标文件 {result.submission}（{result.credit_code}）"
            + ("已解密" if result.status == "opened" else "解密失败"),
        ),
        as_json,
    )


@click.command("challenge")
@_SESSION
@json_option
@handles_errors
def challenge_command(session: Path, as_json: bool) -> None:
    """Hand out a fresh sign-in challenge (签到挑战码)."""
    opened = OpeningSession.load(session)
    try:
        nonce = new_challenge(opened)
    finally:
        opened.close_ledger()
    if as_json:
        print_json({"challenge": nonce})
    else:
        click.echo(nonce)


@click.command("signin")
@_SESSION
@click.argument("file", type=_FILE)
@json_option
@handles_errors
def session_signin_command(session: Path, file: Path, as_json: bool) -> None:
    """Record a bidder's signed sign-in FILE (签到)."""
    body = read_input(file, _SIGNIN)
    opened = OpeningSession.load(session)
    try:
        result = accept_signin(opened, body)
    finally:
        opened.close_ledger()
    if as_json:
        print_json(result.to_dict())
    else:
        click.echo(
            pick(
                f"signed in: {result.bidder} ({result.credit_code})",
                f"已签到：{result.bidder}（{result.credit_code}）",
            )
        )


__all__ = [
    "accept_command",
    "challenge_command",
    "release_command",
    "session_signin_command",
    "signin_command",
]
