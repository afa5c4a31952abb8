"""Files in and out: complete-or-nothing outputs, inputs as InputError, ranges copied by the kernel."""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from pathlib import Path

import pytest

from bidcrypt.errors import InputError, OutputError, OutputExistsError
from bidcrypt.files import atomic_output, copy_range, open_input, read_input


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_an_output_appears_complete_and_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "out.bin"
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        synced.append(f"{kind}, published={output.exists()}")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_output(output) as sink:
        sink.write(b"complete")
        assert _names(tmp_path) == [sink.temporary.name]
        assert re.fullmatch(r"\.out\.bin\.bidcrypt-[0-9a-f]{16}\.part", sink.temporary.name)
    # the file is synced before it gets its name, the directory after (so the name is durable)
    assert synced == ["file, published=False", "directory, published=True"]
    assert output.read_bytes() == b"complete"
    # a batch writer may skip both syncs (and sync once at the end)
    with atomic_output(tmp_path / "batch.bin", durable=False) as sink:
        sink.write(b"one of many")
    assert len(synced) == 2
    assert (tmp_path / "batch.bin").read_bytes() == b"one of many"
    assert _names(tmp_path) == ["batch.bin", "out.bin"]


def test_long_output_names_keep_their_temporary_names_short(tmp_path: Path) -> None:
    name = "标" * 80 + ".pdf"  # 244 bytes: the longest names a file system takes leave no room to add to
    with atomic_output(tmp_path / name) as sink:
        assert len(sink.temporary.name.encode()) < 140
        sink.write(b"x")
    assert _names(tmp_path) == [name]


def test_a_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "out.bin") as sink:
        sink.write(b"half")
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_outputs_are_not_overwritten_unless_forced(tmp_path: Path) -> None:
    output = tmp_path / "out.bin"
    output.write_bytes(b"old")
    with pytest.raises(OutputExistsError), atomic_output(output):
        pass
    with atomic_output(output, force=True) as sink:
        sink.write(b"new")
    assert output.read_bytes() == b"new"
    assert _names(tmp_path) == ["out.bin"]


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    output = tmp_path / "out.bin"
    with pytest.raises(OutputExistsError), atomic_output(output) as sink:
        sink.write(b"mine")
        output.write_bytes(b"theirs")
    assert output.read_bytes() == b"theirs"
    assert _names(tmp_path) == ["out.bin"]


def test_private_outputs_are_the_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "plain", private=True) as sink:
            sink.write(b"secret")
        with atomic_output(tmp_path / "public") as sink:
            sink.write(b"envelope")
    finally:
        os.umask(old)
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "public").stat().st_mode & 0o777 == 0o644


def test_an_output_in_a_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError), atomic_output(tmp_path / "missing" / "out.bin"):
        pass


def test_inputs_fail_as_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        open_input(tmp_path / "missing")
    with pytest.raises(InputError):
        open_input(tmp_path)  # a directory
    (tmp_path / "small").write_bytes(b"12345")
    assert read_input(tmp_path / "small", max_size=5) == b"12345"
    with pytest.raises(InputError, match="too large"):
        read_input(tmp_path / "small", max_size=4, too_large="too large")


@pytest.mark.parametrize("declines_after", [None, 0, 1])
def test_copy_range_by_the_kernel_or_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declines_after: int | None
) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "source").write_bytes(data)
    real = os.copy_file_range
    calls: list[int] = []

    def copy_file_range(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        if declines_after is not None and len(calls) >= declines_after:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        calls.append(count)
        return real(src, dst, min(count, 1 << 20), offset_src)  # the kernel may copy less than asked

    monkeypatch.setattr(os, "copy_file_range", copy_file_range)
    with (tmp_path / "source").open("rb") as source, atomic_output(tmp_path / "copy") as sink:
        sink.write(b"head")
        assert copy_range(source, 1000, len(data) - 2000, sink) == len(data) - 2000
        sink.write(b"tail")
    assert (tmp_path / "copy").read_bytes() == b"head" + data[1000:-1000] + b"tail"
    assert len(calls) == {None: 4, 0: 0, 1: 1}[declines_after]
    if calls:
        # The first copy ends on a 64 KiB boundary of the source, so the rest can be cloned by blocks.
        assert calls[0] == (1 << 16) - 1000


def test_copy_range_without_files_and_past_the_end(tmp_path: Path) -> None:
    sink = io.BytesIO()
    assert copy_range(io.BytesIO(b"0123456789"), 2, 5, sink) == 5
    assert sink.getvalue() == b"23456"
    (tmp_path / "short").write_bytes(b"0123456789")
    with (tmp_path / "short").open("rb") as source, atomic_output(tmp_path / "copy") as out:
        assert copy_range(source, 4, 100, out) == 6  # the source ended first
    assert (tmp_path / "copy").read_bytes() == b"456789"
