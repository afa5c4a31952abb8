"""Benchmark: re-encryption costs the same for a small and a large package.

    python bench/reencrypt.py [--tiny] [--json FILE] [--workdir DIR]

Packs two bid packages for bidder A (1 KiB and 1 GiB of content; ``--tiny``:
1 KiB and 8 MiB), then re-encrypts each to the replaced certificate with the
old key (PKCS#12), several times, and reports the median time of each and
their ratio. The peer here is the small package itself: re-encryption only
unwraps and re-wraps the content key and copies the content, so the ratio
should stay near 1 however large the content (a copy of the file is all
that grows). For comparison, it also times a full decryption of the large
package (what re-encryption avoids).

Two ways are timed. To a new file: the content is copied by the kernel
(``copy_file_range``); on a file system that shares blocks between files
(XFS with reflink, Btrfs) the copy is a clone, block for block, and the
large package costs what the small one does; on ext4 it is a real copy and
grows with the size. In place (``reencrypt --in-place``): only the front and
the tail of the package are written, on any file system. ``--workdir``
picks the file system; the report names it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "fixtures" / "pki"
sys.path.insert(0, str(ROOT))

from bidcrypt.certs import load_certificate  # noqa: E402
from bidcrypt.envelope import decrypt_file  # noqa: E402
from bidcrypt.keys import PinSource, open_key_source  # noqa: E402
from bidcrypt.package import Summary, SummaryFile, pack, reencrypt_package  # noqa: E402
from bidcrypt.seal import SealKind, choose_entry  # noqa: E402

PASSWORD = "12345678"  # the fixtures' documented test password  # noqa: S105
MiB = 1 << 20


def make_package(directory: Path, size: int) -> Path:
    """A package of one attachment of *size* pseudo-random bytes."""
    source = directory / f"src-{size}"
    source.mkdir()
    with (source / "drawings.bin").open("wb") as out:
        block = os.urandom(MiB)
        remaining = size
        while remaining:
            out.write(block[: min(MiB, remaining)])
            remaining -= min(MiB, remaining)
    output = directory / f"package-{size}.bid"
    with open_key_source(str(PKI / "bidder-a/sign.p12"), PinSource.of_value(PASSWORD)) as signer:
        pack(
            source,
            output,
            tender="BENCH",
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=[load_certificate(PKI / "bidder-a/enc.pem")],
            summary=SummaryFile(Summary()),
        )
    return output


def time_reencrypt(package: Path, directory: Path, repeat: int) -> float:
    """Median seconds of re-encrypting *package* to the replaced certificate (PKCS#12 old key)."""
    new = load_certificate(PKI / "bidder-a/enc-replaced.pem")
    times = []
    with open_key_source(str(PKI / "bidder-a/enc.p12"), PinSource.of_value(PASSWORD)) as old:
        old.entries()  # decrypt the PKCS#12 file once, outside the timing
        for round_ in range(repeat):
            output = directory / f"{package.stem}-re{round_}.bid"
            start = time.perf_counter()
            reencrypt_package(package, output, old, new)
            times.append(time.perf_counter() - start)
            output.unlink()
    return statistics.median(times)


def time_in_place(package: Path, repeat: int) -> float:
    """Median seconds of re-encrypting *package* in place, to the replaced certificate and back."""
    keys = [(PKI / "bidder-a/enc.p12", PKI / "bidder-a/enc-replaced.pem")]
    keys.append((PKI / "bidder-a/enc-replaced.p12", PKI / "bidder-a/enc.pem"))
    sources = [open_key_source(str(key), PinSource.of_value(PASSWORD)) for key, _ in keys]
    certificates = [load_certificate(cert) for _, cert in keys]
    times = []
    try:
        for source in sources:
            source.entries()
        for round_ in range(repeat * 2):  # an even number of rounds: the package ends as it began
            start = time.perf_counter()
            reencrypt_package(package, None, sources[round_ % 2], certificates[round_ % 2])
            times.append(time.perf_counter() - start)
    finally:
        for source in sources:
            source.close()
    return statistics.median(times)


def time_decrypt(package: Path, directory: Path) -> float:
    """Seconds of decrypting the whole package (what re-encryption does not do)."""
    with open_key_source(str(PKI / "bidder-a/enc.p12"), PinSource.of_value(PASSWORD)) as key:
        key.entries()
        start = time.perf_counter()
        decrypt_file(package, directory / "plain.tar", key)
        elapsed = time.perf_counter() - start
    (directory / "plain.tar").unlink()
    return elapsed


def filesystem(path: Path) -> str:
    """The type of the file system *path* is on (from /proc/self/mounts; '?' where unknown)."""
    best, kind = "", "?"
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per measurement (median)")
    parser.add_argument(
        "--workdir", type=Path, help="where to put the packages (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    small, large = 1024, (8 * MiB if args.tiny else 1024 * MiB)
    with tempfile.TemporaryDirectory(dir=args.workdir) as temporary:
        directory = Path(temporary)
        kind = filesystem(directory)
        packages = {size: make_package(directory, size) for size in (small, large)}
        seconds = {
            size: time_reencrypt(package, directory, args.repeat) for size, package in packages.items()
        }
        in_place = {size: time_in_place(package, args.repeat) for size, package in packages.items()}
        decrypt_seconds = time_decrypt(packages[large], directory)
        sizes = {size: packages[size].stat().st_size for size in packages}
    ratio = seconds[large] / seconds[small]
    in_place_ratio = in_place[large] / in_place[small]
    result = {
        "filesystem": kind,
        "content_bytes": {"small": small, "large": large},
        "package_bytes": {"small": sizes[small], "large": sizes[large]},
        "reencrypt_seconds": {"small": seconds[small], "large": seconds[large]},
        "large_over_small": ratio,
        "in_place_seconds": {"small": in_place[small], "large": in_place[large]},
        "in_place_large_over_small": in_place_ratio,
        "full_decrypt_seconds_large": decrypt_seconds,
        "reencrypt_over_full_decrypt_large": seconds[large] / decrypt_seconds,
    }
    print(f"file system: {kind}")
    print(f"{'package':>10} {'content':>14} {'to a new file (median)':>24} {'in place (median)':>20}")
    for name, size in (("small", small), ("large", large)):
        print(f"{name:>10} {size:>14,} {seconds[size] * 1000:>21.1f} ms {in_place[size] * 1000:>17.1f} ms")
    print(f"{'large / small':>25} {ratio:>21.2f} x  {in_place_ratio:>17.2f} x")
    print(
        f"full decryption of the large one: {decrypt_seconds * 1000:.1f} ms; re-encryption to a new "
        f"file takes {seconds[large] / decrypt_seconds:.1%} of it, "
        f"in place {in_place[large] / decrypt_seconds:.1%}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
