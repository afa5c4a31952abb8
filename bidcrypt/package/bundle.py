"""The inner bundle: a POSIX (pax) tar stream holding the signed manifest, then every file.

Layout, in this order and nothing else::

    bidcrypt/manifest.p7s         the CMS SignedData over the manifest JSON
    files/<path>                  each file of the manifest, in manifest order

pax headers carry the UTF-8 names exactly. Members are regular files with
mode 0644, owner 0, and the manifest's creation time as mtime, so the same
sources and manifest always give the same bundle bytes. Reading is strict:
any other member, order or size is refused before a byte of it is written
out, and so is any member that is not a plain regular file (type ``0``):
links, devices, GNU sparse files, and pax records other than
:data:`PAX_KEYS` (a pax 0.1 sparse file declares gigabytes of zeros in a
few bytes).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bidcrypt.errors import ManifestError, PackageError, UnsafePathError
from bidcrypt.files import input_error, open_input
from bidcrypt.i18n import Text
from bidcrypt.package.manifest import MAX_MANIFEST_SIZE, FileEntry, Manifest
from bidcrypt.package.paths import create_exclusive, target_under, visible, write_error

MANIFEST_MEMBER = "bidcrypt/manifest.p7s"
FILES_PREFIX = "files/"
_CHUNK = 1 << 20
#: The pax extended-header records a reader accepts: names, size and the ordinary attributes.
#: Anything else (``GNU.sparse.*``, ``linkpath``, ``hdrcharset``, vendor records) is refused.
PAX_KEYS = frozenset({"path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"})
#: The largest extended header read (pax records, a GNU long name): a name needs at most 4 KiB.
MAX_EXTENDED_HEADER = 64 << 10
#: Extended headers in a row before one member (a global pax header, then the member's own).
MAX_EXTENDED_CHAIN = 4


def _member(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = int(mtime)
    info.type = tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _padding(size: int, unit: int = tarfile.BLOCKSIZE) -> bytes:
    return b"\0" * (-size % unit)


class BundleReader:
    """The bundle as a readable stream, produced on demand: nothing is held but one chunk.

    The encryptor pulls from it; every file is hashed again while it is read,
    and a file that changed since the manifest was made stops the packing.
    """

    def __init__(self, signed_manifest: bytes, manifest: Manifest, sources: dict[str, Path]) -> None:
        self._chunks = self._generate(signed_manifest, manifest, sources)
        self._buffer = b""
        self._offset = 0
        self.size = 0

    def _generate(
        self, signed_manifest: bytes, manifest: Manifest, sources: dict[str, Path]
    ) -> Iterator[bytes]:
        mtime = manifest.created.timestamp()
        written = 0

        def block(data: bytes) -> bytes:
            nonlocal written
            written += len(data)
            return data

        yield block(_member(MANIFEST_MEMBER, len(signed_manifest), mtime).tobuf(tarfile.PAX_FORMAT, "utf-8"))
        yield block(signed_manifest + _padding(len(signed_manifest)))
        for entry in manifest.files:
            yield block(
                _member(FILES_PREFIX + entry.path, entry.size, mtime).tobuf(tarfile.PAX_FORMAT, "utf-8")
            )
            digest = hashlib.sha256()
            remaining = entry.size
            try:
                with open_input(sources[entry.path]) as handle:
                    while remaining:
                        chunk = handle.read(min(_CHUNK, remaining))
                        if not chunk:
                            raise _changed(entry)
                        digest.update(chunk)
                        remaining -= len(chunk)
                        yield block(chunk)
                    if handle.read(1):
                        raise _changed(entry)
            except OSError as exc:
                raise input_error(exc, sources[entry.path]) from exc
            if digest.hexdigest() != entry.sha256:
                raise _changed(entry)
            yield block(_padding(entry.size))
        end = b"\0" * (2 * tarfile.BLOCKSIZE)
        yield block(end + _padding(written + len(end), tarfile.RECORDSIZE))

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes of the bundle (all that is left when *size* is negative)."""
        wanted = sys.maxsize if size < 0 else size
        parts: list[bytes] = []
        count = 0
        while count < wanted:
            if self._offset >= len(self._buffer):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._buffer, self._offset = chunk, 0
            piece = self._buffer[self._offset : self._offset + wanted - count]
            self._offset += len(piece)
            count += len(piece)
            parts.append(piece)
        self.size += count
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill *buffer* as far as the bundle goes; return the count."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def write_bundle(out: BinaryIO, signed_manifest: bytes, manifest: Manifest, sources: dict[str, Path]) -> int:
    """Write the whole bundle to *out*; return its size."""
    reader = BundleReader(signed_manifest, manifest, sources)
    while chunk := reader.read(_CHUNK):
        out.write(chunk)
    return reader.size


def _changed(entry: FileEntry) -> PackageError:
    return PackageError(
        Text("{path} changed while it was being packed", "{path} 在打包过程中被修改", path=entry.path)
    )


@dataclass(frozen=True)
class ExtractedFile:
    """A file written out of a bundle, with what it really was."""

    entry: FileEntry
    target: Path


def read_bundle(
    stream: BinaryIO,
    destination: Path,
    check_manifest: Callable[[bytes], Manifest],
) -> tuple[bytes, Manifest, list[ExtractedFile]]:
    """Read a bundle, writing its files under *destination* (which must be empty).

    *check_manifest* receives the signed manifest bytes, verifies them and
    returns the manifest (raising otherwise); nothing is written before it
    has accepted them. Each file must come in manifest order with the
    manifest's size, and must hash to the manifest's SHA-256.
    """
    try:
        # A file is read by offsets (no copy through tarfile's stream buffer); a pipe as a stream.
        with tarfile.open(
            fileobj=stream,
            mode="r:" if stream.seekable() else "r|",
            encoding="utf-8",
            errors="strict",
            tarinfo=_Header,
        ) as tar:
            members = _members(tar)
            first = next(members, None)
            if first is None or first.name != MANIFEST_MEMBER:
                raise ManifestError(
                    Text("the bundle does not start with its manifest", "文件包开头缺少文件清单")
                )
            _check_plain(first)
            if first.size > MAX_MANIFEST_SIZE:
                raise ManifestError(Text("manifest too large", "文件清单过大"))
            signed_manifest = _read_all(tar, first)
            manifest = check_manifest(signed_manifest)
            extracted = [_extract(tar, next(members, None), entry, destination) for entry in manifest.files]
            extra = next(members, None)
            if extra is not None:
                raise ManifestError(
                    Text("{name} is not in the manifest", "{name} 不在文件清单中", name=visible(extra.name))
                )
    except (tarfile.TarError, EOFError, UnicodeError, ValueError, OverflowError) as exc:
        # tarfile's header parsing lets these out (a pax number it cannot read, a bad sparse map).
        raise ManifestError(
            Text(
                "the bundle is damaged ({exc_name})",
                "文件包已损坏（{exc_name}）",
                exc_name=type(exc).__name__,
            )
        ) from exc
    return signed_manifest, manifest, extracted


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    yield from tar


class _Header(tarfile.TarInfo):
    """tarfile's header parsing, refusing before tarfile acts on them: sparse files (whose maps expand
    to any size, and are read whole), extended headers larger than a name needs (read whole), and
    chains of extended headers (parsed by recursion)."""

    def _proc_pax(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        return self._extended(archive, super()._proc_pax)  # type: ignore[misc]

    def _proc_gnulong(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        return self._extended(archive, super()._proc_gnulong)  # type: ignore[misc]

    def _extended(
        self, archive: tarfile.TarFile, process: Callable[[tarfile.TarFile], tarfile.TarInfo]
    ) -> tarfile.TarInfo:
        if self.size > MAX_EXTENDED_HEADER:
            raise ManifestError(
                Text(
                    "an extended header of {size} bytes in the bundle",
                    "文件包中的扩展头长达 {size} 字节",
                    size=self.size,
                )
            )
        depth = getattr(archive, "_bidcrypt_chain", 0)
        if depth >= MAX_EXTENDED_CHAIN:
            raise ManifestError(Text("extended headers chained in the bundle", "文件包中扩展头连续出现"))
        archive._bidcrypt_chain = depth + 1  # type: ignore[attr-defined]
        try:
            return process(archive)
        finally:
            archive._bidcrypt_chain = depth  # type: ignore[attr-defined]

    def _proc_sparse(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        raise _sparse(self.name)

    def _proc_gnusparse_00(self, following: tarfile.TarInfo, *_: object) -> None:
        raise _sparse(following.name)

    def _proc_gnusparse_01(self, following: tarfile.TarInfo, *_: object) -> None:
        raise _sparse(following.name)

    def _proc_gnusparse_10(self, following: tarfile.TarInfo, *_: object) -> None:
        raise _sparse(following.name)


def _sparse(name: str) -> UnsafePathError:
    return _not_plain(name, Text("a GNU sparse file", "GNU 稀疏文件"))


def _not_plain(name: str, what: Text) -> UnsafePathError:
    return UnsafePathError(
        Text(
            "the member is {what}; only plain regular files are allowed (no links, devices, "
            "sparse files or extensions)",
            "该成员为{what}；只允许普通文件（不允许链接、设备、稀疏文件或扩展）",
            what=what,
        ),
        path=visible(name),
    )


def _check_plain(member: tarfile.TarInfo) -> None:
    """Refuse a member that is not a plain regular file (see the module docstring)."""
    what: Text | None = None
    if member.type == tarfile.GNUTYPE_SPARSE or member.sparse is not None:
        what = Text("a GNU sparse file", "GNU 稀疏文件")
    elif member.type != tarfile.REGTYPE:
        what = Text("of type {type}", "类型为 {type}", type=repr(member.type))
    else:
        extra = sorted(set(member.pax_headers) - PAX_KEYS)
        if extra:
            shown = visible(", ".join(extra))[:200]
            what = Text("with pax records {shown}", "带有 pax 记录 {shown}", shown=shown)
    if what is not None:
        raise _not_plain(member.name, what)
    if member.size < 0:
        raise ManifestError(Text("{name} has a negative size", "{name} 大小为负", name=visible(member.name)))


def _read_all(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise ManifestError(Text("the manifest is not a file", "文件清单不是文件"))
    data = handle.read()
    if len(data) != member.size:
        raise ManifestError(Text("the bundle is truncated", "文件包不完整"))
    return data


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo | None, entry: FileEntry, destination: Path
) -> ExtractedFile:
    if member is None:
        raise ManifestError(Text("{path} is missing", "缺少文件 {path}", path=entry.path))
    if member.name != FILES_PREFIX + entry.path:
        raise ManifestError(
            Text(
                "found {name} where {path} was expected",
                "此处应为 {path}，实为 {name}",
                name=visible(member.name),
                path=entry.path,
            )
        )
    _check_plain(member)
    if member.size != entry.size:
        raise ManifestError(
            Text(
                "{path} has {size} bytes, the manifest says {size2}",
                "{path} 大小为 {size} 字节，清单记录为 {size2}",
                path=entry.path,
                size=member.size,
                size2=entry.size,
            )
        )
    source = tar.extractfile(member)
    if source is None:
        raise ManifestError(Text("{path} is not a file", "{path} 不是文件", path=entry.path))
    try:
        target = target_under(destination, entry.path)
        descriptor = create_exclusive(target, entry.path)
    except OSError as exc:
        raise write_error(exc, entry.path, destination) from exc
    digest = hashlib.sha256()
    written = 0
    with os.fdopen(descriptor, "wb", buffering=0) as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > entry.size:
                break
            digest.update(chunk)
            _write_all(out, chunk, entry.path, destination)
    if written != entry.size:
        raise ManifestError(Text("{path} is truncated", "{path} 不完整", path=entry.path))
    if digest.hexdigest() != entry.sha256:
        raise ManifestError(
            Text(
                "{path} does not match its SHA-256 in the manifest",
                "{path} 与清单中的 SHA-256 不符",
                path=entry.path,
            )
        )
    return ExtractedFile(entry, target)


def _write_all(out: BinaryIO, data: bytes, path: str, destination: Path) -> None:
    """Write all of *data*; an :class:`OSError` becomes the error :func:`write_error` says."""
    view = memoryview(data)
    try:
        while view:
            view = view[out.write(view) or 0 :]
    except OSError as exc:
        raise write_error(exc, path, destination) from exc
