"""The inner bundle: a POSIX (pax) tar stream holding the signed manifest, then every file.

Layout, in this order and nothing else::

    bidcrypt/manifest.p7s         the CMS SignedData over the manifest JSON
    files/<path>                  each file of the manifest, in manifest order

pax headers carry the UTF-8 names exactly. Members are regular files with
mode 0644, owner 0, and the manifest's creation time as mtime, so the same
sources and manifest always give the same bundle bytes. Reading is strict:
any other member, type, order or size is refused before a byte of it is
written out.
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
from bidcrypt.i18n import pick
from bidcrypt.package.manifest import MAX_MANIFEST_SIZE, FileEntry, Manifest
from bidcrypt.package.paths import create_exclusive, target_under

MANIFEST_MEMBER = "bidcrypt/manifest.p7s"
FILES_PREFIX = "files/"
_CHUNK = 1 << 20


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
        pick(f"{entry.path} changed while it was being packed", f"{entry.path} 在打包过程中被修改")
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
            fileobj=stream, mode="r:" if stream.seekable() else "r|", encoding="utf-8", errors="strict"
        ) as tar:
            members = _members(tar)
            first = next(members, None)
            if first is None or first.name != MANIFEST_MEMBER or not first.isreg():
                raise ManifestError(
                    pick("the bundle does not start with its manifest", "文件包开头缺少文件清单")
                )
            if first.size > MAX_MANIFEST_SIZE:
                raise ManifestError(pick("manifest too large", "文件清单过大"))
            signed_manifest = _read_all(tar, first)
            manifest = check_manifest(signed_manifest)
            extracted = [_extract(tar, next(members, None), entry, destination) for entry in manifest.files]
            extra = next(members, None)
            if extra is not None:
                raise ManifestError(
                    pick(f"{extra.name} is not in the manifest", f"{extra.name} 不在文件清单中")
                )
    except (tarfile.TarError, EOFError, UnicodeError) as exc:
        raise ManifestError(
            pick(f"the bundle is damaged ({type(exc).__name__})", f"文件包已损坏（{type(exc).__name__}）")
        ) from exc
    return signed_manifest, manifest, extracted


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    yield from tar


def _read_all(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise ManifestError(pick("the manifest is not a file", "文件清单不是文件"))
    data = handle.read()
    if len(data) != member.size:
        raise ManifestError(pick("the bundle is truncated", "文件包不完整"))
    return data


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo | None, entry: FileEntry, destination: Path
) -> ExtractedFile:
    if member is None:
        raise ManifestError(pick(f"{entry.path} is missing", f"缺少文件 {entry.path}"))
    if member.name != FILES_PREFIX + entry.path:
        raise ManifestError(
            pick(
                f"found {member.name} where {entry.path} was expected",
                f"此处应为 {entry.path}，实为 {member.name}",
            )
        )
    if not member.isreg():
        raise UnsafePathError(
            pick("links and special files are refused", "不接受链接或特殊文件"), path=entry.path
        )
    if member.size != entry.size:
        raise ManifestError(
            pick(
                f"{entry.path} has {member.size} bytes, the manifest says {entry.size}",
                f"{entry.path} 大小为 {member.size} 字节，清单记录为 {entry.size}",
            )
        )
    source = tar.extractfile(member)
    if source is None:
        raise ManifestError(pick(f"{entry.path} is not a file", f"{entry.path} 不是文件"))
    target = target_under(destination, entry.path)
    digest = hashlib.sha256()
    written = 0
    descriptor = create_exclusive(target)
    with os.fdopen(descriptor, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > entry.size:
                break
            digest.update(chunk)
            out.write(chunk)
    if written != entry.size:
        raise ManifestError(pick(f"{entry.path} is truncated", f"{entry.path} 不完整"))
    if digest.hexdigest() != entry.sha256:
        raise ManifestError(
            pick(
                f"{entry.path} does not match its SHA-256 in the manifest",
                f"{entry.path} 与清单中的 SHA-256 不符",
            )
        )
    return ExtractedFile(entry, target)
