"""The opening committee on the command line: `opening share-release` (a member's side),
`opening accept-share` (the session's side), and the key of `opening open --committee`."""

from __future__ import annotations

from pathlib import Path

import click

from bidcrypt.cli.common import (
    accept_received,
    handles_errors,
    json_option,
    key_options,
    member_keys_option,
    open_source,
    print_json,
)
from bidcrypt.errors import InputError
from bidcrypt.files import InputKind, atomic_output, check_output, read_input
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.opening import OpeningSession, accept_share, rebuild_opening_key
from bidcrypt.package import MAX_PROFILE_SIZE, MAX_RELEASE, make_share_release, read_profile

__all__ = ["accept_share_command", "opening_key_source", "share_release_command"]

_FILE = click.Path(path_type=Path, dir_okay=False)
_PROFILE = InputKind("a session profile", "会话配置文件", MAX_PROFILE_SIZE)
_SHARE_FILE = InputKind("a share file", "密钥分量文件", MAX_RELEASE)


def opening_key_source(
    session: OpeningSession, key_ref: str | None, committee: bool, module: str | None, pin_env: str
) -> KeySource:
    """The key source of ``opening open``: ``--key``'s, or with ``--committee`` the rebuilt opening key."""
    if committee == (key_ref is not None):
        raise InputError(
            Text("give one of --key and --committee", "请指定 --key 或 --committee 之一"), path="--key"
        )
    if key_ref is not None:
        return open_source(key_ref, module, pin_env)
    return rebuild_opening_key(session)


class _Together(KeySource):
    """Several key files (a member's encryption key, signing key) as the one UKey they stand for."""

    def __init__(self, sources: list[KeySource]) -> None:
        self.sources = sources
        self.description = " + ".join(source.description for source in sources)

    def entries(self) -> list[KeyEntry]:
        return [entry for source in self.sources for entry in source.entries()]

    def close(self) -> None:
        for source in self.sources:
            source.close()


def _member_keys(key_refs: tuple[str, ...], module: str | None, pin_env: str) -> KeySource:
    if len(key_refs) > 2:
        raise InputError(Text("--key at most twice", "--key 至多指定两次"), path="--key")
    sources: list[KeySource] = []
    try:
        for ref in key_refs:
            sources.append(open_source(ref, module, pin_env))
    except BaseException:
        for source in sources:
            source.close()
        raise
    return sources[0] if len(sources) == 1 else _Together(sources)


@click.command("share-release")
@click.argument("share_file", metavar="SHARE_FILE", type=_FILE)
@member_keys_option(
    "The member's UKey: its encryption key opens the share file, its signing certificate signs. "
    "Twice for two key files (the encryption key and the signing key) standing for one UKey."
)
@click.option(
    "--profile", "profile_path", required=True, type=_FILE, help="The session profile (profile.p7s)."
)
@click.option("-o", "--output", required=True, type=_FILE, help="The share release to write.")
@key_options
@json_option
@handles_errors
def share_release_command(
    share_file: Path,
    key_refs: tuple[str, ...],
    profile_path: Path,
    output: Path,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Release a committee member's share (SHARE_FILE, custody/share-<i>.p7m) to the session of PROFILE.

    The share is opened with the member's UKey, signed by the member and
    sealed to the session's release certificate: it travels and rests
    encrypted. Hand OUT to the session (`opening accept-share`, or the
    service's /share).
    """
    profile = read_profile(read_input(profile_path, _PROFILE))
    data = read_input(share_file, _SHARE_FILE)
    check_output(output, False)
    with _member_keys(key_refs, module, pin_env) as keys:
        body = make_share_release(data, keys, profile)
    with atomic_output(output) as sink:
        sink.write(body)
    if as_json:
        print_json({"share_release": str(output), "session": profile.session, "size": len(body)})
    else:
        click.echo(pick(f"share release written to {output}", f"密钥分量释放文件已写入 {output}"))


@click.command("accept-share")
@click.argument("session", type=click.Path(path_type=Path, file_okay=False))
@click.argument("file", type=_FILE)
@json_option
@handles_errors
def accept_share_command(session: Path, file: Path, as_json: bool) -> None:
    """Accept a committee member's share release FILE inside the window; every one is recorded."""
    accept_received(
        session,
        file,
        lambda opened, body, size: accept_share(opened, body, size=size),
        lambda accepted: pick(
            f"share of member {accepted.member} ({accepted.name}) accepted: "
            f"{accepted.released} of {accepted.members} shares released, {accepted.quorum} needed",
            f"已接受成员 {accepted.member}（{accepted.name}）的密钥分量："
            f"已释放 {accepted.released}/{accepted.members} 份，需要 {accepted.quorum} 份",
        ),
        as_json,
    )
