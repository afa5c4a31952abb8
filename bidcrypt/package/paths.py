"""Safe relative paths inside a package, and writing them under an output folder.

A package path is ``/``-separated UTF-8 text, kept exactly as written (no
Unicode normalisation, so NFC and NFD names both come back as they went in).
Refused: empty, absolute, drive-letter or UNC forms, ``.`` and ``..``
components, backslashes, control and format characters (a right-to-left
override would show ``invoice\\u202efdp.exe`` as ``invoiceexe.pdf``), line
and paragraph separators, over-long names, and more than
:data:`MAX_PATH_DEPTH` components.

A path within those limits may still be one the file system at hand cannot
hold (a name too long for it, bytes it does not store): that is the
package's :class:`~bidcrypt.errors.PathRefusedError`, while a full disk is
the machine's :class:`~bidcrypt.errors.OutputError` (see :func:`write_error`).
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path

from bidcrypt import _platform
from bidcrypt.errors import InputError, OutputError, PackageError, PathRefusedError, UnsafePathError
from bidcrypt.i18n import Text

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096
#: Folders nested deeper than this are refused (real bids use a handful).
MAX_PATH_DEPTH = 64
#: Unicode categories refused anywhere in a path, with their names for messages.
_REFUSED = {
    "Cc": ("control character", "控制字符"),
    "Cf": ("format character", "格式字符"),
    "Cs": ("surrogate", "代理字符"),
    "Zl": ("line separator", "行分隔符"),
    "Zp": ("paragraph separator", "段落分隔符"),
}
#: What a file system answers when it cannot hold a name or file of the package: the package's fault.
_REFUSED_BY_FILE_SYSTEM = frozenset(
    {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL, errno.EMLINK, errno.ENOTDIR, errno.EISDIR, errno.EFBIG}
)


def visible(text: str) -> str:
    """*text* with refused characters as ``\\uXXXX`` and undecodable bytes as ``\\xNN``, for messages."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in _REFUSED:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def check_relative_path(path: str) -> str:
    """Return *path* if it is a safe package path, else raise :class:`UnsafePathError`."""
    if not path:
        raise UnsafePathError(Text("empty path", "路径为空"), path=repr(path))
    shown = visible(path)
    if len(path.encode("utf-8", errors="surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafePathError(
            Text(
                "longer than {MAX_PATH_BYTES} bytes",
                "超过 {MAX_PATH_BYTES} 字节",
                MAX_PATH_BYTES=MAX_PATH_BYTES,
            ),
            path=shown[:200] + "…",
        )
    for ch in path:
        category = unicodedata.category(ch)
        if category in _REFUSED:
            en, zh = _REFUSED[category]
            what = f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
            raise UnsafePathError(
                Text(
                    "{en} {what} is not allowed in a name", "名称中不允许{zh} {what}", en=en, what=what, zh=zh
                ),
                path=shown,
            )
    if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise UnsafePathError(Text("absolute paths are not allowed", "不允许绝对路径"), path=shown)
    parts = path.split("/")
    if len(parts) > MAX_PATH_DEPTH:
        raise UnsafePathError(
            Text(
                "nested deeper than {MAX_PATH_DEPTH} folders",
                "文件夹嵌套超过 {MAX_PATH_DEPTH} 层",
                MAX_PATH_DEPTH=MAX_PATH_DEPTH,
            ),
            path=shown[:200] + "…",
        )
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePathError(
                Text("empty, . and .. components are not allowed", "不允许空、. 或 .. 路径段"), path=shown
            )
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise UnsafePathError(
                Text(
                    "a name is longer than {MAX_COMPONENT_BYTES} bytes",
                    "名称超过 {MAX_COMPONENT_BYTES} 字节",
                    MAX_COMPONENT_BYTES=MAX_COMPONENT_BYTES,
                ),
                path=shown,
            )
    return path


def write_error(exc: OSError, path: str, output: Path) -> PathRefusedError | OutputError:
    """What an :class:`OSError` met while writing the package's *path* under *output* means.

    A name or file the file system cannot hold is the package's
    (:class:`PathRefusedError`, naming *path*); everything else (disk full,
    quota, permissions, I/O) is the machine's :class:`OutputError`, and so
    is a file too large while this process has a limit on the size of the
    files it writes (``ulimit -f``): the limit, not the file system, is
    then what refuses it.
    """
    if exc.errno == errno.EFBIG and _platform.file_size_limited():
        return OutputError(exc.strerror or str(exc), path=output)
    if exc.errno in _REFUSED_BY_FILE_SYSTEM:
        return PathRefusedError(exc.strerror or str(exc), path=visible(path))
    return OutputError(exc.strerror or str(exc), path=output)


def target_under(root: Path, path: str) -> Path:
    """The file *path* will be written to under *root*, its folders made; nothing may leave *root*.

    Folders are made one by one (no recursion, however deep), and each must
    be a real folder: a link or file in the way is refused. An :class:`OSError`
    is left to the caller (see :func:`write_error`).
    """
    parts = check_relative_path(path).split("/")
    folder = root
    for part in parts[:-1]:
        folder = folder / part
        try:
            folder.mkdir()
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise UnsafePathError(
                    Text("a file or link is in the way of a folder", "文件夹的位置已被文件或链接占用"),
                    path=visible(path),
                ) from None
    return folder / parts[-1]


def create_exclusive(target: Path, path: str | None = None) -> int:
    """Open a new file for writing; fail if anything (a file, a link) is already there.

    *path* is the package path, for the message (by default the file's name).
    An :class:`OSError` other than an existing file is left to the caller.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _platform.O_NOFOLLOW
    try:
        return os.open(target, flags, 0o644)
    except FileExistsError as exc:
        # Two paths of the manifest that this file system takes for the same name (case, normalisation).
        raise UnsafePathError(
            Text("the same path appears twice", "同一路径出现两次"), path=visible(path or target.name)
        ) from exc


#: How ``pack --names-from`` reads the bytes of source file names that are not UTF-8.
NAME_ENCODINGS = {"utf-8": None, "gbk": "gb18030"}


def files_under(source: Path, names_from: str = "utf-8") -> list[tuple[str, Path]]:
    """Every regular file under *source* as (package path, file), sorted; links are refused.

    File names are UTF-8. With ``names_from="gbk"`` a name whose bytes are
    not UTF-8 (typical of a folder unzipped on Chinese Windows) is read as
    GBK (GB 18030) and goes into the package as UTF-8; names that are UTF-8
    stay as they are.
    """
    if names_from not in NAME_ENCODINGS:
        raise PackageError(
            Text("unknown name encoding {names_from}", "未知的名称编码 {names_from}", names_from=names_from)
        )
    if not source.is_dir():
        raise UnsafePathError(Text("not a folder", "不是文件夹"), path=str(source))
    found: dict[str, Path] = {}
    for directory, folders, names in os.walk(source, followlinks=False, onerror=_unreadable_folder):
        here = Path(directory)
        for name in folders:
            if (here / name).is_symlink():
                raise UnsafePathError(
                    Text("links are not packed", "不打包链接"), path=visible(str(here / name))
                )
        for name in names:
            file = here / name
            if file.is_symlink() or not file.is_file():
                raise UnsafePathError(
                    Text(
                        "only regular files are packed (no links or devices)",
                        "只打包普通文件（不含链接或设备）",
                    ),
                    path=visible(str(file)),
                )
            relative = _package_path(file.relative_to(source).as_posix(), file, NAME_ENCODINGS[names_from])
            if relative in found:
                raise UnsafePathError(
                    Text(
                        "{found} and {file} read as the same name",
                        "{found} 与 {file} 读取后名称相同",
                        found=visible(str(found[relative])),
                        file=visible(str(file)),
                    ),
                    path=relative,
                )
            found[check_relative_path(relative)] = file
    return sorted(found.items(), key=lambda item: item[0].encode("utf-8"))


def _unreadable_folder(exc: OSError) -> None:
    """A folder that cannot be listed is refused: its files would silently be missing from the package."""
    raise InputError(exc.strerror or str(exc), path=_shown_file(Path(exc.filename or "")))


def _package_path(relative: str, file: Path, encoding: str | None) -> str:
    """The package path of *file*: each name as UTF-8 text, or read as *encoding* when it is not UTF-8."""
    return "/".join(_name(part, file, encoding) for part in relative.split("/"))


def _name(part: str, file: Path, encoding: str | None) -> str:
    if not _undecodable(part):
        return part
    raw = os.fsencode(part)
    if encoding is None:
        guess = raw.decode("gb18030", errors="replace")
        raise UnsafePathError(
            Text(
                "the name is not UTF-8 (read as GBK it would be {guess}); if the folder came from "
                "Chinese Windows, pack with --names-from gbk",
                "名称不是 UTF-8 编码（按 GBK 读取为 {guess}）；若文件夹来自中文 Windows，"
                "请加 --names-from gbk 打包",
                guess=visible(guess),
            ),
            path=_shown_file(file),
        )
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnsafePathError(
            Text("the name is neither UTF-8 nor GBK", "名称既不是 UTF-8 也不是 GBK 编码"),
            path=_shown_file(file),
        ) from exc


def _undecodable(part: str) -> bool:
    """True when *part* holds bytes that were not UTF-8 (surrogate escapes of :func:`os.fsdecode`)."""
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in part)


def _shown_file(file: Path) -> str:
    """*file* for a message: a name that is not UTF-8 as its bytes (``\\xcd\\xb6``), as ``ls -b`` would."""
    return "/".join(
        "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in os.fsencode(part))
        if _undecodable(part)
        else visible(part)
        for part in str(file).split("/")
    )
