"""The inner bundle: exact round trip of names and bytes; hostile tar streams refused before writing."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import tarfile
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.errors import BidcryptError, ManifestError, PackageError, UnsafePathError
from bidcrypt.package.bundle import MANIFEST_MEMBER, read_bundle, write_bundle
from bidcrypt.package.manifest import Bidder, FileEntry, Manifest, Role, Summary

NAMES = [
    "投标函.pdf",
    "技术标/施工组织设计/第一章 总体部署.pdf",
    "商务标/报价一览表.xlsx",
    unicodedata.normalize("NFC", "附件/Société-证书.pdf"),
    unicodedata.normalize("NFD", "附件/Société-证书.pdf"),
    "空文件.txt",
]


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, as a decryption pipe is."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


_STREAM_KIND = ["file"]


@pytest.fixture(autouse=True, params=["file", "pipe"])
def _stream_kind(request: pytest.FixtureRequest) -> None:
    """Every test reads its bundle from a seekable file and from a pipe (tarfile reads them differently)."""
    _STREAM_KIND[0] = request.param


def _stream(data: bytes) -> BinaryIO:
    return io.BytesIO(data) if _STREAM_KIND[0] == "file" else io.BufferedReader(_Pipe(data))


def _sources(tmp_path: Path) -> dict[str, Path]:
    sources = {}
    for index, name in enumerate(NAMES):
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"" if name == "空文件.txt" else (f"{index}:{name}".encode() * 1000))
        sources[name] = path
    return sources


def _manifest(sources: dict[str, Path]) -> Manifest:
    files = tuple(
        FileEntry(name, path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest(), Role.RESPONSE)
        for name, path in sources.items()
    )
    return Manifest(
        "T-1",
        None,
        Bidder("某公司", "91420100MA4KXB7Q09"),
        dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        Summary(),
        files,
    )


def _bundle(tmp_path: Path) -> tuple[bytes, Manifest, dict[str, Path]]:
    sources = _sources(tmp_path)
    manifest = _manifest(sources)
    out = io.BytesIO()
    write_bundle(out, b"SIGNED:" + manifest.to_bytes(), manifest, sources)
    return out.getvalue(), manifest, sources


def _accept(manifest: Manifest):  # type: ignore[no-untyped-def]
    def check(data: bytes) -> Manifest:
        assert data.startswith(b"SIGNED:")
        return Manifest.from_bytes(data[len(b"SIGNED:") :])

    return check


def test_round_trip_keeps_names_and_bytes(tmp_path: Path) -> None:
    data, manifest, sources = _bundle(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    _signed, read_manifest, extracted = read_bundle(_stream(data), out, _accept(manifest))
    assert read_manifest == manifest
    assert [e.entry.path for e in extracted] == NAMES
    for name, path in sources.items():
        assert (out.joinpath(*name.split("/"))).read_bytes() == path.read_bytes()
    # both Unicode forms of the same visible name came back, each as written
    assert len({e.target.name for e in extracted if "Soci" in e.target.name}) == 2


def test_same_input_same_bundle(tmp_path: Path) -> None:
    first, manifest, sources = _bundle(tmp_path)
    again = io.BytesIO()
    write_bundle(again, b"SIGNED:" + manifest.to_bytes(), manifest, sources)
    assert again.getvalue() == first


def test_a_file_changed_after_hashing_stops_the_packing(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    manifest = _manifest(sources)
    sources["投标函.pdf"].write_bytes(b"X" * sources["投标函.pdf"].stat().st_size)
    with pytest.raises(PackageError, match="changed while"):
        write_bundle(io.BytesIO(), b"m", manifest, sources)


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def _regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _one_file_manifest(path: str, data: bytes) -> Manifest:
    entry = FileEntry(path, len(data), hashlib.sha256(data).hexdigest(), Role.ATTACHMENT)
    return Manifest(
        "T",
        None,
        Bidder("某公司", "91420100MA4KXB7Q09"),
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        Summary(),
        (entry,),
    )


def _read(data: bytes, manifest: Manifest, out: Path) -> None:
    out.mkdir(exist_ok=True)
    read_bundle(_stream(data), out, lambda _: manifest)


def test_link_member_refused(tmp_path: Path) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    link = tarfile.TarInfo("files/a.pdf")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(UnsafePathError):
        _read(_tar([_regular(MANIFEST_MEMBER, b"m"), (link, b"")]), manifest, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_size_beyond_manifest_refused(tmp_path: Path) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    with pytest.raises(ManifestError, match="manifest says 1"):
        _read(
            _tar([_regular(MANIFEST_MEMBER, b"m"), _regular("files/a.pdf", b"xx")]), manifest, tmp_path / "o"
        )


def test_content_not_matching_hash_refused(tmp_path: Path) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    with pytest.raises(ManifestError, match="SHA-256"):
        _read(
            _tar([_regular(MANIFEST_MEMBER, b"m"), _regular("files/a.pdf", b"y")]), manifest, tmp_path / "o"
        )


@pytest.mark.parametrize("name", ["files/../a.pdf", "../a.pdf", "/a.pdf", "files/b.pdf"])
def test_unexpected_or_escaping_member_refused(tmp_path: Path, name: str) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    with pytest.raises(ManifestError):
        _read(_tar([_regular(MANIFEST_MEMBER, b"m"), _regular(name, b"x")]), manifest, tmp_path / "o")
    assert not (tmp_path / "a.pdf").exists()


def test_extra_member_and_missing_manifest(tmp_path: Path) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    extra = _tar([_regular(MANIFEST_MEMBER, b"m"), _regular("files/a.pdf", b"x"), _regular("files/b", b"")])
    with pytest.raises(ManifestError, match="not in the manifest"):
        _read(extra, manifest, tmp_path / "o1")
    with pytest.raises(ManifestError, match="start with its manifest"):
        _read(_tar([_regular("files/a.pdf", b"x")]), manifest, tmp_path / "o2")


def test_truncated_bundle(tmp_path: Path) -> None:
    data, manifest, _ = _bundle(tmp_path)
    with pytest.raises(ManifestError):
        _read(data[: len(data) // 2], manifest, tmp_path / "o")


def test_nothing_written_when_the_manifest_is_refused(tmp_path: Path) -> None:
    data, _, _ = _bundle(tmp_path)
    out = tmp_path / "o"
    out.mkdir()

    def refuse(_: bytes) -> Manifest:
        raise ManifestError("signature invalid")

    with pytest.raises(ManifestError):
        read_bundle(_stream(data), out, refuse)
    assert list(out.iterdir()) == []


# --- headers tarfile would act on before any check: refused while the header is read --------------


def _raw_header(name: str, kind: bytes, size: int, data: bytes = b"") -> bytes:
    """One header block of type *kind* declaring *size* (base-256 when large), then *data* padded."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")
    return header + data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def _pax_records(**records: str) -> bytes:
    out = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        length = len(body) + len(str(len(body)))
        length = len(body) + len(str(length))
        out += str(length).encode() + body
    return out


def _manifest_first(rest: bytes) -> bytes:
    return _tar([_regular(MANIFEST_MEMBER, b"m")])[: 2 * tarfile.BLOCKSIZE] + rest + b"\0" * 1024


def test_a_chain_of_2000_extended_headers_is_refused_not_recursed(tmp_path: Path) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    records = _pax_records(path="files/a.pdf")
    chain = _raw_header("././@PaxHeader", tarfile.XHDTYPE, len(records), records) * 2000
    data = _manifest_first(chain + _tar([_regular("x", b"x")])[: 2 * tarfile.BLOCKSIZE])
    with pytest.raises(ManifestError):
        _read(data, manifest, tmp_path / "o")


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME])
def test_an_extended_header_declaring_terabytes_is_refused_before_it_is_read(
    tmp_path: Path, kind: bytes
) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    data = _manifest_first(_raw_header("././@LongLink", kind, 1 << 40))
    with pytest.raises(ManifestError, match="extended header of 1099511627776 bytes"):
        _read(data, manifest, tmp_path / "o")


@pytest.mark.parametrize(
    "records",
    [
        {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": str(1 << 40)},
        {"GNU.sparse.size": str(1 << 40), "GNU.sparse.numblocks": "1"},
        {"GNU.sparse.map": "0," + str(1 << 40), "GNU.sparse.size": str(1 << 40)},
    ],
)
def test_pax_sparse_files_are_refused_before_their_map_is_read(
    tmp_path: Path, records: dict[str, str]
) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    pax = _pax_records(path="files/a.pdf", **records)
    member = _raw_header("././@PaxHeader", tarfile.XHDTYPE, len(pax), pax)
    member += _raw_header("files/a.pdf", tarfile.REGTYPE, 1024, b"1\n" * 512)  # a "map" tarfile would read
    with pytest.raises(UnsafePathError, match="GNU sparse file"):
        _read(_manifest_first(member), manifest, tmp_path / "o")


_MEMBER_TYPES = [bytes([c]) for c in b"0123456789LKSxgAVDMN\0"]
_PAX_KEYS = [
    "path",
    "size",
    "mtime",
    "linkpath",
    "hdrcharset",
    "comment",
    "GNU.sparse.map",
    "GNU.sparse.size",
    "GNU.sparse.major",
    "GNU.sparse.minor",
    "SCHILY.xattr.a",
]


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["files/a.pdf", "files/b", "files/../a.pdf", "a.pdf", MANIFEST_MEMBER]),
            st.sampled_from(_MEMBER_TYPES),
            st.dictionaries(
                st.sampled_from(_PAX_KEYS), st.sampled_from(["0", "1", "-1", "1,2", "x", "9" * 30])
            ),
            st.binary(max_size=20),
        ),
        max_size=3,
    )
)
def test_any_members_raise_only_bidcrypt_errors(
    tmp_path: Path, members: list[tuple[str, bytes, dict[str, str], bytes]]
) -> None:
    manifest = _one_file_manifest("a.pdf", b"x")
    built = []
    for name, kind, pax, data in members:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data)
        info.pax_headers = pax
        built.append((info, data))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(*_regular(MANIFEST_MEMBER, b"m")[:1], io.BytesIO(b"m"))
        for info, data in built:
            archive.addfile(info, io.BytesIO(data))
    destination = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        read_bundle(_stream(out.getvalue()), destination, lambda _: manifest)
    except BidcryptError:
        return
    # Accepted: then it was exactly the one plain file of the manifest.
    assert [(n, k) for n, k, _, _ in members] == [("files/a.pdf", tarfile.REGTYPE)]
    assert (destination / "a.pdf").read_bytes() == b"x"


@pytest.fixture(scope="module")
def honest_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Manifest]:
    data, manifest, _ = _bundle(tmp_path_factory.mktemp("honest"))
    return data, manifest


@settings(max_examples=300)
@given(st.data())
def test_mutated_bundles_raise_only_bidcrypt_errors(
    tmp_path: Path, honest_bundle: tuple[bytes, Manifest], data: st.DataObject
) -> None:
    bundle, _ = honest_bundle
    mutated = bytearray(bundle)
    for _ in range(data.draw(st.integers(1, 5))):
        if len(mutated) < tarfile.BLOCKSIZE:
            break
        # Mostly in the headers: the first 512 bytes of each member.
        block = data.draw(st.integers(0, len(mutated) // tarfile.BLOCKSIZE - 1))
        position = block * tarfile.BLOCKSIZE + data.draw(st.integers(0, 511))
        kind = data.draw(st.sampled_from(["flip", "digit", "type", "insert", "delete", "truncate"]))
        if kind == "flip":
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "digit":
            mutated[position] = data.draw(st.sampled_from(b"0179 \0\x80\xff"))
        elif kind == "type":
            mutated[block * tarfile.BLOCKSIZE + 156] = data.draw(st.sampled_from(b"0123456789LKSxgAV\0"))
        elif kind == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del mutated[position : position + data.draw(st.integers(1, 16))]
        else:
            del mutated[position:]

    def accept(signed: bytes) -> Manifest:
        if not signed.startswith(b"SIGNED:"):
            raise ManifestError("not the manifest")
        return Manifest.from_bytes(signed[len(b"SIGNED:") :])

    destination = Path(tempfile.mkdtemp(dir=tmp_path))
    with contextlib.suppress(BidcryptError):
        read_bundle(_stream(bytes(mutated)), destination, accept)


def test_the_tarfile_hooks_the_reader_overrides_exist() -> None:
    """The refusals above hook tarfile's header parsing: a Python whose tarfile renames them fails here."""
    from bidcrypt.package.bundle import _Header

    for name in ("_proc_pax", "_proc_gnulong", "_proc_sparse", "_proc_gnusparse_00", "_proc_gnusparse_01"):
        assert name in vars(tarfile.TarInfo) and name in vars(_Header), name
    assert "_proc_gnusparse_10" in vars(tarfile.TarInfo)
