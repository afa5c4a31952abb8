"""What every command shares: error handling, key-source options, JSON output."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, ParamSpec, Protocol, TypeVar

import click

from bidcrypt.cli.exit_codes import INTERNAL_ERROR, exit_code_for
from bidcrypt.errors import BidcryptError
from bidcrypt.files import input_error, open_input
from bidcrypt.i18n import current_language, pick
from bidcrypt.keys import DEFAULT_PIN_ENV, MODULE_ENV, SKF_MODULE_ENV, KeySource, PinSource, open_key_source
from bidcrypt.opening import OpeningSession, read_body, terminal_safe
from bidcrypt.trust import TrustStore

P = ParamSpec("P")
R = TypeVar("R")

#: The exit code after Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130
#: The exit code after SIGTERM (128 + SIGTERM): the same clean-up as Ctrl-C, then this code.
TERMINATED = 143
#: The exit code after SIGHUP (128 + SIGHUP: the terminal was closed): the same clean-up, then this code.
HUNG_UP = 129
#: SIGHUP where the platform has it (not on Windows).
_SIGHUP: int | None = getattr(signal, "SIGHUP", None)
#: PINs taken out of the environment for the command that runs: variable name -> value.
_WITHHELD: dict[str, str] = {}
#: Set (to anything) to be verbose, as ``-v`` does: tracebacks of internal errors, libraries' log records.
DEBUG_ENV = "BIDCRYPT_DEBUG"


def verbose() -> bool:
    """True when ``-v`` was given to the root command, or :data:`DEBUG_ENV` is set."""
    return bool(os.environ.get(DEBUG_ENV))


def be_verbose(ctx: click.Context) -> None:
    """Turn verbose on for the command that runs (``-v``), until *ctx* closes.

    It sets :data:`DEBUG_ENV`, so the worker processes of an opening are
    verbose too; the variable is taken away again when the command ends,
    for software that runs the CLI in its own process.
    """
    if verbose():
        return
    os.environ[DEBUG_ENV] = "1"
    ctx.call_on_close(lambda: os.environ.pop(DEBUG_ENV, None))


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that every clean-up runs as it does for Ctrl-C."""


class HungUp(KeyboardInterrupt):
    """SIGHUP (the terminal was closed), raised where the program is, so that every clean-up runs."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM, during the clean-up, ends the process at once (as SIGKILL would).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated


def _hang_up(signum: int, frame: FrameType | None) -> None:
    # A closed terminal often sends two (the shell passes its own on, the kernel sends one to the
    # foreground group): a second one must not cut the clean-up short, so it is ignored.
    signal.signal(signum, signal.SIG_IGN)
    raise HungUp


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise a KeyboardInterrupt in the main thread.

    So ``kill`` (:class:`Terminated`), and a terminal closed under a running
    command (:class:`HungUp`), clean up like Ctrl-C: temporary files,
    plaintext and staging folders are removed by the code that made them.
    The previous handlers are put back after the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signal.SIGTERM: _terminate} | ({_SIGHUP: _hang_up} if _SIGHUP is not None else {})
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _tell(message: str) -> None:
    """*message* on stderr, unless the terminal it goes to is gone (after SIGHUP writing fails: EIO)."""
    with contextlib.suppress(OSError):
        click.echo(message, err=True)


def report_error(error: BidcryptError) -> None:
    """Print ``bidcrypt: error[code]: message`` and the hint on stderr, each on one line.

    A message may quote what a bidder wrote (a name in a package's
    attributes): control and invisible characters are shown as escapes, so
    it can neither move the cursor nor fake further lines. The error is
    rendered here, in the user's language (``BIDCRYPT_LANG``, then the
    locale), whatever language the process that raised it spoke.
    """
    language = current_language()
    message = terminal_safe(error.message(language))
    click.echo(f"bidcrypt: {pick('error', '错误', language)}[{error.code}]: {message}", err=True)
    hint = terminal_safe(error.hint(language))
    if hint:
        click.echo(f"  {pick('what to do', '处理建议', language)}: {hint}", err=True)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn bidcrypt errors into a message and the documented exit code; never a traceback.

    An unexpected exception is a bug: it prints a one-line summary (the full
    traceback only with ``-v``, or ``BIDCRYPT_DEBUG=1``) and exits with the internal-error code.
    Ctrl-C exits with :data:`INTERRUPTED` (130), SIGTERM with
    :data:`TERMINATED` (143) and SIGHUP with :data:`HUNG_UP` (129), all
    after the same clean-up.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with stop_signals_as_interrupt():
                return command(*args, **kwargs)
        except BidcryptError as error:
            report_error(error)
            sys.exit(exit_code_for(error))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Terminated:
            _tell(pick("terminated", "已终止"))
            sys.exit(TERMINATED)
        except HungUp:
            _tell(pick("hung up: the terminal was closed", "终端已关闭，已停止"))
            sys.exit(HUNG_UP)
        except KeyboardInterrupt:
            _tell(pick("interrupted", "已中断"))
            sys.exit(INTERRUPTED)
        except Exception as exc:
            if verbose():
                traceback.print_exc()
            click.echo(
                pick(
                    f"bidcrypt: internal error ({type(exc).__name__}); please report it "
                    "(run it again as bidcrypt -v ... for details)",
                    f"bidcrypt：内部错误（{type(exc).__name__}），请报告此问题"
                    "（以 bidcrypt -v ... 重新运行可查看详情）",
                ),
                err=True,
            )
            sys.exit(INTERNAL_ERROR)

    return wrapper


def key_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--module`` and ``--pin-env`` for commands that use a key source.

    The PIN variable is taken out of the environment while the command
    runs (see :func:`withheld_pin`), so no worker or subprocess inherits it.
    """

    inner = command

    @functools.wraps(inner)
    def withholding(*args: P.args, **kwargs: P.kwargs) -> R:
        with withheld_pin(str(kwargs.get("pin_env") or DEFAULT_PIN_ENV)):
            return inner(*args, **kwargs)

    command = withholding
    command = click.option(
        "--pin-env",
        default=DEFAULT_PIN_ENV,
        show_default=True,
        metavar="VAR",
        help="Environment variable holding the PIN or the key file's password (else you are asked).",
    )(command)
    return click.option(
        "--module",
        envvar=MODULE_ENV,
        metavar="PATH",
        help=f"The UKey driver when the key reference names none: a PKCS#11 module [env: {MODULE_ENV}], "
        f"or an SKF library [env: {SKF_MODULE_ENV}].",
    )(command)


@contextlib.contextmanager
def withheld_pin(env_var: str) -> Iterator[None]:
    """Take the PIN variable *env_var* out of the environment for the block.

    The value is read once, here, and kept for :func:`pin_source` only; no
    worker process or subprocess started in the block inherits it. It is
    put back afterwards, so software that calls the CLI in its own process
    finds its environment as it was.
    """
    value = os.environ.pop(env_var, None)
    if value is None:
        yield
        return
    _WITHHELD[env_var] = value
    try:
        yield
    finally:
        _WITHHELD.pop(env_var, None)
        os.environ.setdefault(env_var, value)


def pin_source(pin_env: str) -> PinSource:
    """The CLI's PIN source: the PIN withheld from *pin_env*, else the variable itself, else the terminal."""
    return PinSource(env_var=pin_env, fixed=_WITHHELD.get(pin_env))


def open_source(ref: str, module: str | None, pin_env: str) -> KeySource:
    """Open a key source for the CLI: PIN from *pin_env* or the terminal."""
    return open_key_source(ref, pin_source(pin_env), module)


#: What a key reference is, said in every ``--key`` help.
KEYREF_FORMS = (
    "A UKey's pkcs11:token=... URI or skf:device=...;application=...;container=... reference, "
    "or a PKCS#12 or PEM key file."
)


def keyref_option(
    *aliases: str, required: bool = True, help: str, metavar: str = "KEYREF"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--key KEYREF``: the one name of a key reference (pkcs11: URI, skf: reference, PKCS#12 or PEM file).

    Every command's help ends with the forms a KEYREF takes (:data:`KEYREF_FORMS`).

    *aliases* are the names a command took before (``--signer``, ``--token``,
    ``--for-key``), still accepted and listed in the help beside ``--key``.
    The command gets the value as ``key_ref``.
    """
    return click.option(
        "--key", *aliases, "key_ref", required=required, metavar=metavar, help=f"{help} {KEYREF_FORMS}"
    )


def member_keys_option(help: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--key KEYREF`` (repeatable, required): a committee member's UKey, or its two key files."""
    return click.option(
        "--key", "key_refs", multiple=True, required=True, metavar="KEYREF", help=f"{help} {KEYREF_FORMS}"
    )


def print_json(data: Any) -> None:
    """Print *data* as indented UTF-8 JSON on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


class Reported(Protocol):
    """A library result the CLI prints: as JSON, or in words."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        ...


A = TypeVar("A", bound=Reported)


def accept_received(
    session: Path,
    body_file: Path,
    accept: Callable[[OpeningSession, bytes, int], A],
    words: Callable[[A], str],
    as_json: bool,
) -> None:
    """Hand a received body (a release, a share) to *accept* on *session* and print what it answered.

    The file is read as the service reads a body (:func:`bidcrypt.opening.read_body`:
    its first bytes and its whole size, so that a huge one is refused unread);
    the answer is printed as JSON with *as_json*, else as *words* say.
    """
    try:
        with open_input(body_file) as stream:
            body, size = read_body(stream)
    except OSError as exc:
        raise input_error(exc, body_file) from exc
    opened = OpeningSession.load(session)
    try:
        result = accept(opened, body, size)
    finally:
        opened.close_ledger()
    if as_json:
        print_json(result.to_dict())
    else:
        click.echo(words(result))


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
