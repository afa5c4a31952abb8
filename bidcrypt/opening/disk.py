"""The session's folders on the disk: syncing what was written, and agreeing with the ledger."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Collection, Iterator
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
    there by hand). A ``.stage-*`` folder (:func:`staging_folder`) is
    removed only when no staging is alive in any process. Nothing else in
    the folder is touched.
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
    stages = False
    for child in opened_dir.iterdir():
        if child.name.startswith(".run-") or (child.name.isdigit() and child.name not in keep):
            remove_path(child)
        stages = stages or child.name.startswith(_STAGE)
    if stages:
        descriptor = _stage_lock(opened_dir)
        try:
            if _platform.lock_exclusive(descriptor):  # no staging alive: these are dead ones'
                _remove_stages(opened_dir)
        finally:
            os.close(descriptor)


_STAGE = ".stage-"


def _stage_lock(opened_dir: Path) -> int:
    """``opened/`` itself, opened to be locked: staging folders' owners hold it shared."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _platform.O_NOFOLLOW | _platform.O_CLOEXEC
    return os.open(opened_dir, flags)


def _remove_stages(opened_dir: Path) -> None:
    for child in opened_dir.iterdir():
        if child.name.startswith(_STAGE):
            remove_path(child)


@contextlib.contextmanager
def staging_folder(opened_dir: Path) -> Iterator[Path]:
    """A private folder ``opened/.stage-…`` to open a bid into without the session lock; removed after.

    Its owner holds a shared ``flock`` on ``opened/`` while it lives, so that
    :func:`reconcile_opened` (under the session lock) removes staging
    folders only when no owner is alive: a killed owner's lock goes with it.
    An owner that finds no other alive first removes what dead ones left.
    What is moved out of the folder into ``opened/N`` (in the recording
    transaction) stays.
    """
    descriptor = _stage_lock(opened_dir)
    try:
        if _platform.lock_exclusive(descriptor):
            _remove_stages(opened_dir)
        _platform.lock_shared(descriptor)
        folder = opened_dir / f"{_STAGE}{os.getpid()}-{uuid.uuid4().hex}"
        folder.mkdir()
        try:
            yield folder
        finally:
            remove_path(folder)
    finally:
        os.close(descriptor)
