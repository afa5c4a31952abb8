"""What every command shares: error handling, key-source options, JSON output."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from bidcrypt.cli.exit_codes import INTERNAL_ERROR, exit_code_for
from bidcrypt.errors import BidcryptError
from bidcrypt.i18n import pick
from bidcrypt.keys import DEFAULT_PIN_ENV, MODULE_ENV, KeySource, PinSource, open_key_source
from bidcrypt.trust import TrustStore

P = ParamSpec("P")
R = TypeVar("R")


def report_error(error: BidcryptError) -> None:
    """Print ``bidcrypt: error[code]: message`` and the hint on stderr."""
    click.echo(f"bidcrypt: {pick('error', '错误')}[{error.code}]: {error.message()}", err=True)
    hint = error.hint()
    if hint:
        click.echo(f"  {pick('what to do', '处理建议')}: {hint}", err=True)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn bidcrypt errors into a message and the documented exit code; never a traceback.

    An unexpected exception is a bug: it prints a one-line summary (the full
    traceback only with ``BIDCRYPT_DEBUG=1``) and exits with the internal-error code.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BidcryptError as error:
            report_error(error)
            sys.exit(exit_code_for(error))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo(pick("interrupted", "已中断"), err=True)
            sys.exit(130)
        except Exception as exc:
            import os

            if os.environ.get("BIDCRYPT_DEBUG"):
                traceback.print_exc()
            click.echo(
                pick(
                    f"bidcrypt: internal error ({type(exc).__name__}); please report it "
                    "(set BIDCRYPT_DEBUG=1 for details)",
                    f"bidcrypt：内部错误（{type(exc).__name__}），请报告此问题"
                    "（设置 BIDCRYPT_DEBUG=1 查看详情）",
                ),
                err=True,
            )
            sys.exit(INTERNAL_ERROR)

    return wrapper


def key_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--module`` and ``--pin-env`` for commands that use a key source."""
    command = click.option(
        "--pin-env",
        default=DEFAULT_PIN_ENV,
        show_default=True,
        metavar="VAR",
        help="Environment variable holding the PIN or PKCS#12 password (else you are asked).",
    )(command)
    return click.option(
        "--module",
        envvar=MODULE_ENV,
        metavar="PATH",
        help=f"PKCS#11 module (UKey driver) when the pkcs11: URI names none [env: {MODULE_ENV}].",
    )(command)


def open_source(ref: str, module: str | None, pin_env: str) -> KeySource:
    """Open a key source for the CLI: PIN from *pin_env* or the terminal."""
    return open_key_source(ref, PinSource(env_var=pin_env), module)


def print_json(data: Any) -> None:
    """Print *data* as indented UTF-8 JSON on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def json_option(command: Callable[P, R]) -> Callable[P, R]:
    """``--json``: a machine-readable report on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(command)


def trust_options(required: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--trust CA.pem`` and ``--crl CRL`` (both repeatable), given to the command as ``trust`` and
    ``crls``; :func:`trust_store` turns them into a :class:`~bidcrypt.trust.TrustStore`."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        command = click.option(
            "--crl",
            "crls",
            multiple=True,
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="CRL",
            help="Certificate revocation list (DER or PEM) to check certificates against; needs --trust. "
            "Repeatable.",
        )(command)
        return click.option(
            "--trust",
            "trust",
            multiple=True,
            required=required,
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="CERTS",
            help="CA certificates (PEM/DER) that certificates must chain to: self-signed ones are trusted, "
            "the others help build paths. Repeatable.",
        )(command)

    return decorate


def trust_store(trust: tuple[Path, ...], crls: tuple[Path, ...]) -> TrustStore | None:
    """The trust store of ``--trust``/``--crl``, or None without ``--trust``."""
    if not trust:
        if crls:
            raise click.UsageError("--crl needs --trust")
        return None
    return TrustStore.load(trust, crls)
