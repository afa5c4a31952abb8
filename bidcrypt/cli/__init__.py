"""The bidcrypt command line: a thin click layer over the library."""

from __future__ import annotations

import click

from bidcrypt import __version__
from bidcrypt.cli.doctor import doctor
from bidcrypt.cli.envelope import envelope
from bidcrypt.cli.opening import opening
from bidcrypt.cli.package import (
    check_command,
    inspect_command,
    pack_command,
    reencrypt_command,
    unpack_command,
)
from bidcrypt.cli.seal import seal
from bidcrypt.quiet import quiet_library_logs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bidcrypt")
def main() -> None:
    """Seal, encrypt and open electronic bid files with the certificates on a UKey."""
    quiet_library_logs()


main.add_command(doctor)
main.add_command(seal)
main.add_command(envelope)
main.add_command(opening)
for command in (pack_command, inspect_command, check_command, reencrypt_command, unpack_command):
    main.add_command(command)
