"""What an opening worker process loads before its first bid, pyHanko's seal verification among it.

The fork server of the opening imports this module once (see
:mod:`bidcrypt.opening.pool`); each worker forked from it starts with
these modules loaded. The batch's own process never imports it: it
verifies no seal.
"""

from __future__ import annotations

from bidcrypt.opening.worker import start_worker, work
from bidcrypt.seal import async_verify_seals

__all__ = ["async_verify_seals", "start_worker", "work"]
