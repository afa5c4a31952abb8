"""`bidcrypt version` and `bidcrypt --version`: the versions of bidcrypt and of what it stands on.

Read from the installed distributions' metadata, so nothing heavy (pyHanko)
is imported to answer.
"""

from __future__ import annotations

import platform
from importlib import metadata

import click

from bidcrypt import __version__
from bidcrypt.cli.common import handles_errors, json_option, print_json
from bidcrypt.i18n import pick

#: The distributions reported, by the name the report gives them.
_DISTRIBUTIONS = {
    "pyhanko": "pyhanko",
    "pyhanko-certvalidator": "pyhanko-certvalidator",
    "python-pkcs11": "python-pkcs11",
    "cryptography": "cryptography",
}


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def openssl_version() -> str:
    """The OpenSSL that ``cryptography`` is linked with (its own wheel's, or the system's)."""
    from cryptography.hazmat.backends.openssl import backend

    return str(backend.openssl_version_text())


def versions() -> dict[str, str | None]:
    """bidcrypt's version and those of the libraries it relies on (None: not installed)."""
    found: dict[str, str | None] = {"bidcrypt": __version__, "openssl": openssl_version()}
    found |= {name: _installed(distribution) for name, distribution in _DISTRIBUTIONS.items()}
    found["python"] = platform.python_version()
    return found


def version_lines() -> list[str]:
    """The report as text, one ``name version`` line each."""
    missing = pick("not installed", "未安装")
    return [f"{name} {value or missing}" for name, value in versions().items()]


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """The callback of the root command's ``--version``: print the report and stop."""
    if not value or ctx.resilient_parsing:
        return
    for line in version_lines():
        click.echo(line)
    ctx.exit()


@click.command("version")
@json_option
@handles_errors
def version_command(as_json: bool) -> None:
    """Show the versions of bidcrypt, OpenSSL, pyHanko and python-pkcs11."""
    if as_json:
        print_json(versions())
        return
    for line in version_lines():
        click.echo(line)
