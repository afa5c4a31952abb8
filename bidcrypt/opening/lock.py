"""One opening at a time per session: an exclusive, non-blocking file lock.

The lock is an ``flock`` on a file in the session folder, so the operating
system releases it when the holder dies (even by SIGKILL) and a new
``open`` can resume at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from bidcrypt.errors import SessionBusyError


class SessionLock:
    """Hold the session's opening lock for the duration of a ``with`` block."""

    FILE_NAME = "open.lock"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE_NAME
        self._descriptor: int | None = None

    def __enter__(self) -> SessionLock:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(descriptor)
            raise SessionBusyError(path=self.path.parent) from exc
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._descriptor = descriptor
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None
