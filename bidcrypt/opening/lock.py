"""One opening at a time per session: an exclusive, non-blocking file lock.

The lock is an ``flock`` on a file in the session folder, so the operating
system releases it when the holder dies (even by SIGKILL) and a new
``open`` can resume at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from bidcrypt import _platform
from bidcrypt.errors import OpeningError, SessionBusyError
from bidcrypt.i18n import pick


class SessionLock:
    """Hold the session's opening lock for the duration of a ``with`` block."""

    FILE_NAME = "open.lock"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE_NAME
        self._descriptor: int | None = None

    def __enter__(self) -> SessionLock:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        taken = _platform.lock_exclusive(descriptor)
        if not taken:
            os.close(descriptor)
            if taken is None:  # no flock on this platform or file system: refuse rather than run unlocked
                no_lock = pick("the session cannot be locked here (no flock)", "此处无法锁定开标会话")
                raise OpeningError(no_lock)
            raise SessionBusyError(path=self.path.parent)
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
            _platform.unlock(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = None
