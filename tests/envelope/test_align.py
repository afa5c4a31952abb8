"""Re-encryption keeps the ciphertext at its block offset, so file systems with shared blocks clone it.

The padding is empty BER segments; openssl must read it like bidcrypt
does, and on XFS with reflink the new file must take no room for the
content it shares with the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    _align,
    _ber,
    decrypt_file,
    read_header,
    reencrypt,
)
from bidcrypt.envelope._align import ContentFrame
from tests.conftest import require_tool

from .conftest import EC256, EC384, P12, RSA, Cert, OpensslOpen


@given(st.integers(0, 2 * _align.MAX_BLOCK).filter(lambda n: n != 1))
def test_padding_is_empty_segments_of_the_asked_size(size: int) -> None:
    data = _align.padding(size)
    assert len(data) == size
    position = 0
    while position < size:
        head = _ber.parse_head(data, position, size)
        assert head.is_(_ber.UNIVERSAL, _ber.OCTET_STRING, constructed=False) and head.length == 0
        position += head.header_length
    assert position == size


def test_there_is_no_padding_of_one_byte() -> None:
    with pytest.raises(ValueError):
        _align.padding(1)


@given(
    st.integers(0, 10_000),
    st.integers(0, 1 << 40),
    st.sampled_from([1, 512, 4096, 65536]),
    st.integers(0, 3),
)
def test_padding_for_reaches_the_offset_even_when_lengths_grow(
    front: int, target: int, block: int, growth: int
) -> None:
    def front_length(size: int) -> int:
        # Length octets that get longer as the padding grows, as definite lengths do.
        return front + size + growth * (size.bit_length() // 8)

    size = _align.padding_for(front_length, target, block)
    assert size != 1
    assert (front_length(size) - target) % block == 0
    assert size < 3 * block


@given(st.integers(0, 10_000), st.integers(0, 20_000), st.integers(0, 3))
def test_exact_padding_fills_the_room_or_says_it_cannot(front: int, target: int, growth: int) -> None:
    def front_length(size: int) -> int:
        return front + size + growth * (size.bit_length() // 8)

    size = _align.exact_padding(front_length, target)
    if size is None:
        # No fit: the front is already longer, or one byte short (no padding of one byte exists).
        assert front_length(0) > target or all(
            front_length(n) != target for n in range(0, target + 1) if n != 1
        )
    else:
        assert size != 1 and front_length(size) == target


def _ber_envelope(cert: Cert, path: Path, size: int, cipher: ContentCipher) -> Path:
    source = path.with_suffix(".bin")
    with source.open("wb") as out:
        for _ in range(size // (1 << 20)):
            out.write(os.urandom(1 << 20))
        out.write(os.urandom(size % (1 << 20)))
    builder = EnvelopeBuilder().set_cipher(cipher).set_chunk_size(1 << 20)
    builder.add_recipient(cert(RSA), key_transport=KeyTransport.PKCS1V15).encrypt_file(source, path)
    source.unlink()
    return path


def _padding_size(path: Path) -> int:
    with path.open("rb") as stream:
        frame = ContentFrame.read(stream, read_header(stream))
    return frame.dropped


@pytest.mark.openssl
def test_openssl_opens_envelopes_with_odd_and_even_padding(
    cert: Cert, p12: P12, openssl_open: OpensslOpen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = _ber_envelope(cert, tmp_path / "bid.p7m", 100_000, ContentCipher.AES_256_CBC)
    expected = openssl_open(sealed, RSA)
    seen: dict[int, Path] = {}
    for block in range(100, 110):  # small moduli: paddings of both parities
        monkeypatch.setattr(
            importlib.import_module("bidcrypt.envelope.reencrypt"),
            "block_size",
            lambda sink, block=block: block,
        )
        output = tmp_path / f"new-{block}.p7m"
        # Two recipients: a front longer than the source's, so that the padding follows the block
        # (one EC recipient with its ukm is 46 bytes shorter than the RSA one: 46 bytes fit any block).
        reencrypt(sealed, output, p12(RSA), [cert(EC256), cert(EC384)])
        size = _padding_size(output)
        if size:
            seen.setdefault(size % 2, output)
    assert set(seen) == {0, 1}
    for output in seen.values():
        assert openssl_open(output, EC256) == expected


@pytest.fixture(scope="module")
def xfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A loop-mounted XFS with reflink; skips where this machine may not mount (not root, a container)."""
    mkfs = require_tool("mkfs.xfs")
    if os.geteuid() != 0:
        pytest.skip("mounting a loop file system needs root")
    base = tmp_path_factory.mktemp("xfs")
    image, mount_point = base / "xfs.img", base / "mnt"
    mount_point.mkdir()
    with image.open("wb") as out:
        out.truncate(512 << 20)
    subprocess.run([mkfs, "-q", "-m", "reflink=1", str(image)], check=True, capture_output=True)
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount_point)], capture_output=True, text=True, check=False
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a loop file system here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            image.unlink()


def _used_bytes(path: Path) -> int:
    os.sync()
    stats = os.statvfs(path)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC], ids=str)
def test_reencryption_on_xfs_shares_the_content_blocks(
    cert: Cert, p12: P12, xfs: Path, tmp_path: Path, cipher: ContentCipher
) -> None:
    size = 64 << 20
    sealed = _ber_envelope(cert, xfs / f"bid-{cipher.value}.p7m", size, cipher)
    before = _used_bytes(xfs)
    reencrypt(sealed, xfs / f"new-{cipher.value}.p7m", p12(RSA), [cert(EC256)])
    grown = _used_bytes(xfs) - before
    assert grown < 1 << 20, f"the new envelope took {grown:,} bytes: the content was copied"
    decrypt_file(sealed, tmp_path / "old.bin", p12(RSA))
    decrypt_file(xfs / f"new-{cipher.value}.p7m", tmp_path / "new.bin", p12(EC256))
    digests = {hashlib.sha256(p.read_bytes()).digest() for p in (tmp_path / "old.bin", tmp_path / "new.bin")}
    assert len(digests) == 1
