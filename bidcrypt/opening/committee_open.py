"""The bulk opening with the opening key a committee rebuilt (``opening open SESSION --committee``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509

from bidcrypt.envelope import Keys
from bidcrypt.opening.batch import open_bids
from bidcrypt.opening.committee import rebuild_opening_key
from bidcrypt.opening.run import OpeningRun, Progress
from bidcrypt.opening.session import OpeningSession

__all__ = ["open_with_committee"]


def open_with_committee(
    session: OpeningSession,
    *,
    release_keys: Keys | None = None,
    certificate: x509.Certificate | None = None,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    now: dt.datetime | None = None,
) -> OpeningRun:
    """Open the bids encrypted to the opening key with the key k members rebuilt, through :func:`open_bids`.

    The key lives in this process's memory for the time of the opening only;
    the outcomes say ``opened_by = 'committee'``.
    :class:`~bidcrypt.errors.QuorumNotReachedError` before k shares were
    accepted, and nothing is opened. *release_keys* and *certificate* as
    :func:`~bidcrypt.opening.committee.rebuild_opening_key` takes them.
    """
    with rebuild_opening_key(session, release_keys, certificate) as key:
        return open_bids(session, key, workers=workers, progress=progress, now=now, opened_by="committee")
