"""What the operating system offers, asked in one place: the POSIX calls Windows lacks.

The bidder-side library (key sources, packing, sealing, envelopes) must
import and run on Windows, where bidders' UKey drivers live. No module
imports ``fcntl`` or calls ``os.pread`` directly: they ask here, and a
feature that cannot work without them (in-place re-encryption, the
opening's session lock) refuses with a clear "not on this platform" error
instead of failing to import.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from types import ModuleType

_fcntl: ModuleType | None
try:
    import fcntl as _fcntl
except ImportError:  # Windows
    _fcntl = None
_resource: ModuleType | None
try:
    import resource as _resource
except ImportError:  # Windows
    _resource = None

#: ``flock`` advisory locks (released by the kernel when the holder dies, even by SIGKILL).
HAS_FLOCK = _fcntl is not None
#: Positioned reads and writes (``os.pread`` / ``os.pwrite``) that leave the file offset alone.
HAS_PREAD = hasattr(os, "pread") and hasattr(os, "pwrite")
#: Open flags, 0 where the platform has no such flag.
O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
O_NOCTTY: int = getattr(os, "O_NOCTTY", 0)
O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
O_BINARY: int = getattr(os, "O_BINARY", 0)
#: What ``flock`` fails with where the file system has no locks at all.
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS})


def lock_exclusive(descriptor: int, *, wait: bool = False) -> bool | None:
    """Take an exclusive ``flock`` on *descriptor*.

    True when taken; False when another process holds it (only without
    *wait*); None when this platform or file system has no such locks.
    Other failures raise :class:`OSError`.
    """
    if _fcntl is None:
        return None
    try:
        _fcntl.flock(descriptor, _fcntl.LOCK_EX | (0 if wait else _fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return None
        raise
    return True


def lock_shared(descriptor: int) -> bool | None:
    """Take a shared ``flock`` on *descriptor*, waiting for an exclusive holder (converts one held here).

    True when taken; None when this platform or file system has no such locks.
    """
    if _fcntl is None:
        return None
    try:
        _fcntl.flock(descriptor, _fcntl.LOCK_SH)
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return None
        raise
    return True


def unlock(descriptor: int) -> None:
    """Release a lock taken with :func:`lock_exclusive` (closing the descriptor releases it too)."""
    if _fcntl is not None:
        with contextlib.suppress(OSError):
            _fcntl.flock(descriptor, _fcntl.LOCK_UN)


def owned_by_me(status: os.stat_result) -> bool:
    """True when the file of *status* belongs to this process's user (always, where there are no uids)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is None or status.st_uid == geteuid()


def file_size_limited() -> bool:
    """True when this process may not write files of any size (``ulimit -f``: ``RLIMIT_FSIZE``)."""
    if _resource is None:
        return False
    soft, _ = _resource.getrlimit(_resource.RLIMIT_FSIZE)
    return bool(soft != _resource.RLIM_INFINITY)


def sync_directory(directory: Path) -> None:
    """Make the appearance, renaming or removal of a file in *directory* durable.

    A no-op where a directory cannot be opened (Windows, where the file
    system orders it), or where the file system refuses to sync one.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | O_CLOEXEC
    try:
        descriptor = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EROFS):
            raise
    finally:
        os.close(descriptor)
