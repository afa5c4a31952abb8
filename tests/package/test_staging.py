"""Unpack's staging folder: gone after Ctrl-C; left by a killed process, cleaned by the next unpack.

Only folders that provably are bidcrypt's stale staging are removed: the
exact name, a real folder of the same user, and a lock file that nobody
holds. A live unpack's folder, anything else with a similar name, and
anything that is not a folder are left alone.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bidcrypt.package.staging import LOCK, PREFIX, Staging, clean_stale

from ..conftest import Pki
from . import hostile


def _staging_folders(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.startswith(".bidcrypt-unpack"))


def _stale(parent: Path, name: str = f"{PREFIX}999999-abc") -> Path:
    """A staging folder as a killed process leaves it: plaintext inside, its lock held by nobody."""
    folder = parent / name
    (folder / "files").mkdir(parents=True)
    (folder / LOCK).write_bytes(b"")
    (folder / "bundle").write_bytes(b"decrypted plaintext")
    return folder


def test_a_stale_staging_folder_is_removed(tmp_path: Path) -> None:
    stale = _stale(tmp_path)
    assert clean_stale(tmp_path) == [stale]
    assert not stale.exists()


def test_a_live_staging_folder_is_kept(tmp_path: Path) -> None:
    with Staging.create(tmp_path / "out") as live:
        assert live.root.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert clean_stale(tmp_path) == []  # its lock is held (by another open file: flock says so)
        assert live.root.exists()
    assert _staging_folders(tmp_path) == []


def test_only_provably_stale_staging_is_removed(tmp_path: Path) -> None:
    keep = []
    for name in (f"{PREFIX}1-abc.bak", f".x{PREFIX}1-abc", f"{PREFIX}abc-1", f"{PREFIX}1-ABC", "out"):
        keep.append(_stale(tmp_path, name))
    no_lock = tmp_path / f"{PREFIX}2-nolock"
    no_lock.mkdir()
    keep.append(no_lock)
    lock_is_link = _stale(tmp_path, f"{PREFIX}3-link")
    (lock_is_link / LOCK).unlink()
    (lock_is_link / LOCK).symlink_to(tmp_path / "elsewhere")
    keep.append(lock_is_link)
    lock_is_folder = _stale(tmp_path, f"{PREFIX}4-folder")
    (lock_is_folder / LOCK).unlink()
    (lock_is_folder / LOCK).mkdir()
    keep.append(lock_is_folder)
    target = _stale(tmp_path / "target")
    link = tmp_path / f"{PREFIX}5-link"
    link.symlink_to(target, target_is_directory=True)
    keep.append(link)
    a_file = tmp_path / f"{PREFIX}6-file"
    a_file.write_bytes(b"not a folder")
    keep.append(a_file)
    someone_else = _stale(tmp_path, f"{PREFIX}7-other")
    os.chown(someone_else, os.geteuid() + 1, -1)
    keep.append(someone_else)
    held = _stale(tmp_path, f"{PREFIX}8-held")
    descriptor = os.open(held / LOCK, os.O_RDWR)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    keep.append(held)
    try:
        assert clean_stale(tmp_path) == []
    finally:
        os.close(descriptor)
    assert all(os.path.lexists(path) for path in keep)
    assert (target / "bundle").exists()


def test_ctrl_c_during_unpack_leaves_nothing(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.package import unpack
    from bidcrypt.trust import TrustStore

    unpack_module = importlib.import_module("bidcrypt.package.unpack")

    package = hostile.write_package(pki, tmp_path / "p.bid", [("a.txt", b"a" * 100_000)])

    def interrupted(*_: object, **__: object) -> None:
        assert _staging_folders(tmp_path)  # plaintext is there when the interrupt comes
        raise KeyboardInterrupt

    monkeypatch.setattr(unpack_module, "_check_seals", interrupted)
    with (
        open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key,
        pytest.raises(KeyboardInterrupt),
    ):
        unpack(package, tmp_path / "out", key, TrustStore.load([pki.roots, pki.intermediates]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.bid"]


# --- a real `bidcrypt unpack` process, interrupted and killed -----------------------------------------


@pytest.fixture(scope="module")
def big_package(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of 96 MiB: unpacking it takes long enough to be caught in the middle."""
    directory = tmp_path_factory.mktemp("big")
    data = os.urandom(1 << 20) * 96
    return hostile.write_package(pki, directory / "big.bid", [("图纸/drawing.bin", data), ("b.txt", b"b")])


def _unpack_process(pki: Pki, package: Path, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bidcrypt",
            "unpack",
            str(package),
            "-o",
            str(output),
            "--key",
            str(pki.p12("bidder-a/enc")),
            "--trust",
            str(pki.roots),
            "--trust",
            str(pki.intermediates),
        ],
        env={**os.environ, "BIDCRYPT_PIN": pki.pin},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _caught_with_plaintext(process: subprocess.Popen[bytes], parent: Path) -> Iterator[Path]:
    """Waits (without a clock) until the process has decrypted plaintext in its staging folder."""
    while process.poll() is None:
        for folder in _staging_folders(parent):
            if (folder / "bundle").exists() or any((folder / "files").glob("*")):
                yield folder
                return
    pytest.fail(f"the unpack ended before it could be caught: {process.communicate()}")


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_unpack_is_cleaned_by_the_next(
    pki: Pki, big_package: Path, tmp_path: Path, signal_number: int
) -> None:
    process = _unpack_process(pki, big_package, tmp_path / "out")
    caught = next(_caught_with_plaintext(process, tmp_path))
    process.send_signal(signal_number)
    _, stderr = process.communicate()
    assert not (tmp_path / "out").exists()
    if signal_number == signal.SIGINT:  # Ctrl-C (and SIGTERM, made to raise the same way): nothing left
        assert process.returncode == 130, stderr
        assert _staging_folders(tmp_path) == []
        return
    assert process.returncode == -signal.SIGKILL
    assert _staging_folders(tmp_path) == [caught]  # plaintext left behind: nobody could remove it
    done = _unpack_process(pki, big_package, tmp_path / "out")
    _, stderr = done.communicate()
    assert done.returncode == 0, stderr
    assert _staging_folders(tmp_path) == []
    assert (tmp_path / "out" / "图纸" / "drawing.bin").stat().st_size == 96 << 20


def test_a_file_system_without_locks_still_unpacks_and_is_never_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with Staging.create(tmp_path / "out") as staging:
        (staging.files / "a.txt").write_bytes(b"a")
        assert clean_stale(tmp_path) == []  # no lock can be taken: nothing is provably stale
        staging.publish(tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"a"
    assert _staging_folders(tmp_path) == []
    _stale(tmp_path)
    assert clean_stale(tmp_path) == []
