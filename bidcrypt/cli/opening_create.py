"""`bidcrypt opening create` and `opening profile`: a session folder, and for a remote opening its profile.

Without ``--custody`` a session is made as before (no keys, no profile);
with it, the session gets its keys and its signed profile (docs/remote.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import sys
from pathlib import Path

import click
from cryptography import x509

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    open_source,
    print_json,
    trust_options,
)
from bidcrypt.errors import InputError, PinUnavailableError
from bidcrypt.files import atomic_output
from bidcrypt.i18n import Text, pick
from bidcrypt.opening import OpeningSession, RemoteSettings
from bidcrypt.package import CUSTODY_MODELS, SESSION_SUITES, profile_sha256, suite_of

_SESSION = click.argument("session", type=click.Path(path_type=Path, file_okay=False))
_FILE = click.Path(path_type=Path, dir_okay=False)
#: Times written without a zone are Beijing time, as the platforms publish them.
BEIJING = dt.timezone(dt.timedelta(hours=8))
#: Where the password of a new opening key file comes from, unless typed at the prompt.
PASSWORD_ENV = "BIDCRYPT_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def parse_moment(text: str) -> dt.datetime:
    """An ISO 8601 time; without an offset it is Beijing time (UTC+8)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError as exc:
        raise click.BadParameter(
            pick(
                f"{text!r} is not a time like 2026-12-01T09:30+08:00",
                f"{text!r} 不是时间，示例：2026-12-01T09:30+08:00",
            )
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


_UNITS = {"": 1, "B": 1, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
_UNITS |= {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_size(text: str) -> int:
    """A size in bytes from ``1048576``, ``500MiB``, ``2GiB`` (binary units) or ``500MB`` (decimal)."""
    number = text.strip().rstrip("BbIiKkMmGgTt ")
    unit = text.strip()[len(number) :].strip().upper()
    if not number.isdigit() or unit not in _UNITS or int(number) < 1:
        raise click.BadParameter(
            pick(f"{text!r} is not a size like 500MiB or 2GiB", f"{text!r} 不是大小，示例：500MiB、2GiB")
        )
    return int(number) * _UNITS[unit]


_DURATION = re.compile(r"(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?")


def parse_duration(text: str) -> int:
    """Seconds from ``30m``, ``1h30m``, ``90s`` or a plain number of seconds (at least one)."""
    value = text.strip().lower()
    match = _DURATION.fullmatch(value)
    if value.isdigit():
        seconds = int(value)
    elif match is not None and value:
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        seconds = 0
    if seconds < 1:
        raise click.BadParameter(
            pick(f"{text!r} is not a length like 30m or 1h30m", f"{text!r} 不是时长，示例：30m、1h30m")
        )
    return seconds


def _new_password(variable: str, path: Path) -> str:
    """The new key file's password: from *variable*, else typed twice on the terminal."""
    value = os.environ.get(variable)
    if value:
        return value
    if not sys.stdin.isatty():
        raise PinUnavailableError(source=str(path))
    typed = click.prompt(
        pick(f"password for the new {path.name}", f"新文件 {path.name} 的密码"),
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return str(typed)


def _opening_certificate(ref: str, suite: str, module: str | None, pin_env: str) -> x509.Certificate:
    """The encryption certificate of the platform's key *ref* of *suite* (its private key is not used)."""
    with open_source(ref, module, pin_env) as source:
        found = [
            e.certificate
            for e in source.entries()
            if Purpose.ENCRYPTION in certs.purposes(e.certificate) and suite_of(e.certificate) == suite
        ]
    unique = certs.unique(found)
    if len(unique) != 1:
        raise InputError(
            Text(
                "the opening key must hold exactly one {suite} encryption certificate (it holds {count})",
                "开标密钥须恰好有一张 {suite} 加密证书（实有 {count} 张）",
                suite=suite,
                count=len(unique),
            ),
            path=ref if "pkcs11:" not in ref else "-",
        )
    return unique[0]


def _remote_settings(
    custody: str | None, suite: str | None, opening_key: str | None, opening_key_out: Path | None,
    members: tuple[Path, ...], quorum: int | None, window: str | None, rule: str | None,
    service_url: str | None, module: str | None, pin_env: str, password_env: str,
) -> RemoteSettings | None:  # fmt: skip
    """The remote-opening settings of the options, or None for a session made as before."""
    if custody is None:
        given = [suite, opening_key, opening_key_out, quorum, window, rule, service_url]
        if members or any(value is not None for value in given):
            raise click.UsageError(
                pick(
                    "--suite, --opening-key(-out), --member, --quorum, --window, --rule and --service-url "
                    "need --custody",
                    "--suite、--opening-key(-out)、--member、--quorum、--window、--rule、--service-url 须与 "
                    "--custody 同用",
                )
            )
        return None
    chosen_suite = suite or SESSION_SUITES[0]
    platform = custody == "platform"
    certificate = None
    if opening_key is not None and platform and opening_key_out is None:
        certificate = _opening_certificate(opening_key, chosen_suite, module, pin_env)
    password = None
    if opening_key_out is not None and platform and opening_key is None:
        password = _new_password(password_env, opening_key_out)
    settings = RemoteSettings(
        custody=custody,
        suite=chosen_suite,
        opening_certificate=certificate,
        opening_key_out=opening_key_out,
        opening_key_password=password,
        members=tuple(certs.load_certificate(path) for path in members),
        quorum=quorum,
        window_seconds=parse_duration(window) if window else RemoteSettings.window_seconds,
        rule=rule or RemoteSettings.rule,
        service_url=service_url,
    )
    if opening_key is not None and certificate is None:
        raise click.UsageError(
            pick(
                "--opening-key is for custody platform, without --opening-key-out",
                "--opening-key 仅用于 platform 保管方式，且不能与 --opening-key-out 同用",
            )
        )
    settings.check()
    return settings


@click.command("create")
@_SESSION
@click.option("--tender", required=True, help="Tender (招标项目) identifier.")
@click.option("--lot", "lots", multiple=True, help="Lot (标段) identifier. Repeatable; none: no lots.")
@click.option("--deadline", required=True, help="Submission deadline, ISO 8601 (no offset: Beijing time).")
@click.option("--opening-time", required=True, help="Opening time, ISO 8601 (no offset: Beijing time).")
@click.option(
    "--max-package-size",
    metavar="SIZE",
    help="Largest package `submit` accepts: bytes, or with KiB/MiB/GiB or KB/MB/GB (default 4GiB).",
)
@click.option(
    "--custody",
    type=click.Choice(list(CUSTODY_MODELS)),
    help="A remote opening (不见面开标): who holds the opening key (docs/remote.md). The session gets its "
    "keys and a signed profile.",
)
@click.option(
    "--suite", type=click.Choice(list(SESSION_SUITES)), help="The session keys' suite (default rsa-3072)."
)
@click.option(
    "--opening-key",
    metavar="REF",
    help="custody platform: the platform's existing opening key (a key reference as for --key: pkcs11: URI, "
    "skf: reference, PKCS#12 or PEM file); only its encryption certificate is read.",
)
@click.option(
    "--opening-key-out",
    type=_FILE,
    help=f"custody platform: make a new opening key, written as PKCS#12 (password: ${PASSWORD_ENV} or "
    "asked).",
)
@click.option(
    "--authority-transport",
    "transports",
    multiple=True,
    type=click.Choice(["oaep", "oaep-sha1", "pkcs1v15"]),
    help="custody platform with an existing RSA --opening-key: the key transport it undoes (repeatable, "
    "strongest first; default oaep). Goes into the profile for `pack --profile`.",
)
@click.option("--password-env", default=PASSWORD_ENV, show_default=True, metavar="VAR", help="See above.")
@click.option("--member", "members", multiple=True, type=_FILE, help="custody committee: a member's "
              "encryption certificate. Repeatable.")  # fmt: skip
@click.option("--quorum", type=int, help="custody committee: how many members open (2 ≤ K ≤ n).")
@click.option("--window", metavar="LENGTH", help="The decryption window's length, e.g. 30m (default).")
@click.option("--rule", help="Below three bids: regulation-44 (default), procurement-36, or minimum:N.")
@click.option("--service-url", metavar="URL", help="The URL of the session's service (bidcrypt serve).")
@trust_options(required=True)
@key_options
@json_option
@handles_errors
def create(
    session: Path, tender: str, lots: tuple[str, ...], deadline: str, opening_time: str,
    max_package_size: str | None, custody: str | None, suite: str | None, opening_key: str | None,
    opening_key_out: Path | None, transports: tuple[str, ...], password_env: str,
    members: tuple[Path, ...], quorum: int | None, window: str | None, rule: str | None,
    service_url: str | None, trust: tuple[Path, ...],
    crls: tuple[Path, ...], module: str | None, pin_env: str, as_json: bool,
) -> None:  # fmt: skip
    """Create a session folder for one tender (with --custody: for a remote opening, with its profile)."""
    remote = _remote_settings(
        custody, suite, opening_key, opening_key_out, members, quorum, window, rule, service_url,
        module, pin_env, password_env,
    )  # fmt: skip
    if transports:
        if remote is None:
            raise click.UsageError(
                pick("--authority-transport needs --custody", "--authority-transport 须与 --custody 同用")
            )
        remote = dataclasses.replace(remote, transports=tuple(transports))
        remote.check()
    created = OpeningSession.create(
        session,
        tender=tender,
        lots=list(lots),
        deadline=parse_moment(deadline),
        opening_time=parse_moment(opening_time),
        trust=list(trust),
        crls=list(crls),
        max_package_size=None if max_package_size is None else parse_size(max_package_size),
        remote=remote,
    )
    settings = created.settings
    digest = profile_sha256(created.profile_bytes()) if remote is not None else None
    if as_json:
        report = {
            "session": str(session),
            "tender": settings.tender,
            "lots": list(settings.lots),
            "deadline": certs.format_time(settings.deadline),
            "opening_time": certs.format_time(settings.opening_time),
            "max_package_size": created.max_package_size,
        }
        if remote is not None:  # a remote opening's: a session made as before reports as before
            report |= {
                "session_id": created.session_id,
                "custody": remote.custody,
                "suite": remote.suite,
                "profile_sha256": digest,
            }
        print_json(report)
        return
    click.echo(
        pick(
            f"session {session} for {tender}: deadline {certs.format_time(settings.deadline)}, "
            f"opening {certs.format_time(settings.opening_time)}",
            f"已创建开标会话 {session}（{tender}）：投标截止 {certs.format_time(settings.deadline)}，"
            f"开标 {certs.format_time(settings.opening_time)}",
        )
    )
    if digest is not None:
        click.echo(
            pick(f"  profile SHA-256 (announce it): {digest}", f"  会话配置文件 SHA-256（请公布）：{digest}")
        )


@click.command("profile")
@_SESSION
@click.option("-o", "--output", type=_FILE, help="Write the signed profile (profile.p7s) here.")
@json_option
@handles_errors
def profile_command(session: Path, output: Path | None, as_json: bool) -> None:
    """Copy the session's signed profile for publishing; print its fields and SHA-256."""
    loaded = OpeningSession.load(session, read_only=True)
    try:
        data = loaded.profile_bytes()
        profile = loaded.profile
    finally:
        loaded.close_ledger()
    if output is not None:
        with atomic_output(output) as out:
            out.write(data)
    digest = profile_sha256(data)
    if as_json:
        print_json({"sha256": digest, "output": None if output is None else str(output), **profile.to_json()})
        return
    click.echo(
        pick(f"session {profile.session} ({profile.tender})", f"会话 {profile.session}（{profile.tender}）")
    )
    custody, suite = pick("custody", "保管方式"), pick("suite", "算法套件")
    click.echo(f"  {custody}: {profile.custody.model}   {suite}: {profile.suite}")
    click.echo(f"  SHA-256: {digest}")
    if output is not None:
        click.echo(pick(f"  written to {output}", f"  已写入 {output}"))


__all__ = ["BEIJING", "create", "parse_duration", "parse_moment", "parse_size", "profile_command"]
