"""The temporary files outputs are written to, and the removal of those their killed writers left.

A temporary file is named ``.NAME.bidcrypt-<16 hex>.part`` beside its
output and is locked (``flock``) by its writer from its creation until the
output is published, so the lock says whether its writer still lives: the
kernel releases it when the holder dies, even by SIGKILL.
:func:`remove_stale` removes only files that provably are such leftovers.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from bidcrypt import _platform

#: The temporary files of :func:`create`, and only them.
NAME = re.compile(r"\..*\.bidcrypt-[0-9a-f]{16}\.part", re.DOTALL)
#: How much of the output's name a temporary file's name repeats (so long names stay within limits).
_NAME_BYTES = 96
#: Directories already cleaned by this process: (absolute path, device, inode). The path is part of
#: the key because a removed directory's inode is reused by the next one made, often at once.
_CLEANED: set[tuple[str, int, int]] = set()


def create(path: Path, private: bool) -> tuple[int, Path]:
    """A new temporary file for the output *path*, locked where the platform locks: descriptor and name.

    *private* creates it with mode 0600 (else 0666 less the umask). Raises :class:`OSError`.
    """
    stem = path.name.encode("utf-8", "surrogateescape")[:_NAME_BYTES].decode("utf-8", "ignore")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _platform.O_CLOEXEC | _platform.O_BINARY
    while True:
        temporary = path.parent / f".{stem}.bidcrypt-{secrets.token_hex(8)}.part"
        try:
            descriptor = os.open(temporary, flags, 0o600 if private else 0o666)
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        try:
            locked = _platform.lock_exclusive(descriptor, wait=True)
            if locked and os.fstat(descriptor).st_nlink == 0:
                os.close(descriptor)  # a cleaner took it for stale in the instant before the lock: again
                continue
        except BaseException:
            os.close(descriptor)
            unlink_quietly(temporary)
            raise
        return descriptor, temporary


def unlink_quietly(path: Path) -> None:
    """Remove *path* if it is there."""
    with contextlib.suppress(OSError):
        path.unlink()


def clean_once(directory: Path) -> None:
    """:func:`remove_stale` in *directory*, once per directory and process (outputs come in bulk)."""
    try:
        status = directory.stat()
        absolute = str(directory.absolute())
    except OSError:
        return
    key = (absolute, status.st_dev, status.st_ino)
    if key not in _CLEANED:
        _CLEANED.add(key)
        remove_stale(directory)


def remove_stale(directory: Path) -> int:
    """Remove the temporary files of dead writers in *directory*; return how many.

    A file is removed only when all of these hold: its name is one
    :func:`create` gives, it is a regular file (not a link) owned by this
    user, and its writer's lock is free. Where the platform or the file
    system has no locks, nothing is removed.
    """
    if not _platform.HAS_FLOCK:
        return 0
    try:
        names = [entry.name for entry in os.scandir(directory) if NAME.fullmatch(entry.name)]
    except OSError:
        return 0
    return sum(_remove_if_stale(directory / name) for name in names)


def _remove_if_stale(path: Path) -> bool:
    flags = os.O_RDONLY | _platform.O_NOFOLLOW | _platform.O_NONBLOCK | _platform.O_CLOEXEC
    try:
        descriptor = os.open(path, flags | _platform.O_NOCTTY)
    except OSError:
        return False
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or not _platform.owned_by_me(status):
            return False
        if _platform.lock_exclusive(descriptor) is not True:
            return False  # its writer is alive (or nothing can be proved here)
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) != (status.st_dev, status.st_ino):
            return False
        path.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)
