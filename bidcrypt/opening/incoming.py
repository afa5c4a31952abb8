"""Receiving a submitted package into a session: a bounded, hashed, durable copy.

The bytes are copied into a temporary file in ``SESSION/submissions/``
while they are hashed: only a regular file is read (a FIFO or a device is
refused before anything is created, see :func:`bidcrypt.files.open_input`),
at most the session's maximum package size is taken, and the copy is
synced before the session may give a receipt for it. The temporary file
is one of :mod:`bidcrypt._temporary`'s, locked by its writer, so the copy
a killed ``submit`` left is told from one still being written and removed
by the next submission.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from bidcrypt import _platform, _temporary
from bidcrypt.errors import PackageTooLargeError
from bidcrypt.files import input_error, open_input, output_error

#: The largest package a session accepts unless it says otherwise (4 GiB).
DEFAULT_MAX_PACKAGE_SIZE = 4 << 30
_CHUNK = 1 << 20
#: The name the temporary copies are made for (``.incoming.bidcrypt-….part``).
_STAGING_NAME = "incoming"


class Incoming:
    """A submitted package being received; use as a context manager.

    Inside the block, :attr:`staging` holds the complete copy with its
    :attr:`sha256` and :attr:`size`; :meth:`store` gives it its final name.
    Whatever is not stored is removed when the block ends.
    """

    def __init__(self, folder: Path, package: Path, limit: int) -> None:
        self.package = package
        #: The session's ``submissions`` folder.
        self.folder = folder
        self.limit = limit
        self.staging = self.folder / _STAGING_NAME
        self.sha256 = ""
        self.size = 0
        self._descriptor: int | None = None

    def __enter__(self) -> Incoming:
        with open_input(self.package, buffered=False) as source:
            _temporary.remove_stale(self.folder)
            try:
                self._descriptor, self.staging = _temporary.create(self.folder / _STAGING_NAME, private=True)
                self._copy(source)
            except OSError as exc:
                self._discard()
                raise output_error(exc, self.folder) from exc
            except BaseException:
                self._discard()
                raise
        return self

    def _copy(self, source: BinaryIO) -> None:
        assert self._descriptor is not None
        digest = hashlib.sha256()
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        while True:
            try:
                count = source.readinto(view)  # type: ignore[attr-defined]
            except OSError as exc:
                raise input_error(exc, self.package) from exc
            if not count:
                break
            self.size += count
            if self.size > self.limit:
                raise PackageTooLargeError(path=self.package, limit=self.limit)
            digest.update(view[:count])
            _write_all(self._descriptor, view[:count], self.staging)
        try:
            os.fsync(self._descriptor)
            os.fchmod(self._descriptor, 0o444)
        except OSError as exc:
            raise output_error(exc, self.staging) from exc
        self.sha256 = digest.hexdigest()

    def store(self, destination: Path) -> None:
        """Give the received copy its final name in the session (and sync the folder)."""
        try:
            self.staging.replace(destination)
            _platform.sync_directory(destination.parent)
        except OSError as exc:
            raise output_error(exc, destination) from exc
        self.staging = destination
        self._close()

    def _close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # releases the writer's lock
            self._descriptor = None

    def _discard(self) -> None:
        if self._descriptor is not None:
            _temporary.unlink_quietly(self.staging)
        self._close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._discard()


def _write_all(descriptor: int, data: memoryview, path: Path) -> None:
    while data:
        try:
            written = os.write(descriptor, data)
        except OSError as exc:
            raise output_error(exc, path) from exc
        data = data[written:]
