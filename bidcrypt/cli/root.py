"""The root command of the command line, with every command under it."""

from __future__ import annotations

import click

from bidcrypt.cli.committee import accept_share_command, share_release_command
from bidcrypt.cli.common import DEBUG_ENV, be_verbose
from bidcrypt.cli.doctor import doctor
from bidcrypt.cli.envelope import envelope
from bidcrypt.cli.opening import opening
from bidcrypt.cli.pack import pack_command
from bidcrypt.cli.package import check_command, inspect_command, reencrypt_command, unpack_command
from bidcrypt.cli.release import (
    accept_command,
    challenge_command,
    release_command,
    session_signin_command,
    signin_command,
)
from bidcrypt.cli.remote import remote
from bidcrypt.cli.seal import seal
from bidcrypt.cli.serve import serve_command
from bidcrypt.cli.version import print_version, version_command
from bidcrypt.cli.window import WINDOW_COMMANDS
from bidcrypt.quiet import quiet_library_logs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=print_version,
    help="Show the versions of bidcrypt, OpenSSL, pyHanko and python-pkcs11, and exit.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help=f"Show the traceback of an internal error and the libraries' log records [env: {DEBUG_ENV}=1].",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Seal, encrypt and open electronic bid files with the certificates on a UKey."""
    if verbose:
        be_verbose(ctx)
    quiet_library_logs()


main.add_command(doctor)
main.add_command(seal)
main.add_command(envelope)
main.add_command(opening)
for command in (pack_command, inspect_command, check_command, reencrypt_command, unpack_command):
    main.add_command(command)
main.add_command(version_command)
main.add_command(release_command)
main.add_command(signin_command)
for command in (accept_command, challenge_command, session_signin_command, *WINDOW_COMMANDS):
    opening.add_command(command)
for command in (share_release_command, accept_share_command):
    opening.add_command(command)
main.add_command(serve_command)
main.add_command(remote)

__all__ = ["main"]
