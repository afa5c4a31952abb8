"""Outputs: --force replaces a regular file only; stale temporary files of dead writers are cleaned."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bidcrypt.errors import OutputError, OutputExistsError
from bidcrypt.files import atomic_output, remove_stale_outputs

from .conftest import Pki

STALE = ".out.bin.bidcrypt-0123456789abcdef.part"


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _is_character_device(path: Path) -> bool:
    return stat.S_ISCHR(path.stat().st_mode)


def test_force_never_replaces_a_device() -> None:
    assert _is_character_device(Path("/dev/null"))
    for force in (False, True):
        with (
            pytest.raises((OutputError, OutputExistsError)) as caught,
            atomic_output("/dev/null", force=force),
        ):
            pytest.fail("the block must not run")
        if force:
            assert (
                "/dev/null: it is a character device; only a regular file is replaced, even with --force"
                in str(caught.value)
            )
    assert _is_character_device(Path("/dev/null"))
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(".null.")]


@pytest.mark.parametrize("kind", ["fifo", "directory", "link-to-device", "link-to-directory"])
def test_force_never_replaces_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "link-to-device":
        target.symlink_to("/dev/null")
    else:
        (tmp_path / "folder").mkdir()
        target.symlink_to(tmp_path / "folder")
    before = os.lstat(target)
    with (
        pytest.raises(OutputError, match="only a regular file is replaced") as caught,
        atomic_output(target, force=True) as sink,
    ):
        sink.write(b"plaintext")
    assert str(target) in str(caught.value)
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not [n for n in _names(tmp_path) if n.endswith(".part")]


def test_force_replaces_a_regular_file_or_a_link_not_its_target(tmp_path: Path) -> None:
    (tmp_path / "regular").write_bytes(b"old")
    (tmp_path / "target").write_bytes(b"kept")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name in ("regular", "link", "dangling"):
        with atomic_output(tmp_path / name, force=True) as sink:
            sink.write(b"new")
        assert (tmp_path / name).read_bytes() == b"new"
        assert not (tmp_path / name).is_symlink()
    assert (tmp_path / "target").read_bytes() == b"kept"


def test_a_device_that_appears_before_publishing_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(OutputError, match="FIFO"), atomic_output(target, force=True) as sink:
        sink.write(b"plaintext")
        os.mkfifo(target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert _names(tmp_path) == ["out"]


def test_a_stale_temporary_file_is_removed_by_the_next_output(tmp_path: Path) -> None:
    (tmp_path / STALE).write_bytes(b"half a plaintext")
    keep = [
        ".out.bin.bidcrypt-0123456789abcde.part",  # not a bidcrypt name (15 hex digits)
        ".out.bin.0123456789ab.part",  # the old name, whose writer held no lock: not provably stale
        "out.bin.bidcrypt-0123456789abcdef.part",  # no leading dot
        "notes.txt",
    ]
    for name in keep:
        (tmp_path / name).write_bytes(b"someone's")
    (tmp_path / ".d.bidcrypt-00000000000000aa.part").mkdir()  # a directory
    (tmp_path / ".l.bidcrypt-00000000000000bb.part").symlink_to(tmp_path / "notes.txt")  # a link
    with atomic_output(tmp_path / "new.bin") as sink:
        sink.write(b"x")
    assert STALE not in _names(tmp_path)
    assert set(_names(tmp_path)) == {
        *keep,
        ".d.bidcrypt-00000000000000aa.part",
        ".l.bidcrypt-00000000000000bb.part",
        "new.bin",
    }


def test_a_live_writers_temporary_file_is_kept(tmp_path: Path) -> None:
    live = tmp_path / STALE
    descriptor = os.open(live, os.O_WRONLY | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # as its writer holds it
        assert remove_stale_outputs(tmp_path) == 0
        assert live.exists()
    finally:
        os.close(descriptor)
    assert remove_stale_outputs(str(tmp_path)) == 1
    assert not live.exists()


def test_an_output_being_written_is_never_taken_for_stale(tmp_path: Path) -> None:
    with atomic_output(tmp_path / "out.bin") as sink:
        sink.write(b"first half")
        assert remove_stale_outputs(tmp_path) == 0
        sink.write(b", second half")
    assert _names(tmp_path) == ["out.bin"]
    assert (tmp_path / "out.bin").read_bytes() == b"first half, second half"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_another_users_temporary_file_is_kept(tmp_path: Path) -> None:
    (tmp_path / STALE).write_bytes(b"theirs")
    os.chown(tmp_path / STALE, 65534, 65534)
    assert remove_stale_outputs(tmp_path) == 0
    assert (tmp_path / STALE).exists()


def test_the_temporary_file_of_a_killed_writer_is_cleaned(tmp_path: Path) -> None:
    """A writer killed with SIGKILL leaves its .part; the next output into the folder removes it."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, os, signal\n"
            "from bidcrypt.files import atomic_output\n"
            "with atomic_output(sys.argv[1]) as sink:\n"
            "    sink.write(b'secret plaintext')\n"
            "    print(sink.temporary.name, flush=True)\n"
            "    signal.pause()\n",
            str(tmp_path / "out.bin"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    temporary = writer.stdout.readline().strip()
    assert _names(tmp_path) == [temporary]
    assert remove_stale_outputs(tmp_path) == 0  # alive: kept
    writer.kill()
    assert writer.wait() == -9
    assert _names(tmp_path) == [temporary]
    with atomic_output(tmp_path / "other.bin") as sink:
        sink.write(b"y")
    assert _names(tmp_path) == ["other.bin"]


def test_the_plaintext_backup_of_a_package_is_the_owners_only(tmp_path: Path, pki: Pki) -> None:
    from bidcrypt.certs import load_certificate
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.package import pack
    from bidcrypt.seal import SealKind, choose_entry

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "报价.txt").write_text("1234567.80", encoding="utf-8")
    old = os.umask(0o022)
    try:
        with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
            pack(
                tmp_path / "src",
                tmp_path / "bid.bid",
                tender="HBGP-2026-001",
                signer=choose_entry(source, SealKind.COMPANY),
                encrypt_to=[load_certificate(pki.cert("bidder-a/enc"))],
                backup=tmp_path / "bid.backup.tar",
                allow_unsealed=True,
            )
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "bid.backup.tar").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "bid.bid").stat().st_mode) == 0o644


def test_a_new_directory_on_a_reused_inode_is_still_cleaned(tmp_path: Path) -> None:
    """A removed directory's inode goes to the next one made: its cleaning is not skipped for that."""
    first = tmp_path / "first"
    first.mkdir()
    with atomic_output(first / "a.bin") as sink:
        sink.write(b"x")
    inode = first.stat().st_ino
    (first / "a.bin").unlink()
    first.rmdir()
    second = tmp_path / "second"
    for _ in range(50):  # most file systems hand the freed inode out again at once
        second.mkdir()
        if second.stat().st_ino == inode:
            break
        second.rmdir()
    else:
        pytest.skip("this file system did not reuse the inode")
    (second / STALE).write_bytes(b"half a plaintext")
    with atomic_output(second / "b.bin") as sink:
        sink.write(b"y")
    assert _names(second) == ["b.bin"]
