"""The session's folders on the disk: syncing what was written, and agreeing with the ledger."""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection
from pathlib import Path

from bidcrypt import _platform
from bidcrypt.errors import OpeningError
from bidcrypt.i18n import Text


def sync_tree(root: Path) -> None:
    """Flush every file and folder under *root* (and *root* itself) to the disk.

    The opened files are written without a sync each (many small writes in
    parallel), then synced here once the bid verified, before the ledger
    may call it opened.
    """
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            descriptor = os.open(
                Path(folder) / name, os.O_RDONLY | _platform.O_NOFOLLOW | _platform.O_CLOEXEC
            )
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _platform.sync_directory(Path(folder))


def remove_path(path: Path) -> None:
    """Remove a file or folder tree if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def reconcile_opened(opened_dir: Path, opened: Collection[int]) -> None:
    """Make ``opened/`` agree with the ledger, whose *opened* bids are the only ones kept.

    Called under the session lock, where no run is alive: every ``.run-*``
    folder is a dead run's, and an ``opened/N`` without an "opened"
    outcome was moved into place by a run killed before its commit (or put
    there by hand). Nothing else in the folder is touched.
    """
    if opened_dir.is_symlink() or not opened_dir.is_dir():
        raise OpeningError(
            Text(
                "{opened_dir} is not a folder; the session is damaged",
                "{opened_dir} 不是目录，开标会话已损坏",
                opened_dir=opened_dir,
            )
        )
    keep = {str(number) for number in opened}
    for child in opened_dir.iterdir():
        if child.name.startswith(".run-") or (child.name.isdigit() and child.name not in keep):
            remove_path(child)
