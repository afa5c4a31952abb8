"""The bidcrypt command line: a thin click layer over the library."""

from __future__ import annotations

import click

from bidcrypt import __version__
from bidcrypt.cli.doctor import doctor
from bidcrypt.cli.seal import seal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bidcrypt")
def main() -> None:
    """Seal, encrypt and open electronic bid files with the certificates on a UKey."""


main.add_command(doctor)
main.add_command(seal)
