"""Creating a session folder: all of it, or nothing.

A new folder is built under a hidden staging name beside the target and
renamed into place only when it is complete. An existing empty folder (one
an administrator prepared, perhaps a mount point) is filled in place; its
ledger is marked complete in the ledger's last transaction, and a session
without the mark is refused by every command. On any failure, Ctrl-C
included, what was made is removed. A staging folder left by a killed
``create`` is removed by the next ``create`` beside it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from bidcrypt.errors import InputError, OutputError, OutputExistsError
from bidcrypt.files import check_output, output_error, read_input
from bidcrypt.i18n import Text
from bidcrypt.opening.custody import RemoteSettings, prepare_keys, store_remote, write_opening_key
from bidcrypt.opening.escape import hidden_characters
from bidcrypt.opening.ledger import Ledger, now_text
from bidcrypt.opening.lock import SessionLock
from bidcrypt.opening.profile_make import PROFILE_FILE
from bidcrypt.trust import TrustStore

#: The folders of a session (see :mod:`bidcrypt.opening.session`).
SUBFOLDERS = ("trust", "submissions", "opened")
#: What a remote-opening session adds (docs/remote.md): the release key, the committee's shares, the profile.
REMOTE_CONTENT = ("keys", "custody", PROFILE_FILE)
_STAGING = re.compile(r"\.(?P<name>.*)\.bidcrypt-create-(?P<pid>[0-9]+)-[0-9a-f]+")
#: What a staging folder may hold; anything else and it is not ours to remove.
_STAGING_CONTENT = frozenset(
    {
        *SUBFOLDERS,
        *REMOTE_CONTENT,
        SessionLock.FILE_NAME,
        Ledger.FILE_NAME,
        f"{Ledger.FILE_NAME}-wal",
        f"{Ledger.FILE_NAME}-shm",
    }
)


def check_text(value: str, what_en: str, what_zh: str, directory: Path) -> None:
    """Refuse an empty identifier, or one with control or invisible formatting characters."""
    if not value.strip():
        raise InputError(
            Text("{what_en} is empty", "{what_zh}为空", what_en=what_en, what_zh=what_zh),
            path=directory,
        )
    found = hidden_characters(value)
    if found:
        raise InputError(
            Text(
                "{what_en} {value} contains control or invisible characters ({found})",
                "{what_zh} {value} 含有控制字符或不可见字符（{found}）",
                what_en=what_en,
                value=repr(value),
                found=found,
                what_zh=what_zh,
            ),
            path=directory,
        )


def checked_lots(lots: Sequence[str], directory: Path) -> tuple[str, ...]:
    """The lots, each once; a blank or repeated lot is refused."""
    seen: list[str] = []
    for lot in lots:
        check_text(lot, "a lot identifier", "标段编号", directory)
        if lot in seen:
            raise InputError(
                Text("the lot {lot} is given twice", "标段 {lot} 重复", lot=repr(lot)),
                path=directory,
            )
        seen.append(lot)
    return tuple(seen)


def build_session(
    directory: Path,
    *,
    tender: str,
    deadline: dt.datetime,
    opening_time: dt.datetime,
    trust: Sequence[Path],
    crls: Sequence[Path],
    lots: Sequence[str],
    max_package_size: int | None = None,
    remote: RemoteSettings | None = None,
) -> None:
    """Make the session folder *directory*, complete, or raise and leave nothing behind.

    Every session gets a random id (32 hex digits). With *remote* it also
    gets its keys and its signed profile (:mod:`bidcrypt.opening.custody`),
    and a new platform opening key is written to ``remote.opening_key_out``
    last, removed again if the session cannot be published.
    """
    check_text(tender, "the tender identifier", "招标项目编号", directory)
    if max_package_size is not None and max_package_size < 1:
        raise InputError(
            Text("the maximum package size must be at least 1 byte", "文件包大小上限至少为 1 字节"),
            path=directory,
        )
    unique_lots = checked_lots(lots, directory)
    for moment in (deadline, opening_time):
        if moment.tzinfo is None:
            raise InputError(
                Text("times need a time zone (e.g. +08:00)", "时间须带时区（如 +08:00）"), path=directory
            )
    if opening_time < deadline:
        raise InputError(
            Text("the opening time comes before the deadline", "开标时间早于投标截止时间"), path=directory
        )
    if remote is not None:
        remote.check()
        if remote.opening_key_out is not None:
            check_output(remote.opening_key_out, force=False)
    in_place = _require_free(directory)
    TrustStore.load(trust, crls)  # refuse a bad trust store now, not at the opening
    session_id = secrets.token_hex(16)
    created = dt.datetime.now(dt.UTC)
    keys = None
    if remote is not None:
        keys = prepare_keys(
            remote, session_id=session_id, tender=tender, created=created, opening_time=opening_time
        )

    def fill(ledger: Ledger, db: sqlite3.Connection) -> None:
        ledger.set_meta(db, "session_id", session_id)
        ledger.set_meta(db, "tender", tender)
        ledger.set_meta(db, "deadline", now_text(deadline))
        ledger.set_meta(db, "opening_time", now_text(opening_time))
        ledger.set_meta(db, "created_at", now_text(created))
        if max_package_size is not None:
            ledger.set_meta(db, "max_package_size", str(max_package_size))
        for lot in unique_lots:
            db.execute("INSERT INTO lots(id) VALUES (?)", (lot,))
        if remote is not None and keys is not None:
            store_remote(
                folder,
                ledger,
                db,
                remote,
                keys,
                session_id=session_id,
                tender=tender,
                lots=unique_lots,
                deadline=deadline,
                opening_time=opening_time,
            )

    key_out = remote.opening_key_out if remote is not None else None
    written = False
    try:
        with _building(directory, in_place) as folder:
            for name in SUBFOLDERS:
                _mkdir(folder / name)
            _new_file(folder / SessionLock.FILE_NAME)  # every session has its lock file from the start
            for index, path in enumerate(trust):
                _copy(path, folder / "trust" / f"ca-{index}.pem")
            for index, path in enumerate(crls):
                _copy(path, folder / "trust" / f"crl-{index}.crl")
            Ledger.create(folder, fill).close()
            for name in (*SUBFOLDERS, *(n for n in REMOTE_CONTENT if (folder / n).is_dir()), "."):
                sync_directory(folder / name)
            if key_out is not None and keys is not None and keys.opening is not None and remote is not None:
                write_opening_key(key_out, keys.opening, remote.opening_key_password or "")
                written = True
    except BaseException:
        if written and key_out is not None:
            _remove(key_out)
        raise


def _require_free(directory: Path) -> bool:
    """Refuse an existing file or non-empty folder; True when *directory* is an existing empty folder."""
    try:
        if directory.is_symlink() and not directory.exists():  # a dangling link: not ours to replace
            raise OutputExistsError(path=directory)
        if not directory.exists():
            return False
        if not directory.is_dir() or any(directory.iterdir()):
            raise OutputExistsError(path=directory)
    except OSError as exc:
        raise output_error(exc, directory) from exc
    return True


@contextlib.contextmanager
def _building(directory: Path, in_place: bool) -> Iterator[Path]:
    """The folder to build in; published (or kept) on success, removed on any failure."""
    if in_place:
        try:
            yield directory
        except BaseException:
            for name in (*SUBFOLDERS, *_STAGING_CONTENT):
                _remove(directory / name)
            raise
        return
    made = _make_parents(directory.parent)
    staging = None
    try:
        _remove_stale_staging(directory.parent)
        staging = _make_staging(directory)
        yield staging
        _publish(staging, directory)
        sync_directory(directory.parent)
    except BaseException:
        if staging is not None:
            _remove(staging)
        for parent in reversed(made):
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


def _make_parents(parent: Path) -> list[Path]:
    """Make the missing folders above the session; return them, top first."""
    missing = []
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    made: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            for done in reversed(made):
                with contextlib.suppress(OSError):
                    done.rmdir()
            raise output_error(exc, folder) from exc
        made.append(folder)
    return made


def _make_staging(directory: Path) -> Path:
    # The target's name, cut so the staging name stays within NAME_MAX (255 bytes) even in CJK.
    stem = directory.name[:40]
    while True:
        staging = directory.with_name(f".{stem}.bidcrypt-create-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise output_error(exc, directory) from exc
        return staging


def _publish(staging: Path, directory: Path) -> None:
    try:
        staging.rename(directory)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or (directory.exists() and not directory.is_dir()):
            raise OutputExistsError(path=directory) from exc
        raise output_error(exc, directory) from exc


def _remove_stale_staging(parent: Path) -> None:
    """Remove the staging folders of ``create`` runs that died (killed) beside the target."""
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            match = _STAGING.fullmatch(entry.name)
            if match is None or not entry.is_dir() or entry.is_symlink() or _alive(int(match["pid"])):
                continue
            if {child.name for child in entry.iterdir()} <= _STAGING_CONTENT:
                _remove(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mkdir(path: Path) -> None:
    try:
        path.mkdir()
    except OSError as exc:
        raise output_error(exc, path) from exc


def _new_file(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except OSError as exc:
        raise output_error(exc, path) from exc


def _copy(source: Path, target: Path) -> None:
    """Copy a trust file into the session, synced to the disk."""
    data = read_input(source)
    try:
        with target.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise output_error(exc, target) from exc


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def sync_directory(path: Path) -> None:
    """fsync a folder, so the names made in it survive a power loss."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise OutputError(exc.strerror or str(exc), path=path) from exc
