"""Receiving a submitted package into a session: a bounded, hashed, durable copy.

The bytes are copied into ``SESSION/submissions/.incoming-….part`` while
they are hashed; only a regular file is read (a FIFO or a device is
refused before anything is created), at most the session's maximum
package size is taken, and the copy is synced before the session may give
a receipt for it. The ``.part`` file is locked by the process writing it,
so a copy left by a killed ``submit`` is told from one still being written
and removed by the next submission.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from bidcrypt.errors import InputError, PackageTooLargeError
from bidcrypt.files import input_error, output_error
from bidcrypt.i18n import pick
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock, hold_file, is_held

if TYPE_CHECKING:
    from bidcrypt.opening.session import OpeningSession

#: The largest package a session accepts unless it says otherwise (4 GiB).
DEFAULT_MAX_PACKAGE_SIZE = 4 << 30
_CHUNK = 1 << 20
_PREFIX = ".incoming-"
_SUFFIX = ".part"


def remove_stale_parts(folder: Path) -> int:
    """Remove the ``.incoming-*.part`` copies of submissions whose writer is gone; return how many."""
    removed = 0
    for candidate in folder.glob(f"{_PREFIX}*{_SUFFIX}"):
        if candidate.is_file() and not candidate.is_symlink() and not is_held(candidate):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed += 1
    return removed


def _open_regular(path: Path) -> int:
    """A read descriptor of *path*, refused (without blocking) unless it is a regular file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise input_error(exc, path) from exc
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = (
            pick("a directory", "目录") if stat.S_ISDIR(mode) else pick("not a regular file", "不是普通文件")
        )
        raise InputError(kind, path=path)
    os.set_blocking(descriptor, True)
    return descriptor


class Incoming:
    """A submitted package being received; use as a context manager.

    Inside the block, :attr:`staging` holds the complete copy with its
    :attr:`sha256` and :attr:`size`; :meth:`store` gives it its final name.
    Whatever is not stored is removed when the block ends.
    """

    def __init__(self, session: OpeningSession, package: Path) -> None:
        self.package = package
        self.session_directory = session.directory
        self.folder = session.directory / "submissions"
        self.limit = session.max_package_size
        self.staging = self.folder / f"{_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{_SUFFIX}"
        self.sha256 = ""
        self.size = 0
        self._held: int | None = None

    def __enter__(self) -> Incoming:
        source = _open_regular(self.package)
        try:
            with SessionLock(self.session_directory, wait=CHANGE_WAIT):
                # Under the session lock no other submit is between creating its copy and locking it.
                remove_stale_parts(self.folder)
                try:
                    self._held = os.open(self.staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except OSError as exc:
                    raise output_error(exc, self.staging) from exc
                hold_file(self._held)
            self._copy(source, self._held)
        except BaseException:
            self._discard()
            raise
        finally:
            os.close(source)
        return self

    def _copy(self, source: int, target: int) -> None:
        digest = hashlib.sha256()
        while True:
            try:
                chunk = os.read(source, _CHUNK)
            except OSError as exc:
                raise input_error(exc, self.package) from exc
            if not chunk:
                break
            self.size += len(chunk)
            if self.size > self.limit:
                raise PackageTooLargeError(path=self.package, limit=self.limit)
            digest.update(chunk)
            _write_all(target, chunk, self.staging)
        try:
            os.fsync(target)
            os.fchmod(target, 0o444)
        except OSError as exc:
            raise output_error(exc, self.staging) from exc
        self.sha256 = digest.hexdigest()

    def store(self, destination: Path) -> None:
        """Give the received copy its final name in the session (and sync the folder)."""
        try:
            self.staging.replace(destination)
            descriptor = os.open(destination.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise output_error(exc, destination) from exc

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.staging.unlink()
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._discard()


def _write_all(descriptor: int, data: bytes, path: Path) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(descriptor, view)
        except OSError as exc:
            raise output_error(exc, path) from exc
        view = view[written:]
