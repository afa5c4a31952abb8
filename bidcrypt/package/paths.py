"""Safe relative paths inside a package, and writing them under an output folder.

A package path is ``/``-separated UTF-8 text, kept exactly as written (no
Unicode normalisation, so NFC and NFD names both come back as they went in).
Refused: empty, absolute, drive-letter or UNC forms, ``.`` and ``..``
components, backslashes, control characters, over-long names.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from bidcrypt.errors import UnsafePathError

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096


def check_relative_path(path: str) -> str:
    """Return *path* if it is a safe package path, else raise :class:`UnsafePathError`."""
    if not path or len(path.encode("utf-8", errors="surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafePathError("empty or too long", path=repr(path))
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise UnsafePathError("absolute paths are not allowed", path=path)
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in path):
        raise UnsafePathError("control characters are not allowed", path=repr(path))
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePathError("empty, . and .. components are not allowed", path=path)
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise UnsafePathError("a name is longer than 255 bytes", path=path)
    return path


def target_under(root: Path, path: str) -> Path:
    """The file *path* will be written to under *root*; refuses anything that leaves *root*."""
    check_relative_path(path)
    target = root.joinpath(*path.split("/"))
    resolved_root = root.resolve()
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(resolved_root) or parent.is_symlink():
        raise UnsafePathError("the path leaves the output folder", path=path)
    return target


def create_exclusive(target: Path) -> int:
    """Open a new file for writing; fail if anything (a file, a link) is already there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(target, flags, 0o644)
    except FileExistsError as exc:
        raise UnsafePathError("the same path appears twice", path=str(target.name)) from exc


def files_under(source: Path) -> list[tuple[str, Path]]:
    """Every regular file under *source* as (package path, file), sorted; links are refused."""
    if not source.is_dir():
        raise UnsafePathError("not a folder", path=str(source))
    found: list[tuple[str, Path]] = []
    for directory, folders, names in os.walk(source, followlinks=False):
        here = Path(directory)
        for name in folders:
            if (here / name).is_symlink():
                raise UnsafePathError("links are not packed", path=str(here / name))
        for name in names:
            file = here / name
            if file.is_symlink() or not file.is_file():
                raise UnsafePathError("only regular files are packed (no links or devices)", path=str(file))
            relative = file.relative_to(source).as_posix()
            found.append((check_relative_path(relative), file))
    found.sort(key=lambda item: item[0].encode("utf-8", errors="surrogateescape"))
    return found
