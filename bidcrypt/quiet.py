"""Keeping third-party log records off the user's screen."""

from __future__ import annotations

import logging
import os

#: Libraries that log an expected condition (an untrusted or revoked certificate) with a traceback.
NOISY_LIBRARIES = ("pyhanko", "pyhanko_certvalidator")


def quiet_library_logs() -> None:
    """Drop pyHanko's log records, whose content bidcrypt's reports already give in one line.

    Called by the command line and in bidcrypt's own worker processes; an
    application embedding bidcrypt keeps its own logging set-up unless it
    calls this. ``BIDCRYPT_DEBUG=1`` leaves the records alone.
    """
    if os.environ.get("BIDCRYPT_DEBUG"):
        return
    for name in NOISY_LIBRARIES:
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
