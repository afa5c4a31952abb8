"""The bidcrypt command line: a thin click layer over the library.

:func:`run` is the program (the ``bidcrypt`` script, ``python -m bidcrypt``);
:data:`main` is its root click command (for ``CliRunner`` and software that
calls the command line in its own process), loaded on first use with every
command under it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bidcrypt._fork_server import start_fork_server
from bidcrypt._lazy import loader

if TYPE_CHECKING:
    from bidcrypt.cli.root import main

#: The variable the PIN is read from unless ``--pin-env`` names another (``keys.DEFAULT_PIN_ENV``,
#: spelt out here so that starting the program loads no key code).
_DEFAULT_PIN_ENV = "BIDCRYPT_PIN"
#: The root command's options that may come before the command's name.
_ROOT_FLAGS = frozenset({"-v", "--verbose"})


def run() -> None:
    """Run the command line on ``sys.argv``.

    ``bidcrypt opening open`` starts the fork server of its worker processes
    first, before the commands load: the server imports pyHanko and the
    opening (about a second) while this process imports the rest and reads
    the session, on the other core. The PIN variables are out of the
    environment while the server starts (see :func:`bidcrypt._fork_server.start_fork_server`).
    A server that cannot start now is left to the opening, which tries again
    and reports the failure with its exit code.
    """
    arguments = sys.argv[1:]
    if opens_bids(arguments):
        # Only a head start: when it fails (no space for the server's socket, no process left), the
        # opening starts its workers itself and reports what fails then.
        with contextlib.suppress(OSError):
            start_fork_server(withheld=pin_variables(arguments))
    from bidcrypt.cli.root import main

    main()


def opens_bids(arguments: Sequence[str]) -> bool:
    """True for the arguments of ``opening open`` (not its help): the run that starts workers."""
    words = list(arguments)
    while words and words[0] in _ROOT_FLAGS:
        del words[0]
    return words[:2] == ["opening", "open"] and not {"-h", "--help"} & set(words)


def pin_variables(arguments: Sequence[str]) -> set[str]:
    """The variables that may hold the PIN: the default one, and any that ``--pin-env`` names.

    Read before the command line is parsed, so a name is taken wherever it
    appears; one too many is only withheld a moment longer.
    """
    names = {_DEFAULT_PIN_ENV}
    for index, word in enumerate(arguments):
        if word == "--pin-env" and index + 1 < len(arguments):
            names.add(arguments[index + 1])
        elif word.startswith("--pin-env="):
            names.add(word.partition("=")[2])
    return names


__getattr__ = loader(__name__, globals(), {"main": "bidcrypt.cli.root"})

__all__ = ["main", "opens_bids", "pin_variables", "run"]
