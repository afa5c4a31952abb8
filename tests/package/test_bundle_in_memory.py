"""The opening holds a small bid's decrypted bundle in memory instead of in the staging folder.

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
from bidcrypt.envelope import unwrap_content_key
from bidcrypt.errors import OutputError, PathRefusedError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import UnpackReport, open_content, read_package_info
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


def _open(
    pki: Pki, package: Path, output: Path, trust: TrustStore, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> tuple[UnpackReport, Any]:
    """Open *package* with its content key already unwrapped, as an opening worker does; the report
    and where the plaintext went."""
    outputs: list[Any] = []
    real = unpack_module.decrypt_content

    def spy(source: Any, header: Any, key: Any, sink: Any, **options: Any) -> Any:
        outputs.append(sink)
        return real(source, header, key, sink, **options)

    monkeypatch.setattr(unpack_module, "decrypt_content", spy)
    info = read_package_info(package)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        content_key = unwrap_content_key(info.header, key)
    report = open_content(
        package, info.header, content_key, info.attributes, output, trust, in_memory=in_memory
    )
    (sink,) = outputs
    return report, sink


def test_in_memory_or_through_the_staging_folder_the_same_checks_and_files(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = packer("bidder-a").output
    memory, sink = _open(pki, package, tmp_path / "memory", trust, monkeypatch, in_memory=True)
    assert not isinstance(sink, Path)  # never written to the staging folder
    monkeypatch.undo()
    disk, sink = _open(pki, package, tmp_path / "disk", trust, monkeypatch, in_memory=False)
    assert isinstance(sink, Path)
    assert memory.ok and disk.ok, (memory.to_dict(), disk.to_dict())
    assert [(c.name, c.ok) for c in memory.checks] == [(c.name, c.ok) for c in disk.checks]
    assert len(memory.checks) == 7
    assert _tree(tmp_path / "memory") == _tree(tmp_path / "disk") != {}
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".bidcrypt-unpack")] == []


def test_an_altered_bid_in_memory_fails_its_decryption_and_leaves_nothing(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = packer("bidder-a").output
    data = bytearray(package.read_bytes())
    content = read_package_info(package).header.content
    data[content.end - 16] ^= 0x01  # the last block of ciphertext: the GCM tag fails at the end
    altered = tmp_path / "altered.bid"
    altered.write_bytes(bytes(data))
    report, _ = _open(pki, altered, tmp_path / "out", trust, monkeypatch, in_memory=True)
    assert not report.ok and [c.name for c in report.checks] == ["decryption"]
    assert not (tmp_path / "out").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".bidcrypt-unpack")] == []


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
