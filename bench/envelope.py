"""Benchmark: bidcrypt's envelope engine against ``openssl cms``, measured in one run.

    python bench/envelope.py [--tiny] [--json FILE] [--workdir DIR]

Two workloads, both AES-256-GCM (AuthEnvelopedData) to the RSA-2048
encryption certificate of bidder A with RSA-OAEP (SHA-256), its key as a
file (PKCS#12 for bidcrypt, PEM for openssl):

* one large file (1 GiB; ``--tiny``: 4 MiB), encrypted and decrypted by
  ``bidcrypt envelope`` and by ``openssl cms``, each a process of its own;
* many small files (500 of 200 KiB; ``--tiny``: 20 of 8 KiB): bidcrypt
  in one process through the library (one key source, opened once), openssl
  once per file, as an official would script it.

Every process is timed from fork to exit and its peak RSS is read from
``wait4``; every output is checked against its input. The table compares
the two tools as ratios from this one run; ``--json`` writes the figures.

Before each job the page cache's dirty pages are flushed (``sync``), so no
job pays for the previous one's writes; inputs are read from the page cache.

Peak RSS: a process's ``ru_maxrss`` includes the memory of the process it
was forked from, so the jobs are started by a minimal launcher (``python -S``,
``fork``, reset of the high-water mark, ``exec``) instead of by this script.
Figures below the launcher's floor (about 6 MiB) read as the floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "fixtures" / "pki"
IDENTITY = "bidder-a/enc"
PASSWORD = "12345678"  # the fixtures' documented test password  # noqa: S105
MiB = 1 << 20


@dataclass
class Run:
    """One measured job (one process, or a loop of processes): median time, largest peak RSS."""

    workload: str
    operation: str
    tool: str
    processes: int
    seconds: float
    bytes: int
    peak_rss_mib: float
    #: Every round's seconds (``seconds`` is their median).
    samples: list[float]

    @property
    def mb_per_second(self) -> float:
        """Plaintext throughput, MB/s (10^6 bytes)."""
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0


#: Runs the commands of the JSON list in argv[1] one after the other, each forked from this small
#: process (its high-water mark reset before exec); prints total seconds and the largest peak RSS (KiB).
LAUNCHER = """
import json, os, sys, time
commands = json.load(open(sys.argv[1]))
total = 0.0
peak = 0
for args in commands:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        try:
            os.execvp(args[0], args)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    total += time.perf_counter() - started
    peak = max(peak, usage.ru_maxrss)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(args)}")
print(json.dumps([total, peak]))
"""


def run_loop(commands: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run processes one after the other; return (total seconds, largest peak RSS in MiB), or raise.

    Dirty pages are flushed first, so that no job pays for the writes of the one before.
    """
    os.sync()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as listing:
        json.dump(commands, listing)
        listing.flush()
        result = subprocess.run(
            [sys.executable, "-S", "-I", "-c", LAUNCHER, listing.name],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    seconds, peak = json.loads(result.stdout)
    return float(seconds), peak / 1024  # ru_maxrss is in KiB on Linux


def run_process(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run one process to completion; return (seconds, peak RSS in MiB). Raise if it fails."""
    return run_loop([args], env)


def make_file(path: Path, size: int, seed: int) -> None:
    """Write *size* pseudo-random bytes (AES-CTR keystream, fast and incompressible)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(f"bench-{seed}".encode()).digest()
    stream = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    block = bytes(min(size, 16 * MiB))
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(stream.update(block[:n]))
            left -= n


def digest(path: Path) -> str:
    """SHA-256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def bidcrypt_command(*args: str | Path) -> list[str]:
    """The bidcrypt command line, as a user runs it."""
    return [sys.executable, "-m", "bidcrypt", *map(str, args)]


def openssl_encrypt(source: Path, output: Path, stream: bool = False) -> list[str]:
    """``openssl cms -encrypt`` as the peer runs it: binary, DER, AES-256-GCM, RSA-OAEP-SHA256."""
    return [
        "openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", *(["-stream"] if stream else []),
        "-in", str(source), "-outform", "DER", "-out", str(output),
        "-recip", str(PKI / f"{IDENTITY}.pem"),
        "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
    ]  # fmt: skip


def openssl_decrypt(source: Path, output: Path) -> list[str]:
    """``openssl cms -decrypt`` with the PEM key."""
    return [
        "openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(source), "-out", str(output),
        "-inkey", str(PKI / f"{IDENTITY}.key.pem"), "-recip", str(PKI / f"{IDENTITY}.pem"),
    ]  # fmt: skip


# --- the in-process worker (bidcrypt, many files, one process) ------------------------------


def worker(mode: str, listing: Path) -> None:
    """Encrypt or decrypt every ``source<TAB>output`` pair of *listing* in this one process."""
    from cryptography import x509

    from bidcrypt.envelope import EnvelopeBuilder, KeyTransport, decrypt_file
    from bidcrypt.keys import PinSource, open_key_source

    pairs = [line.split("\t") for line in listing.read_text().splitlines() if line]
    if mode == "encrypt":
        certificate = x509.load_pem_x509_certificate((PKI / f"{IDENTITY}.pem").read_bytes())
        builder = EnvelopeBuilder().add_recipient(certificate, key_transport=KeyTransport.OAEP_SHA256)
        for source, output in pairs:
            builder.encrypt_file(Path(source), Path(output), durable=False)
        os.sync()  # one sync for the whole batch instead of one per file
        return
    with open_key_source(str(PKI / f"{IDENTITY}.p12"), PinSource.of_value(PASSWORD)) as keys:
        for source, output in pairs:
            decrypt_file(Path(source), Path(output), keys, durable=False)
    os.sync()


def run_worker(mode: str, pairs: list[tuple[Path, Path]], directory: Path) -> tuple[float, float]:
    listing = directory / f"{mode}.list"
    listing.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return run_process([sys.executable, str(Path(__file__).resolve()), "--worker", mode, str(listing)])


# --- the benchmark -------------------------------------------------------------------------


@dataclass
class Job:
    """One thing to measure: the commands of one round, and how to check and clean up after them."""

    workload: str
    operation: str
    tool: str
    processes: int
    bytes: int
    commands: list[list[str]]
    outputs: list[Path]
    expected: list[str] | None  # SHA-256 of each output, when it is plaintext
    env: dict[str, str] | None = None
    worker: tuple[str, list[tuple[Path, Path]]] | None = None


def _measure(job: Job, directory: Path) -> tuple[float, float]:
    for path in job.outputs:
        path.unlink(missing_ok=True)
    if job.worker is not None:
        seconds, rss = run_worker(*job.worker, directory)
    else:
        seconds, rss = run_loop(job.commands, job.env)
    for index, path in enumerate(job.outputs):
        if job.expected is not None:
            assert digest(path) == job.expected[index], f"{job.tool} {job.operation} gave a wrong {path.name}"
        else:
            assert path.stat().st_size > 0, f"{job.tool} wrote no {path.name}"
    for path in job.outputs:
        path.unlink()
    return seconds, rss


def benchmark(directory: Path, big_size: int, small_count: int, small_size: int, repeat: int) -> list[Run]:
    """Measure every job *repeat* times, interleaved; return the median time and the largest peak RSS."""
    from cryptography import x509

    from bidcrypt.envelope import EnvelopeBuilder, KeyTransport

    env = dict(os.environ, BIDCRYPT_PIN=PASSWORD)
    certificate = x509.load_pem_x509_certificate((PKI / f"{IDENTITY}.pem").read_bytes())
    builder = EnvelopeBuilder().add_recipient(certificate, key_transport=KeyTransport.OAEP_SHA256)

    big = directory / "big.bin"
    make_file(big, big_size, 0)
    big_digest = digest(big)
    sealed = directory / "big.p7m"
    builder.encrypt_file(big, sealed)  # the envelope both tools decrypt (untimed)
    small = directory / "small"
    small.mkdir()
    sources = []
    for i in range(small_count):
        path = small / f"{i:04d}.bin"
        make_file(path, small_size, i + 1)
        builder.encrypt_file(path, path.with_suffix(".p7m"))
        sources.append(path)
    small_digests = [digest(p) for p in sources]
    total = small_count * small_size
    recipient = PKI / f"{IDENTITY}.pem"
    out = directory / "big.out"

    encrypted = [p.with_suffix(".new") for p in sources]
    opened = [p.with_suffix(".out") for p in sources]
    envelopes = [p.with_suffix(".p7m") for p in sources]
    big_encrypt = bidcrypt_command("envelope", "encrypt", big, "-o", out, "--recipient", recipient)
    big_decrypt = bidcrypt_command("envelope", "decrypt", sealed, "-o", out, "--key", PKI / f"{IDENTITY}.p12")
    stream_encrypt, peer_decrypt = openssl_encrypt(big, out, True), openssl_decrypt(sealed, out)
    jobs = [
        Job("large file", "encrypt", "bidcrypt", 1, big_size, [big_encrypt], [out], None, env),
        Job("large file", "encrypt", "openssl", 1, big_size, [openssl_encrypt(big, out)], [out], None),
        Job("large file", "encrypt", "openssl -stream", 1, big_size, [stream_encrypt], [out], None),
        Job("large file", "decrypt", "bidcrypt", 1, big_size, [big_decrypt], [out], [big_digest], env),
        Job("large file", "decrypt", "openssl", 1, big_size, [peer_decrypt], [out], [big_digest]),
        Job("small files", "encrypt", "bidcrypt", 1, total, [], encrypted, None,
            worker=("encrypt", list(zip(sources, encrypted, strict=True)))),
        Job("small files", "encrypt", "openssl", small_count, total,
            [openssl_encrypt(a, b) for a, b in zip(sources, encrypted, strict=True)], encrypted, None),
        Job("small files", "decrypt", "bidcrypt", 1, total, [], opened, small_digests,
            worker=("decrypt", list(zip(envelopes, opened, strict=True)))),
        Job("small files", "decrypt", "openssl", small_count, total,
            [openssl_decrypt(a, b) for a, b in zip(envelopes, opened, strict=True)], opened, small_digests),
    ]  # fmt: skip
    samples: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(jobs))}
    for _ in range(repeat):
        for index, job in enumerate(jobs):
            samples[index].append(_measure(job, directory))
    shutil.rmtree(small)
    runs = []
    for index, job in enumerate(jobs):
        times = [seconds for seconds, _ in samples[index]]
        runs.append(
            Run(job.workload, job.operation, job.tool, job.processes, statistics.median(times), job.bytes,
                max(rss for _, rss in samples[index]), [round(t, 3) for t in times])
        )  # fmt: skip
    return runs


def ratios(runs: list[Run]) -> list[dict[str, object]]:
    """Per workload and operation: how many times faster bidcrypt is, and its peak RSS over openssl's."""
    found = []
    for run in runs:
        if run.tool != "bidcrypt":
            continue
        for peer in runs:
            if peer.tool.startswith("openssl") and (peer.workload, peer.operation) == (
                run.workload,
                run.operation,
            ):
                found.append(
                    {
                        "workload": run.workload,
                        "operation": run.operation,
                        "versus": peer.tool,
                        "speedup": round(peer.seconds / run.seconds, 2),
                        "peak_rss_ratio": round(run.peak_rss_mib / peer.peak_rss_mib, 3),
                    }
                )
    return found


def table(runs: list[Run], compared: list[dict[str, object]]) -> str:
    """A plain-text table of the runs and the ratios."""
    lines = [
        f"{'workload':<12} {'operation':<8} {'tool':<16} {'procs':>5} {'seconds':>9} {'MB/s':>9} "
        f"{'peak RSS MiB':>13}",
        "-" * 78,
    ]
    for r in runs:
        lines.append(
            f"{r.workload:<12} {r.operation:<8} {r.tool:<16} {r.processes:>5} {r.seconds:>9.3f} "
            f"{r.mb_per_second:>9.1f} {r.peak_rss_mib:>13.1f}"
        )
    lines += [
        "",
        f"{'workload':<12} {'operation':<8} {'bidcrypt vs':<16} {'speedup':>8} {'RSS ratio':>10}",
        "-" * 58,
    ]
    for c in compared:
        lines.append(
            f"{c['workload']!s:<12} {c['operation']!s:<8} {c['versus']!s:<16} "
            f"{c['speedup']!s:>7}x {c['peak_rss_ratio']!s:>10}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--big-size", type=int, help="bytes of the large file (default 1 GiB)")
    parser.add_argument("--small-count", type=int, help="number of small files (default 500)")
    parser.add_argument("--small-size", type=int, help="bytes per small file (default 200 KiB)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per measurement (median; default 3)")
    parser.add_argument(
        "--workdir", type=Path, help="where to put the files (default: a temporary directory)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "LIST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0
    if shutil.which("openssl") is None:
        print("openssl is not installed", file=sys.stderr)
        return 2
    big = args.big_size or (4 * MiB if args.tiny else 1 << 30)
    count = args.small_count or (20 if args.tiny else 500)
    size = args.small_size or (8 * 1024 if args.tiny else 200 * 1024)
    with tempfile.TemporaryDirectory(prefix="bidcrypt-bench-", dir=args.workdir) as name:
        runs = benchmark(Path(name), big, count, size, 1 if args.tiny else args.repeat)
    compared = ratios(runs)
    print(table(runs, compared))
    if args.json:
        openssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False)
        report = {
            "sizes": {"large_file": big, "small_files": count, "small_file_size": size},
            "repeat": 1 if args.tiny else args.repeat,
            "runs": [asdict(r) | {"mb_per_second": round(r.mb_per_second, 1)} for r in runs],
            "ratios": compared,
            "environment": {
                "python": platform.python_version(),
                "openssl": openssl_version.stdout.strip(),
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
            },
        }
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
