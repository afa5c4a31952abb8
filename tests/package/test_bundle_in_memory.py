"""A small package's decrypted bundle is held in memory; a large one goes through the staging folder.

Both ways give the same checks and the same files. A file too large under
a ``ulimit -f`` is the machine's failure (the limit refuses it, not the
file system), so an opening defers the bid instead of failing it.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bidcrypt import _platform
from bidcrypt.errors import OutputError, PathRefusedError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import unpack
from bidcrypt.package.paths import write_error
from bidcrypt.trust import TrustStore

from ..conftest import Pki
from .conftest import Packer

#: The module (the package exports a function of the same name).
unpack_module = importlib.import_module("bidcrypt.package.unpack")


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_bundle_in_memory_or_on_disk_opens_the_same(
    pki: Pki,
    packer: Packer,
    trust: TrustStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_memory: bool,
) -> None:
    package = packer("bidder-a").output
    if not in_memory:
        monkeypatch.setattr(unpack_module, "IN_MEMORY_BUNDLE", 0)
    outputs: list[Any] = []
    real = unpack_module.decrypt_content

    def spy(source: Any, header: Any, key: Any, output: Any, **options: Any) -> Any:
        outputs.append(output)
        return real(source, header, key, output, **options)

    monkeypatch.setattr(unpack_module, "decrypt_content", spy)
    with open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key:
        report = unpack(package, tmp_path / "out", key, trust)
    assert report.ok, report.to_dict()
    assert [c.name for c in report.checks][:1] == ["decryption"] and len(report.checks) == 7
    (output,) = outputs
    assert isinstance(output, Path) is not in_memory  # the staging folder's bundle only when large
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".bidcrypt-unpack")] == []
    assert _tree(tmp_path / "out")


def test_both_ways_give_the_same_files(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = packer("bidder-a").output
    with open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key:
        assert unpack(package, tmp_path / "memory", key, trust).ok
        monkeypatch.setattr(unpack_module, "IN_MEMORY_BUNDLE", 0)
        assert unpack(package, tmp_path / "disk", key, trust).ok
    assert _tree(tmp_path / "memory") == _tree(tmp_path / "disk")


def test_a_file_too_large_is_the_packages_unless_a_ulimit_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    too_large = OSError(errno.EFBIG, "File too large")
    monkeypatch.setattr(_platform, "file_size_limited", lambda: False)
    assert isinstance(write_error(too_large, "a.bin", tmp_path), PathRefusedError)
    monkeypatch.setattr(_platform, "file_size_limited", lambda: True)
    assert isinstance(write_error(too_large, "a.bin", tmp_path), OutputError)


def _no_file_size_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limited_reads_the_process_limit() -> None:
    program = (
        "import resource\n"
        "from bidcrypt import _platform\n"
        "before = _platform.file_size_limited()\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))\n"
        "print(before, _platform.file_size_limited())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_no_file_size_limit,
    )
    assert result.stdout.split() == ["False", "True"]
