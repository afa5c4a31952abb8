"""Benchmark: the national algorithms (SM2 unwrap, SM4-CBC decryption), measured in one run.

    python bench/gm.py [--tiny] [--json FILE] [--workdir DIR] [--workers N]

What it compares, each as a ratio within this one run (the machine is shared:
note ``uptime`` with the figures):

* **SM2 unwraps per second.** bidcrypt unwraps wrapped content keys (DER
  SM2Cipher) with the SM2 encryption key of ``sm2/bidder-a/enc`` through its
  key-source interface (``KeyEntry.sm2_decrypt``, as an opening does),
  against ``openssl speed -elapsed sm2`` (signatures per second: one scalar
  multiplication each, as an unwrap). Target: at least 0.8×.
* **SM4-CBC decryption.** The limits first: ``openssl speed -elapsed -evp
  sm4-cbc -decrypt`` and ``cryptography``'s SM4-CBC on a buffer in memory,
  each × the workers; the stricter (lower) one is the limit. Then bidcrypt
  decrypts a GM/T 0010 envelope of 1 GiB (``bidcrypt envelope decrypt``, one
  process: its peak RSS, target under 128 MiB) and 200 envelopes of 5 MiB
  in bulk (the workers side by side, one key source per worker, counting the
  key operations: exactly one per bid). Target: bulk at least 0.7× the limit.

``--tiny`` runs every part at small sizes (the test suite's smoke test).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from envelope import MiB, digest, make_file, run_process

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "fixtures" / "pki"
IDENTITY = "sm2/bidder-a/enc"
PASSWORD = "12345678"  # the fixtures' documented test password  # noqa: S105


def _open_entry() -> object:
    from bidcrypt import certs
    from bidcrypt.keys import PinSource, open_key_source

    source = open_key_source(str(PKI / f"{IDENTITY}.p12"), PinSource.of_value(PASSWORD))
    return source.entry(certs.Purpose.ENCRYPTION)


# --- SM2 -------------------------------------------------------------------------------------


def openssl_sm2_signs(seconds: int) -> float:
    """Signatures per second by ``openssl speed -elapsed sm2`` (wall clock, like ours)."""
    result = subprocess.run(
        ["openssl", "speed", "-elapsed", "-seconds", str(seconds), "sm2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if "SM2" in line and "bits" in line)
    return float(line.split()[-2])


def bidcrypt_sm2_unwraps(seconds: float) -> tuple[float, int]:
    """Unwraps per second through the key-source interface, and how many were done."""
    from bidcrypt import certs

    entry = _open_entry()
    public = certs.public_key(entry.certificate)  # type: ignore[attr-defined]
    wrapped = [public.encrypt(os.urandom(16)) for _ in range(64)]
    done = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        entry.sm2_decrypt(wrapped[done % len(wrapped)])  # type: ignore[attr-defined]
        done += 1
    return done / elapsed, done


# --- SM4 limits ------------------------------------------------------------------------------


def openssl_sm4_decrypt_mb_s(seconds: int) -> float:
    """MB/s of ``openssl speed -elapsed -evp sm4-cbc -decrypt`` on 1 MiB blocks, one process."""
    result = subprocess.run(
        ["openssl", "speed", "-elapsed", "-seconds", str(seconds), "-bytes", str(MiB),
         "-evp", "sm4-cbc", "-decrypt"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if line.upper().startswith("SM4-CBC"))
    return float(line.split()[-1].rstrip("k")) * 1000 / 1e6


def cryptography_sm4_decrypt_mb_s(size: int) -> float:
    """MB/s of ``cryptography``'s SM4-CBC decryption of *size* bytes in memory, 1 MiB at a time."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    data = os.urandom(MiB)
    decryptor = Cipher(algorithms.SM4(bytes(16)), modes.CBC(bytes(16))).decryptor()
    started = time.perf_counter()
    for _ in range(size // MiB):
        decryptor.update(data)
    return size / (time.perf_counter() - started) / 1e6


def _parallel_mb_s(function: object, argument: object, workers: int) -> float:
    """The sum of *function*(*argument*) run in *workers* processes side by side."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return float(sum(pool.map(function, [argument] * workers)))  # type: ignore[arg-type]


# --- envelopes -------------------------------------------------------------------------------


def make_envelopes(directory: Path, big_size: int, count: int, size: int) -> tuple[Path, str, list[Path]]:
    """A GM envelope of *big_size* bytes, and *count* of *size* bytes, to ``sm2/bidder-a/enc``."""
    from cryptography import x509

    from bidcrypt.envelope import EnvelopeBuilder

    certificate = x509.load_pem_x509_certificate((PKI / f"{IDENTITY}.pem").read_bytes())
    builder = EnvelopeBuilder().add_recipient(certificate)
    big = directory / "big.bin"
    make_file(big, big_size, 0)
    big_digest = digest(big)
    sealed = directory / "big.env"
    builder.encrypt_file(big, sealed)
    big.unlink()
    small = []
    for index in range(count):
        plain = directory / f"bid-{index:04d}.bin"
        make_file(plain, size, index + 1)
        builder.encrypt_file(plain, plain.with_suffix(".env"))
        plain.unlink()
        small.append(plain.with_suffix(".env"))
    return sealed, big_digest, small


def bulk_worker(listing: Path) -> tuple[int, int]:
    """Decrypt every envelope of *listing* with one key source; (bytes written, key operations)."""
    from bidcrypt.envelope import decrypt_file
    from bidcrypt.keys import PinSource, open_key_source

    operations = 0
    written = 0
    with open_key_source(str(PKI / f"{IDENTITY}.p12"), PinSource.of_value(PASSWORD)) as keys:
        for entry in keys.entries():
            original = entry.sm2_decrypt

            def counted(ciphertext: bytes, _original: object = original) -> bytes:
                nonlocal operations
                operations += 1
                return _original(ciphertext)  # type: ignore[operator, no-any-return]

            entry.sm2_decrypt = counted  # type: ignore[method-assign]
        for line in listing.read_text().splitlines():
            source = Path(line)
            output = source.with_suffix(".out")
            decrypt_file(source, output, keys, durable=False)
            written += output.stat().st_size
            output.unlink()
    return written, operations


def bulk_decrypt(envelopes: list[Path], workers: int, directory: Path) -> tuple[float, int, int]:
    """Decrypt *envelopes* in *workers* processes side by side: (seconds, bytes, key operations)."""
    listings = []
    for index in range(workers):
        listing = directory / f"worker-{index}.list"
        listing.write_text("".join(f"{path}\n" for path in envelopes[index::workers]))
        listings.append(listing)
    os.sync()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        started = time.perf_counter()
        results = pool.map(bulk_worker, listings)
        seconds = time.perf_counter() - started
    return seconds, sum(r[0] for r in results), sum(r[1] for r in results)


# --- the report ------------------------------------------------------------------------------


def benchmark(directory: Path, tiny: bool, workers: int) -> dict[str, object]:
    """Every measurement of one run, with the ratios against the targets."""
    seconds = 1 if tiny else 5
    openssl_signs = openssl_sm2_signs(seconds)
    unwraps, unwrap_count = bidcrypt_sm2_unwraps(seconds)
    big_size, count, size = (4 * MiB, 8, 256 * 1024) if tiny else (1 << 30, 200, 5 * MiB)
    openssl_sm4 = openssl_sm4_decrypt_mb_s(seconds) * workers
    in_memory = _parallel_mb_s(cryptography_sm4_decrypt_mb_s, (16 if tiny else 256) * MiB, workers)
    limit = min(openssl_sm4, in_memory)
    sealed, big_digest, envelopes = make_envelopes(directory, big_size, count, size)
    out = directory / "big.out"
    env = dict(os.environ, BIDCRYPT_PIN=PASSWORD)
    big_seconds, big_rss = run_process(
        [sys.executable, "-m", "bidcrypt", "envelope", "decrypt", str(sealed), "-o", str(out),
         "--key", str(PKI / f"{IDENTITY}.p12")],
        env,
    )  # fmt: skip
    assert digest(out) == big_digest, "the large envelope decrypted wrong"
    out.unlink()
    bulk_seconds, bulk_bytes, operations = bulk_decrypt(envelopes, workers, directory)
    assert bulk_bytes == count * size, "the bulk decryption wrote the wrong number of bytes"
    bulk_mb_s = bulk_bytes / bulk_seconds / 1e6
    return {
        "load": os.getloadavg(),
        "workers": workers,
        "sm2": {
            "openssl_signs_per_second": round(openssl_signs, 1),
            "bidcrypt_unwraps_per_second": round(unwraps, 1),
            "unwraps_measured": unwrap_count,
            "ratio": round(unwraps / openssl_signs, 2),
            "target": 0.8,
        },
        "sm4_cbc": {
            "openssl_speed_mb_s_times_workers": round(openssl_sm4, 1),
            "cryptography_in_memory_mb_s_times_workers": round(in_memory, 1),
            "limit_mb_s": round(limit, 1),
            "large_envelope": {
                "bytes": big_size,
                "seconds": round(big_seconds, 3),
                "mb_s": round(big_size / big_seconds / 1e6, 1),
                "peak_rss_mib": round(big_rss, 1),
                "rss_target_mib": 128,
            },
            "bulk": {
                "bids": count,
                "bytes_each": size,
                "seconds": round(bulk_seconds, 3),
                "mb_s": round(bulk_mb_s, 1),
                "ratio_to_limit": round(bulk_mb_s / limit, 2),
                "target": 0.7,
                "key_operations": operations,
                "key_operations_per_bid": operations / count,
            },
        },
    }


def table(report: dict[str, object]) -> str:
    """The report as plain text."""
    sm2 = report["sm2"]
    sm4 = report["sm4_cbc"]
    assert isinstance(sm2, dict) and isinstance(sm4, dict)
    big, bulk = sm4["large_envelope"], sm4["bulk"]
    load = ", ".join(f"{value:.2f}" for value in report["load"])  # type: ignore[attr-defined]
    return "\n".join(
        [
            f"load average {load}; {report['workers']} workers",
            f"SM2  openssl speed signs/s {sm2['openssl_signs_per_second']:>9}   "
            f"bidcrypt unwraps/s {sm2['bidcrypt_unwraps_per_second']:>9}   "
            f"ratio {sm2['ratio']}x (target >= {sm2['target']}x)",
            f"SM4-CBC limits MB/s: openssl speed x workers {sm4['openssl_speed_mb_s_times_workers']}, "
            f"cryptography in memory x workers {sm4['cryptography_in_memory_mb_s_times_workers']}, "
            f"stricter {sm4['limit_mb_s']}",
            f"large envelope {big['bytes'] // MiB} MiB: {big['seconds']} s, {big['mb_s']} MB/s, "
            f"peak RSS {big['peak_rss_mib']} MiB (target < {big['rss_target_mib']})",
            f"bulk {bulk['bids']} x {bulk['bytes_each'] // 1024} KiB: {bulk['seconds']} s, "
            f"{bulk['mb_s']} MB/s, "
            f"{bulk['ratio_to_limit']}x the limit (target >= {bulk['target']}x), "
            f"{bulk['key_operations_per_bid']} key operations per bid",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--workers", type=int, default=2, help="processes side by side (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--workdir", type=Path, help="where to put the files (default: a temporary directory)"
    )
    args = parser.parse_args(argv)
    if shutil.which("openssl") is None:
        print("openssl is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bidcrypt-gm-bench-", dir=args.workdir) as name:
        report = benchmark(Path(name), args.tiny, args.workers)
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
