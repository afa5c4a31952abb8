"""`bidcrypt opening ...`: what the opening officials run, from creating a session to the record."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from cryptography import x509

from bidcrypt import certs
from bidcrypt.cli.committee import opening_key_source
from bidcrypt.cli.common import (
    handles_errors,
    json_option,
    key_options,
    keyref_option,
    print_json,
)
from bidcrypt.cli.opening_create import create, profile_command
from bidcrypt.cli.progress import terminal_bar
from bidcrypt.clock import Clock, TsaClock
from bidcrypt.i18n import pick
from bidcrypt.opening import (
    SLOW_PATH,
    OpeningSession,
    Progress,
    build_record,
    open_bids,
    render,
    start_fork_server,
)

_SESSION = click.argument("session", type=click.Path(path_type=Path, file_okay=False))
_FILE = click.Path(path_type=Path, dir_okay=False)


def _load(session: Path) -> OpeningSession:
    return OpeningSession.load(session)


def _certificate_json(certificate: x509.Certificate) -> dict[str, str]:
    return {"subject": certs.display_name(certificate), "serial": f"{certificate.serial_number:x}"}


@click.group()
def opening() -> None:
    """Opening sessions: bidders, submissions and receipts, bulk opening, the opening record."""


opening.add_command(create)
opening.add_command(profile_command)


@opening.command("register")
@_SESSION
@click.option("--name", required=True, help="The bidder's registered name (单位全称).")
@click.option("--uscc", required=True, help="The bidder's unified social credit code.")
@click.option(
    "--cert", "certificates", multiple=True, type=_FILE, help="Encryption certificate to bind. Repeatable."
)
@json_option
@handles_errors
def register(session: Path, name: str, uscc: str, certificates: tuple[Path, ...], as_json: bool) -> None:
    """Register a bidder (or update its name) and bind its encryption certificates."""
    opened = _load(session)
    opened.register_bidder(name, uscc)
    bound = [certs.load_certificate(path) for path in certificates]
    for certificate in bound:
        opened.bind_certificate(uscc, certificate)
    if as_json:
        print_json(
            {
                "session": str(session),
                "name": name,
                "credit_code": uscc,
                "certificates": [_certificate_json(certificate) for certificate in bound],
            }
        )
        return
    click.echo(
        pick(
            f"registered {name} ({uscc}) with {len(certificates)} certificate(s)",
            f"已登记 {name}（{uscc}），绑定证书 {len(certificates)} 张",
        )
    )


@opening.command("bind")
@_SESSION
@click.option("--uscc", required=True, help="The bidder's unified social credit code.")
@click.option("--cert", "certificate", required=True, type=_FILE, help="Encryption certificate to bind.")
@click.option("--replace", is_flag=True, help="Unbind the bidder's other certificates (after 补办 or 变更).")
@json_option
@handles_errors
def bind(session: Path, uscc: str, certificate: Path, replace: bool, as_json: bool) -> None:
    """Bind an encryption certificate to a registered bidder (its subject must name the bidder)."""
    loaded = certs.load_certificate(certificate)
    _load(session).bind_certificate(uscc, loaded, replace=replace)
    if as_json:
        print_json(
            {"session": str(session), "credit_code": uscc, "replace": replace, **_certificate_json(loaded)}
        )
        return
    click.echo(
        pick(
            f"bound {certs.display_name(loaded)} (serial {loaded.serial_number:x}) to {uscc}",
            f"已将证书 {certs.display_name(loaded)}（序列号 {loaded.serial_number:x}）绑定到 {uscc}",
        )
    )


@opening.command("submit")
@_SESSION
@click.argument("package", type=_FILE)
@click.option(
    "--tsa",
    metavar="URL",
    help="Take the receipt's time from this RFC 3161 timestamp authority (https; http needs --tsa-cert).",
)
@click.option(
    "--tsa-cert",
    type=_FILE,
    help="Pin the TSA certificate (PEM/DER): tokens must be signed by exactly it.",
)
@json_option
@handles_errors
def submit(session: Path, package: Path, tsa: str | None, tsa_cert: Path | None, as_json: bool) -> None:
    """Accept a bid package before the deadline and print its receipt (回执)."""
    if tsa_cert is not None and tsa is None:
        raise click.UsageError(pick("--tsa-cert needs --tsa", "--tsa-cert 须与 --tsa 同用"))
    loaded = _load(session)
    pinned = certs.load_certificate(tsa_cert) if tsa_cert else None
    clock: Clock | None = TsaClock(tsa, trust=loaded.trust_store(), certificate=pinned) if tsa else None
    receipt = loaded.submit(package, clock)
    if as_json:
        print_json(receipt.to_dict())
        return
    click.echo(pick("receipt", "回执") + f" #{receipt.submission}")
    click.echo(
        f"  {pick('bidder', '投标人')}: {receipt.bidder} ({receipt.credit_code})"
        + (f"   {pick('lot', '标段')}: {receipt.lot}" if receipt.lot else "")
    )
    click.echo(f"  SHA-256: {receipt.sha256}   {pick('size', '大小')}: {receipt.size}")
    click.echo(
        f"  {pick('received', '接收时间')}: {certs.format_time(receipt.received_at)} ({receipt.time_source})"
    )


@opening.command("withdraw")
@_SESSION
@click.option("--uscc", required=True, help="The bidder's unified social credit code.")
@click.option("--lot", help="The lot, when the tender has lots.")
@json_option
@handles_errors
def withdraw(session: Path, uscc: str, lot: str | None, as_json: bool) -> None:
    """Withdraw a bidder's current submission (before the deadline)."""
    number = _load(session).withdraw(uscc, lot)
    if as_json:
        print_json({"session": str(session), "withdrawn": number, "credit_code": uscc, "lot": lot})
        return
    click.echo(pick(f"submission #{number} withdrawn", f"投标文件 #{number} 已撤回"))


@opening.command("open")
@_SESSION
@keyref_option(required=False, help="The opening UKey (or a PKCS#12 file).")
@click.option(
    "--committee",
    is_flag=True,
    help="Instead of --key: the opening key the committee's released shares rebuild, in memory only.",
)
@click.option("--workers", type=click.IntRange(1, 256), help="Decryption processes (default: the cores).")
@key_options
@json_option
@handles_errors
def open_command(
    session: Path,
    key_ref: str | None,
    committee: bool,
    workers: int | None,
    module: str | None,
    pin_env: str,
    as_json: bool,
) -> None:
    """Open every bid the key can open: one login, one unwrap per bid, decryption in parallel.

    With --committee the key is the session's opening key, rebuilt from k
    members' released shares (``opening accept-share``) for this opening only.
    """
    loaded = _load(session)
    if loaded.pending():  # the workers' modules load while the key is opened (and its PIN asked for)
        start_fork_server()
    bar = None

    def progress(step: Progress) -> None:
        nonlocal bar
        if as_json:
            return
        if step.done == 0:  # the batch's first word: the token decrypts the content, slowly
            if step.on_token:
                click.echo(SLOW_PATH.render(), err=True)
            return
        if not sys.stderr.isatty():
            return
        if bar is None:
            label = pick("opening on the UKey (slow)", "在 U-KEY 内解密中（较慢）") if step.on_token else None
            label = label or pick("opening", "解密中")
            bar = terminal_bar(step.total, label)
            bar.__enter__()
        bar.length = step.total  # less, once a bid read later turns out not for this key
        bar.update(1)

    with opening_key_source(loaded, key_ref, committee, module, pin_env) as source:
        try:
            opened_by = "committee" if committee else "key"
            run = open_bids(loaded, source, workers=workers, progress=progress, opened_by=opened_by)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    if as_json:
        print_json(run.to_dict())
    else:
        click.echo(
            pick(
                f"opened {len(run.opened)}, failed {len(run.failed)}, not for this key {len(run.skipped)}, "
                f"left for another run {len(run.deferred)}; "
                f"{run.unwraps} key unwrap(s) on the key source, {run.seconds:.1f} s",
                f"解密成功 {len(run.opened)}，失败 {len(run.failed)}，非本密钥 {len(run.skipped)}，"
                f"待再次解密 {len(run.deferred)}；密钥解封 {run.unwraps} 次，用时 {run.seconds:.1f} 秒",
            )
            + (
                pick(
                    f"; {run.token_decrypted} decrypted on the UKey (slow path)",
                    f"；其中 {run.token_decrypted} 份在 U-KEY 内解密（慢速方式）",
                )
                if run.token_decrypted
                else ""
            )
        )
    if run.stopped is not None:
        raise run.stopped


@opening.command("report")
@_SESSION
@click.option(
    "--format",
    "form",
    type=click.Choice(["table", "json", "csv", "html"]),
    help="The form of the record (default: table; json with --json).",
)
@click.option("-o", "--output", type=_FILE, help="Write to this file instead of the screen.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON (the same as --format json).")
@handles_errors
def report(session: Path, form: str | None, output: Path | None, as_json: bool) -> None:
    """Print the opening record (开标记录). Reads the session only: an archived, read-only one will do."""
    if as_json and form not in (None, "json"):
        raise click.UsageError(pick("--json contradicts --format", "--json 与 --format 矛盾"))
    form = "json" if as_json else form or "table"
    text = render(build_record(OpeningSession.load(session, read_only=True)), form)
    if output is None:
        click.echo(text, nl=False)
        return
    from bidcrypt.files import atomic_output

    with atomic_output(output) as sink:
        sink.write(text.encode("utf-8"))
    click.echo(pick(f"written to {output}", f"已写入 {output}"))
