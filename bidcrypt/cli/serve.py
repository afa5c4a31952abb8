"""`bidcrypt serve`: the remote-opening service (不见面开标) over session folders, on uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bidcrypt.cli.common import handles_errors, json_option
from bidcrypt.remote import ServiceOptions, parse_bind, serve

_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.command("serve")
@click.argument("sessions", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--bind", default="127.0.0.1:8443", show_default=True, metavar="HOST:PORT", help="Where to listen."
)
@click.option("--tls-cert", type=_FILE, help="The service's TLS certificate (PEM, with its chain).")
@click.option("--tls-key", type=_FILE, help="The TLS certificate's private key (PEM, unencrypted).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.01),
    default=20.0,
    show_default=True,
    help="Requests a second each client address may send once its burst is spent.",
)
@click.option(
    "--burst",
    type=click.IntRange(min=1),
    default=120,
    show_default=True,
    help="Requests a client address may send at once.",
)
@json_option
@handles_errors
def serve_command(
    sessions: tuple[Path, ...],
    bind: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    rate: float,
    burst: int,
    as_json: bool,
) -> None:
    """Serve the sessions' remote opening over HTTP(S): profile, sign-in, releases, the hall page.

    Each session is at /s/<session id>/ (its hall page at /s/<session id>/hall).
    Without --tls-cert and --tls-key the service speaks plain HTTP: only
    behind a TLS proxy, or on loopback. SIGTERM or Ctrl-C stops it cleanly;
    it keeps nothing outside the session folders. With --json, each
    session's hall page is announced as a JSON line when the service starts.
    """
    options = ServiceOptions(rate=rate, burst=burst)

    def announce(url: str) -> None:
        click.echo(json.dumps({"hall": url}) if as_json else url)

    serve(
        list(sessions),
        parse_bind(bind),
        tls_cert=tls_cert,
        tls_key=tls_key,
        options=options,
        announce=click.echo,
    )
