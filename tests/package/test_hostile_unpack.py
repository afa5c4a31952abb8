"""`bidcrypt unpack` of hostile packages (valid crypto, hostile content): clean refusals, nothing left.

Each package here is one a bidder could upload: the manifest is signed with a
real key of the fixture PKI and the envelope is encrypted to the bidder's own
certificate. Every refusal names what is wrong, exits with its documented
code, and leaves no output, staging folder or plaintext behind.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import ManifestError, OutputError, PathRefusedError, UnsafePathError
from bidcrypt.package.bundle import MANIFEST_MEMBER

from ..conftest import Pki, run_cli
from . import hostile


def _unpack(pki: Pki, package: Path, output: Path) -> Result:
    return run_cli(
        "unpack",
        package,
        "-o",
        output,
        "--key",
        pki.p12("bidder-a/enc"),
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
        env={"BIDCRYPT_PIN": pki.pin},
    )


def _left(directory: Path, *expected: str) -> list[str]:
    """Everything in *directory* (recursively, relative) but the *expected* names."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.name not in expected)


def _refused(pki: Pki, package: Path, code: int, *phrases: str) -> Result:
    output = package.parent / "out"
    result = _unpack(pki, package, output)
    assert result.exit_code == code, result.stderr
    assert "internal error" not in result.stderr
    for phrase in (*phrases, f"{package} was not unpacked"):
        assert phrase in result.stderr, result.stderr
    assert _left(package.parent, package.name) == []  # no output, no staging, no plaintext
    return result


@pytest.fixture
def work(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


def test_a_path_of_1000_nested_folders_is_refused(pki: Pki, work: Path) -> None:
    path = "/".join(["d"] * 999 + ["f.txt"])  # 2003 bytes: inside the 4096-byte limit
    package = hostile.write_package(pki, work / "deep.bid", [(path, b"x")])
    _refused(pki, package, exit_code_for(UnsafePathError), "nested deeper than 64 folders")


def test_a_path_64_folders_deep_unpacks(pki: Pki, work: Path) -> None:
    path = "/".join(["文件夹"] * 63 + ["f.txt"])
    package = hostile.write_package(pki, work / "deep.bid", [(path, b"deep")])
    result = _unpack(pki, package, work / "out")
    assert result.exit_code == 0, result.stderr
    assert (work / "out").joinpath(*path.split("/")).read_bytes() == b"deep"


def _package_with_manifest(pki: Pki, path: Path, manifest: bytes, files: list[tuple[str, bytes]]) -> Path:
    signed_manifest = hostile.sign(pki, manifest)
    path.write_bytes(hostile.envelope(pki, hostile.bundle(signed_manifest, files), signed_manifest))
    return path


def test_an_integer_of_5001_digits_is_refused(pki: Pki, work: Path) -> None:
    manifest = hostile.manifest_json([hostile.entry("a.txt", b"a")])
    manifest = manifest.replace(b'"size":1', b'"size":' + b"9" * 5001)
    package = _package_with_manifest(pki, work / "big.bid", manifest, [("a.txt", b"a")])
    _refused(pki, package, exit_code_for(ManifestError), "a number in the manifest is too long")


def test_200000_nested_arrays_are_refused(pki: Pki, work: Path) -> None:
    manifest = hostile.manifest_json([hostile.entry("a.txt", b"a")])
    manifest = manifest.replace(b'"lot":null', b'"lot":' + b"[" * 200_000 + b"]" * 200_000)
    package = _package_with_manifest(pki, work / "nested.bid", manifest, [("a.txt", b"a")])
    _refused(pki, package, exit_code_for(ManifestError), "nested deeper than 8")


def test_a_manifest_signed_by_the_legal_representative_is_refused(pki: Pki, work: Path) -> None:
    package = hostile.write_package(pki, work / "legal.bid", [("a.txt", b"a")], signer="bidder-a/legal")
    _refused(pki, package, exit_code_for(ManifestError), "a person's certificate", "company's signing")


def test_a_right_to_left_override_in_a_name_is_refused(pki: Pki, work: Path) -> None:
    package = hostile.write_package(pki, work / "rlo.bid", [("invoice\u202efdp.exe", b"MZ")])
    _refused(pki, package, exit_code_for(UnsafePathError), "format character U+202E", "invoice\\u202efdp.exe")


def _sparse_package(pki: Pki, path: Path, member: tuple[tarfile.TarInfo, bytes], declared: bytes) -> Path:
    signed_manifest = hostile.sign(pki, hostile.manifest_json([hostile.entry("zeros.bin", declared)]))
    content = hostile.tar([hostile.member(MANIFEST_MEMBER, signed_manifest), member])
    path.write_bytes(hostile.envelope(pki, content, signed_manifest))
    return path


def test_a_pax_sparse_member_declaring_gigabytes_is_refused(pki: Pki, work: Path) -> None:
    declared = b"\0" * (8 << 20)  # the manifest agrees with what the sparse map would expand to
    sparse = hostile.member(
        "files/zeros.bin",
        b"",
        pax_headers={"GNU.sparse.size": str(len(declared)), "GNU.sparse.map": f"{len(declared)},0"},
    )
    package = _sparse_package(pki, work / "sparse.bid", sparse, declared)
    assert package.stat().st_size < 20_000
    _refused(pki, package, exit_code_for(UnsafePathError), "GNU sparse file", "files/zeros.bin")


def test_a_gnu_sparse_member_is_refused(pki: Pki, work: Path) -> None:
    sparse = hostile.member("files/zeros.bin", b"", type=tarfile.GNUTYPE_SPARSE)
    package = _sparse_package(pki, work / "sparse.bid", sparse, b"")
    _refused(pki, package, exit_code_for(UnsafePathError), "GNU sparse file")


@pytest.mark.parametrize(
    "attributes",
    [
        {"pax_headers": {"linkpath": "/etc/passwd"}},
        {"pax_headers": {"hdrcharset": "BINARY"}},
        {"pax_headers": {"SCHILY.xattr.user.x": "y"}},
        {"type": tarfile.CONTTYPE},
        {"type": tarfile.AREGTYPE},
    ],
)
def test_other_member_types_and_pax_records_are_refused(
    pki: Pki, work: Path, attributes: dict[str, Any]
) -> None:
    package = _sparse_package(
        pki, work / "odd.bid", hostile.member("files/zeros.bin", b"", **attributes), b""
    )
    _refused(pki, package, exit_code_for(UnsafePathError), "only plain regular files are allowed")


# --- the file system: a full disk is the machine's, a name it cannot hold the package's ---------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: room for a 2 MiB bundle, not for the files extracted from it as well."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def test_a_disk_that_fills_up_during_unpack_is_an_output_error(
    pki: Pki, work: Path, small_disk: Path
) -> None:
    data = os.urandom(2 << 20)
    package = hostile.write_package(pki, work / "big.bid", [("drawing.bin", data)])
    result = _unpack(pki, package, small_disk / "out")
    assert result.exit_code == exit_code_for(OutputError), result.stderr
    assert "No space left on device" in result.stderr and str(small_disk / "out") in result.stderr
    assert list(small_disk.iterdir()) == []


def test_a_path_the_file_system_cannot_hold_is_the_package_s(pki: Pki, work: Path) -> None:
    """4096 bytes is the format's limit for the path inside the package, not for the output folder."""
    deep = work.joinpath(*(["x" * 200] * 15))  # about 3 KiB of folders
    deep.mkdir(parents=True)
    path = "/".join(["名" * 80] * 5) + ".txt"  # 1.2 KiB, every name 240 bytes: within the limits
    package = hostile.write_package(pki, work / "long.bid", [(path, b"x")])
    result = _unpack(pki, package, deep / "out")
    assert result.exit_code == exit_code_for(PathRefusedError), result.stderr
    assert "error[path-refused]" in result.stderr and "名" * 80 in result.stderr
    assert "File name too long" in result.stderr
    assert list(deep.iterdir()) == []


class _OsWith:
    """The :mod:`os` module with one function replaced (patched into one module of bidcrypt only)."""

    def __init__(self, **replaced: Any) -> None:
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name, getattr(os, name))


class _FullDisk:
    """An open output file on a disk over its quota."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, _: Any) -> int:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *_: object) -> None:
        self._real.close()


def test_a_quota_exceeded_during_unpack_is_an_output_error(
    pki: Pki, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bidcrypt.package import bundle

    monkeypatch.setattr(bundle, "os", _OsWith(fdopen=lambda *a, **k: _FullDisk(os.fdopen(*a, **k))))
    package = hostile.write_package(pki, work / "p.bid", [("a.txt", b"a" * 1000)])
    result = _unpack(pki, package, work / "out")
    assert result.exit_code == exit_code_for(OutputError), result.stderr
    assert "quota" in result.stderr.lower()
    assert _left(work, "p.bid") == []


def test_a_name_the_file_system_cannot_encode_is_the_package_s(
    pki: Pki, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bidcrypt.package import paths

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if "报价" in str(path):
            raise OSError(errno.EILSEQ, os.strerror(errno.EILSEQ), str(path))
        return os.open(path, *args, **kwargs)

    monkeypatch.setattr(paths, "os", _OsWith(open=refuse))
    package = hostile.write_package(pki, work / "p.bid", [("a.txt", b"a"), ("报价.txt", b"b")])
    result = _unpack(pki, package, work / "out")
    assert result.exit_code == exit_code_for(PathRefusedError), result.stderr
    assert "报价.txt" in result.stderr
    assert _left(work, "p.bid") == []


def test_open_content_classifies_the_failures(pki: Pki, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the opening: a full disk raises OutputError (the machine), a refused name is in the report."""
    from bidcrypt.envelope import unwrap_content_key
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.package import bundle, open_content, read_package_info
    from bidcrypt.trust import TrustStore

    trust = TrustStore.load([pki.roots, pki.intermediates])
    package = hostile.write_package(pki, work / "p.bid", [("a.txt", b"a")])
    info = read_package_info(package)
    with open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key:
        content_key = unwrap_content_key(info.header, key)
    with monkeypatch.context() as patch:
        patch.setattr(bundle, "os", _OsWith(fdopen=lambda *a, **k: _FullDisk(os.fdopen(*a, **k))))
        with pytest.raises(OutputError):
            open_content(package, info.header, content_key, info.attributes, work / "out", trust)
    with monkeypatch.context() as patch:
        patch.setattr(bundle, "target_under", _refusing_target)
        report = open_content(package, info.header, content_key, info.attributes, work / "out", trust)
    assert isinstance(report.error, PathRefusedError) and "a.txt" in report.error.message()
    assert _left(work, "p.bid") == []


def _refusing_target(root: Path, path: str) -> Path:
    raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))


def test_an_honest_package_of_the_helper_unpacks(pki: Pki, work: Path) -> None:
    """Sanity of the helper: an honest hostile-helper package unpacks (so the refusals above are real)."""
    package = hostile.write_package(pki, work / "ok.bid", [("a.txt", b"a"), ("技术标/b.txt", b"b")])
    result = _unpack(pki, package, work / "out")
    assert result.exit_code == 0, result.stderr
    assert (work / "out" / "技术标" / "b.txt").read_bytes() == b"b"
    assert (work / "out" / "a.txt").read_bytes() == b"a"
