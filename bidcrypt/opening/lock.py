"""One change at a time per session: an exclusive file lock on the session folder.

Every command that changes a session holds the lock: ``open`` for its
whole run, the others (submit, withdraw, register, bind, close) for their
short write. The lock is an ``flock`` on ``SESSION/open.lock``, so the
operating system releases it when the holder dies (even by SIGKILL) and a
new command can go on at once. Threads of one process (a service) queue
for it on a lock of the process first, so that a waiting thread takes it as
soon as it is free rather than at its next poll. The file is opened without following a
symbolic link and is never written or truncated: a lock file that is not
a regular file is refused, never clobbered.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bidcrypt import _platform
from bidcrypt.errors import OpeningError, SessionBusyError
from bidcrypt.i18n import Text

#: How long a short change waits for the lock before giving up (seconds).
CHANGE_WAIT = 10.0
_POLL = 0.05
#: The process's own lock per session folder, taken before the file lock.
_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _local_lock(path: Path) -> threading.Lock:
    with _LOCAL_GUARD:
        return _LOCAL.setdefault(os.path.realpath(path), threading.Lock())


def try_lock(descriptor: int) -> bool:
    """Take the exclusive lock of an open file without waiting; False when another holder has it.

    Where the platform or the file system has no ``flock``, sessions refuse
    to run unlocked.
    """
    taken = _platform.lock_exclusive(descriptor)
    if taken is None:
        raise OpeningError(
            Text(
                "the session cannot be locked here (no flock on this platform or file system)",
                "此处无法锁定开标会话（平台或文件系统不支持 flock）",
            )
        )
    return taken


class SessionLock:
    """Hold the session's lock for the duration of a ``with`` block.

    With *wait* (seconds) the lock is waited for that long, for short
    changes that meet another short change; without, a lock already held
    is refused at once (:class:`SessionBusyError`), as ``open`` wants.
    """

    FILE_NAME = "open.lock"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        wait: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(directory) / self.FILE_NAME
        self.wait = wait
        self._monotonic = monotonic
        self._descriptor: int | None = None
        self._local: threading.Lock | None = None

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | _platform.O_NONBLOCK | _platform.O_NOFOLLOW | _platform.O_CLOEXEC
        try:
            descriptor = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise OpeningError(
                Text(
                    "cannot open the session lock {path} ({strerror})",
                    "无法打开开标会话锁文件 {path}（{strerror}）",
                    path=self.path,
                    strerror=exc.strerror,
                )
            ) from exc
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise OpeningError(
                Text(
                    "the session lock {path} is not a regular file; the session is damaged",
                    "开标会话锁 {path} 不是普通文件，会话已损坏",
                    path=self.path,
                )
            )
        return descriptor

    def __enter__(self) -> SessionLock:
        local = _local_lock(self.path)
        if not (local.acquire(timeout=self.wait) if self.wait > 0 else local.acquire(blocking=False)):
            raise SessionBusyError(path=self.path.parent)
        try:
            descriptor = self._open()
            give_up = self._monotonic() + self.wait
            while not try_lock(descriptor):
                if self._monotonic() >= give_up:
                    os.close(descriptor)
                    raise SessionBusyError(path=self.path.parent)
                time.sleep(_POLL)
        except BaseException:
            local.release()
            raise
        self._descriptor = descriptor
        self._local = local
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the only descriptor releases the lock
            self._descriptor = None
        if self._local is not None:
            self._local.release()
            self._local = None
