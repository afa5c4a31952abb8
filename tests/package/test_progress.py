"""The progress callback of pack and unpack: the bytes of the bundle encrypted, of the package decrypted."""

from __future__ import annotations

from pathlib import Path

from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import read_package_info, unpack
from bidcrypt.trust import TrustStore

from ..conftest import Pki
from .conftest import Packer


class Calls(list[tuple[int, int | None]]):
    """The progress calls, in order."""

    def __call__(self, done: int, total: int | None) -> None:
        self.append((done, total))


def test_pack_and_unpack_report_progress(pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path) -> None:
    packed = Calls()
    result = packer(progress=packed)
    done = [d for d, _ in packed]
    assert done == sorted(done) and len(packed) >= 2
    assert all(total is not None and d <= total for d, total in packed)
    # The last call has the whole bundle, done and total alike.
    assert packed[-1] == (result.bundle_size, result.bundle_size)

    unpacked = Calls()
    with open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key:
        report = unpack(result.output, tmp_path / "opened", key, trust, progress=unpacked)
    assert report.ok, report.to_dict()
    length = read_package_info(result.output).header.content.length
    assert unpacked and unpacked[-1] == (length, length)
    assert [d for d, _ in unpacked] == sorted(d for d, _ in unpacked)
