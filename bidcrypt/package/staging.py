"""The staging folder of an unpacking: where plaintext lives until every check has passed.

``.bidcrypt-unpack-<pid>-<random>`` is made beside the output, readable by
its owner only. It holds ``lock`` (held with ``flock`` by the process that
made it, for as long as that process runs), ``bundle`` (the decrypted
bundle) and ``files/`` (the extracted files, renamed to the output once
every check passed). It is removed on success and on every failure,
Ctrl-C and SIGTERM included (they raise).

A process killed outright (SIGKILL, a crash, a power cut) cannot remove
it. The next unpacking into the same folder does: it removes a folder only
when its name has exactly that form, it is a real folder of the same user,
and its ``lock`` is a regular file that nobody holds any more, which proves
its owner is gone (a lock dies with its process). A folder is locked before
it takes that name, so a live one is never mistaken for a stale one.
Nothing else is ever deleted. (Where ``flock`` does not exist, Windows,
nothing is cleaned.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from types import TracebackType

from bidcrypt import _platform
from bidcrypt.files import output_error

PREFIX = ".bidcrypt-unpack-"
#: A staging folder being made, not yet locked and named: never cleaned by anyone else.
_STARTING = ".bidcrypt-unpack~"
_NAME = re.compile(re.escape(PREFIX) + r"[0-9]+-[a-z0-9_]+")
LOCK = "lock"


def _hold(path: Path) -> int:
    """Create *path* and lock it for this process's lifetime; its descriptor.

    On a file system (or platform) without locks the file is made all the
    same: unpacking still works, and no one can ever take this folder for
    stale (their lock fails the same way), so it is never cleaned by others.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _platform.O_NOFOLLOW, 0o600)
    try:
        _platform.lock_exclusive(descriptor)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


class Staging:
    """One staging folder, locked while it exists; use as a context manager (removed on exit)."""

    def __init__(self, root: Path, lock: int | None) -> None:
        self.root = root
        self._lock = lock
        #: Where the decrypted bundle is written.
        self.bundle = root / "bundle"
        #: The folder that becomes the output.
        self.files = root / "files"

    @classmethod
    def create(cls, output: Path) -> Staging:
        """A new staging folder beside *output*, after removing stale ones there."""
        parent = output.parent
        clean_stale(parent)
        try:
            starting = Path(tempfile.mkdtemp(prefix=_STARTING, dir=parent))
        except OSError as exc:
            raise output_error(exc, output) from exc
        where, lock = starting, None
        try:
            lock = _hold(starting / LOCK)
            named = parent / f"{PREFIX}{os.getpid()}-{starting.name[len(_STARTING) :]}"
            starting.rename(named)
            where = named
            staging = cls(where, lock)
            staging.files.mkdir()
        except BaseException as exc:
            _remove(where, lock)
            if isinstance(exc, OSError):
                raise output_error(exc, output) from exc
            raise
        return staging

    def publish(self, output: Path) -> None:
        """Give the checked files their final name *output*."""
        try:
            self.files.rename(output)
        except OSError as exc:
            raise output_error(exc, output) from exc

    def remove(self) -> None:
        """Delete the folder and everything in it, then let go of the lock."""
        _remove(self.root, self._lock)
        self._lock = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.remove()


def _remove(root: Path, lock: int | None) -> None:
    # The lock is let go of only once the folder is gone: no one can take it for stale before.
    shutil.rmtree(root, ignore_errors=True)
    if lock is not None:
        with contextlib.suppress(OSError):
            os.close(lock)


def clean_stale(parent: Path) -> list[Path]:
    """Remove the staging folders in *parent* whose owner is gone (see the module docstring)."""
    if not _platform.HAS_FLOCK:
        return []
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(parent) if _NAME.fullmatch(e.name)]
    except OSError:
        return removed
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or not _platform.owned_by_me(
                entry.stat(follow_symlinks=False)
            ):
                continue
            descriptor = os.open(Path(entry.path) / LOCK, os.O_RDWR | _platform.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                continue
            try:
                if _platform.lock_exclusive(descriptor) is not True:
                    continue  # its owner is alive (or nothing can be proved here)
            except OSError:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        finally:
            os.close(descriptor)
    return removed
