"""Benchmark: opening many bids at once, against the physical limit and the openssl loop, in one run.

    python bench/bulk_open.py [--tiny] [--json FILE] [--workdir DIR] [--workers N]

For each set (default 200 bids of 5 MiB and 10 bids of 200 MiB; ``--tiny``:
12 of 256 KiB and 3 of 2 MiB) it packs the bids (a sealed PDF and an
attachment each, three bidders, encrypted to the bidder and the opening
authority) and measures:

a. the physical limit: ``openssl speed -evp aes-256-gcm`` (and AES-256-CBC
   decryption) on one core, times the workers. The OpenSSL inside the
   ``cryptography`` wheel that bidcrypt decrypts with may be newer and
   faster than the system's (AVX-512 AES-GCM, for one), so the same
   measurement is also made with it in this process, AES-256-GCM over a
   1 MiB buffer in memory: the library limit, the stricter of the two;
b. the peer: ``openssl cms -decrypt`` once per package, as an official would
   script it. OpenSSL 3.0 cannot parse AuthEnvelopedData with authenticated
   attributes (openssl/openssl#26101), so the peer runs on the same bids
   packed with ``--cipher aes-256-cbc`` (EnvelopedData);
c. bidcrypt: decryption only (one unwrap per bid in this process, the
   content decrypted and authenticated beside it, by worker processes and,
   for comparison, by threads of this process), with the authority key as
   PKCS#12 and on a SoftHSM2 UKey, for AES-256-GCM and AES-256-CBC bids;
   and the full opening (``bidcrypt opening open``: receipts, decryption,
   manifest signature, hashes, identity, seals, files written) on a session.
   bidcrypt runs as an installed copy does, its bytecode compiled (see
   :func:`installed`; a short opening first fills the bytecode folder); one
   more PKCS#12 opening ("uncompiled") runs as a checkout under
   ``PYTHONDONTWRITEBYTECODE`` does, compiling its modules in every process;
d. SKF (``bench/skf_open.py``): the AES-256-CBC bids opened with the
   authority's key in the soft SKF token (``tests/skf``, built by
   ``scripts/setup.sh``), through the fast path (the token returns the
   content key) and the standard path (the key imported, the content
   decrypted on the token, one bid at a time): the full opening, and the
   decryption alone in one process. The token counts its key operations:
   exactly one per bid (``token ops/bid``); the report gives the standard
   path's content throughput against the fast path's, measured in the same
   run. Skipped, saying so, when the soft token is not built.

Reported: seconds, MB/s, bids/s, token unwraps per bid, CPU seconds of the
processes of the peer and of the CLI (user + system: a shared machine's load
changes them less than it changes the wall time), peak RSS (the
largest of the worker processes, from their own ``VmHWM``; of the whole
``opening open`` process tree and of each openssl run, started from a small
launcher process so that they do not inherit this process's size; with
threads, this benchmark process itself). Table and JSON. For the full
opening, also where the time goes: the milliseconds per bid of each phase
(unwrap, decrypt, manifest, seals, files, sync), as the run measured them
(``OpeningRun.phases``: the unwrap and the sync in the opening process, the
rest in the workers, which run side by side, so the phases add up to more
than the wall time per bid divided by the workers).

The openssl loop and the full openings are measured in ``--rounds`` rounds
(default 3), alternated: each round runs the loop, then each full opening,
so that a change of the shared machine's load falls on both sides. A row
gives the median round (its phases, CPU and peak RSS are that round's), and
the ratio of a full opening to the loop is the median of the rounds' own
ratios, given with the lowest and the highest.

``--sets 0`` runs only the first set (the 5 MiB bids), ``--sets 1`` only the second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "fixtures" / "pki"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

PASSWORD = "12345678"  # the fixtures' documented test PIN and password  # noqa: S105
MiB = 1 << 20
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass
class Row:
    """One measured job."""

    set: str
    job: str
    seconds: float
    bids: int
    bytes: int
    unwraps_per_bid: float | None
    peak_rss_mib: float | None
    #: For the full opening: milliseconds per bid spent in each phase.
    phases_ms: dict[str, float] | None = None
    #: CPU seconds (user + system) of the job's processes: what the load of a shared machine changes least.
    cpu_seconds: float | None = None
    #: Key operations the token itself counted per bid (the soft SKF token's counters).
    token_operations_per_bid: float | None = None
    #: The seconds of each round, in order, for a job measured in alternated rounds.
    rounds_seconds: list[float] | None = None

    @property
    def mb_per_second(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    @property
    def bids_per_second(self) -> float:
        return self.bids / self.seconds if self.seconds else 0.0


# --- building the bids -------------------------------------------------------------------------


def sealed_documents(directory: Path) -> dict[str, Path]:
    """Each bidder's sample response with its company seal."""
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.seal import SealKind, apply_seal, choose_entry

    documents = {}
    for bidder in BIDDERS:
        out = directory / f"{bidder}-sealed.pdf"
        with open_key_source(str(PKI / f"{bidder}/sign.p12"), PinSource.of_value(PASSWORD)) as source:
            apply_seal(
                ROOT / "fixtures" / "documents" / f"bid-response-{bidder}.pdf",
                out,
                choose_entry(source, SealKind.COMPANY),
                kind=SealKind.COMPANY,
                image=ROOT / "fixtures" / "seals" / f"{bidder}-company.png",
            )
        documents[bidder] = out
    return documents


def build_bids(directory: Path, count: int, size: int, cipher: str, documents: dict[str, Path]) -> list[Path]:
    """*count* packages of a sealed PDF and *size* bytes of attachment, spread over three bidders."""
    from decimal import Decimal

    from bidcrypt.certs import load_certificate
    from bidcrypt.envelope import ContentCipher, KeyTransport
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.package import Summary, SummaryFile, pack
    from bidcrypt.seal import SealKind, choose_entry

    directory.mkdir(parents=True)
    block = os.urandom(MiB)
    authority = load_certificate(PKI / "authority/enc.pem")
    packages = []
    for index in range(count):
        bidder = BIDDERS[index % 3]
        source = directory / f"src-{index}"
        (source / "附件").mkdir(parents=True)
        shutil.copy(documents[bidder], source / "投标函.pdf")
        with (source / "附件" / "图纸.bin").open("wb") as out:
            out.write(index.to_bytes(8, "big"))
            remaining = size - 8
            while remaining > 0:
                out.write(block[: min(MiB, remaining)])
                remaining -= MiB
        output = directory / f"bid-{index}.bid"
        with open_key_source(str(PKI / f"{bidder}/sign.p12"), PinSource.of_value(PASSWORD)) as signer:
            pack(
                source,
                output,
                tender="BENCH",
                lot=str(index // 3 + 1),
                signer=choose_entry(signer, SealKind.COMPANY),
                encrypt_to=[load_certificate(PKI / f"{bidder}/enc.pem"), authority],
                summary=SummaryFile(Summary(price=Decimal(1000 + index))),
                cipher=ContentCipher(cipher),
                key_transport=KeyTransport.PKCS1V15,
                authority_transport=KeyTransport.PKCS1V15,
            )
        shutil.rmtree(source)
        packages.append(output)
    return packages


# --- measuring -------------------------------------------------------------------------------


def physical_limit(workers: int) -> dict[str, float]:
    """MB/s of one core (openssl speed, 1 MiB blocks) times *workers*, for GCM and CBC decryption."""
    limits = {}
    for name, args in (
        ("aes-256-gcm", ["-evp", "aes-256-gcm"]),
        ("aes-256-cbc", ["-decrypt", "-evp", "aes-256-cbc"]),
    ):
        out = subprocess.run(
            ["openssl", "speed", "-seconds", "2", "-bytes", str(MiB), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        match = re.search(r"^AES-256-\w+\s+([\d.]+)k", out, re.MULTILINE | re.IGNORECASE)
        assert match, out
        limits[name] = float(match.group(1)) * 1000 / 1e6 * workers
    limits["library aes-256-gcm"] = library_limit(workers)
    return limits


def library_limit(workers: int, seconds: float = 1.0) -> float:
    """MB/s of AES-256-GCM decryption with bidcrypt's own library on one core, times *workers*."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, nonce = os.urandom(32), os.urandom(12)
    data, out = bytes(MiB), bytearray(MiB + 16)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).decryptor()
        for _ in range(16):
            decryptor.update_into(data, out)
        done += 16 * MiB
    return done / (time.perf_counter() - start) / 1e6 * workers


def timed_children(
    commands: list[list[str]], env: dict[str, str] | None = None, adopt: bool = False
) -> tuple[float, float, float]:
    """Run commands one after the other; wall seconds, the largest child RSS (MiB), and CPU seconds.

    The CPU seconds are each child's own and those of the processes it waited for (its workers);
    with *adopt* (in a process that has no other children), also those of the processes a child
    leaves behind, and of their own children (the opening's fork server and its workers).
    """
    if adopt:
        adopt_orphans()
    start = time.perf_counter()
    peak = 0.0
    cpu = 0.0
    for command in commands:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(
                f"{command[:3]} failed: {process.stderr.read().decode() if process.stderr else ''}"
            )
        peak = max(peak, usage.ru_maxrss / 1024)
        cpu += usage.ru_utime + usage.ru_stime + (orphans_cpu() if adopt else 0.0)
    return time.perf_counter() - start, peak, cpu


def adopt_orphans() -> None:
    """Become the subreaper of the programs started here (Linux): a process they leave behind (the
    opening's fork server, whose children are its workers) is then waited for here, its CPU counted."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def orphans_cpu() -> float:
    """CPU seconds of the adopted processes (and of the children they waited for), once they end."""
    cpu = 0.0
    while True:
        try:
            _, _, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return cpu
        cpu += usage.ru_utime + usage.ru_stime


#: A small process, started before this one grows, from which the peer and the CLI are started:
#: ``ru_maxrss`` is kept across ``execve``, so a program started from this process would report
#: at least this process's size as its own peak.
_launcher: ProcessPoolExecutor | None = None


def run_children(commands: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """:func:`timed_children`, started from the small launcher process when there is one."""
    if _launcher is None:
        return timed_children(commands, env)
    return _launcher.submit(timed_children, commands, env, True).result()


def openssl_loop(packages: list[Path], output: Path) -> tuple[float, float, float]:
    """``openssl cms -decrypt`` once per package: wall seconds, peak RSS, CPU seconds."""
    output.mkdir()
    commands = [
        [
            "openssl",
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(p),
            "-inkey",
            str(PKI / "authority/enc.key.pem"),
            "-recip",
            str(PKI / "authority/enc.pem"),
            "-out",
            str(output / p.name),
        ]
        for p in packages
    ]
    result = run_children(commands)
    shutil.rmtree(output)
    return result


#: Bids handed to a worker at once: small bids go in groups, so the hand-over does not dominate.
GROUP_BIDS, GROUP_BYTES = 16, 64 * MiB


def _decrypt_worker(jobs: list[tuple[str, object]]) -> float:
    from bidcrypt.envelope import authenticate_content, read_header_file

    for path, key in jobs:
        authenticate_content(Path(path), read_header_file(Path(path)), key)  # type: ignore[arg-type]
    return own_peak_rss_mib()


def own_peak_rss_mib() -> float:
    """This process's peak RSS in MiB, since it started its program.

    ``ru_maxrss`` is kept across ``execve``: a worker forked from this big
    benchmark process would report the benchmark's size. The kernel's
    ``VmHWM`` belongs to the new program's memory only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_up(seconds: float) -> None:
    import bidcrypt.envelope  # noqa: F401

    time.sleep(seconds)


def decrypt_only(
    packages: list[Path], key_ref: str, workers: int, threads: bool = False
) -> tuple[float, float, float]:
    """Unwrap each content key here (serialised); decrypt and authenticate beside it, writing nothing.

    The decryption runs in *workers* processes (bids handed over in groups), or with *threads* in
    as many threads of this process: AES and file reads release the GIL, and nothing is handed
    across a process boundary. Returns seconds, unwraps per bid, and the largest worker RSS.
    """
    from bidcrypt.envelope import read_recipients, unwrap_content_key
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.opening.counting import CountingEntry

    counter = [0]
    pool: Executor = (
        ThreadPoolExecutor(workers)
        if threads
        else ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    )
    with open_key_source(key_ref, PinSource.of_value(PASSWORD)) as source, pool:
        entries = [CountingEntry(e, counter) for e in source.entries()]
        # Start every worker (the pool spawns on demand) and load its imports before the clock.
        list(pool.map(_warm_up, [0.3] * workers))
        start = time.perf_counter()
        futures = []
        group: list[tuple[str, object]] = []
        group_bytes = 0
        for package in packages:
            # the front of the envelope is enough to unwrap; the workers read the rest
            group.append((str(package), unwrap_content_key(read_recipients(package), entries)))
            group_bytes += package.stat().st_size
            if threads or len(group) >= GROUP_BIDS or group_bytes >= GROUP_BYTES:
                futures.append(pool.submit(_decrypt_worker, group))
                group, group_bytes = [], 0
        if group:
            futures.append(pool.submit(_decrypt_worker, group))
        peak = max(f.result() for f in futures)
        seconds = time.perf_counter() - start
    return seconds, counter[0] / len(packages), peak


#: What :func:`full_opening` measures: seconds, unwraps per bid, peak RSS, phases, CPU seconds.
Opening = tuple[float, float, float, dict[str, float], float]


def full_opening(
    packages: list[Path], key_ref: str, workers: int, directory: Path, env: dict[str, str]
) -> Opening:
    """``bidcrypt opening open`` on a session holding *packages*.

    Returns seconds, unwraps per bid, peak RSS, the milliseconds per bid of each phase, and the
    CPU seconds of the opening process and its workers.
    """
    from bidcrypt.certs import load_certificate
    from bidcrypt.opening import OpeningSession

    now = dt.datetime.now(dt.UTC)
    lots = sorted({str(i // 3 + 1) for i in range(len(packages))}, key=int)
    session = OpeningSession.create(
        directory,
        tender="BENCH",
        lots=lots,
        deadline=now + dt.timedelta(hours=1),
        opening_time=now + dt.timedelta(hours=1),
        trust=[PKI / "trust/roots.pem", PKI / "trust/intermediates.pem"],
    )
    index = json.loads((PKI / "index.json").read_text())
    for bidder in BIDDERS:
        company = index["companies"][bidder]
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(PKI / f"{bidder}/enc.pem"))
    for package in packages:
        session.submit(package)
    past = (now - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with session.ledger.transaction() as db:
        db.execute("UPDATE meta SET value = ? WHERE key IN ('deadline', 'opening_time')", (past,))
    session.close_ledger()
    report = directory / "run.json"
    command = [
        sys.executable,
        "-c",
        "import sys; from bidcrypt.cli import run; sys.argv = ['bidcrypt'] + sys.argv[1:]\n"
        "import contextlib, io\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n    try: run()\n    except SystemExit as e: code = e.code\n"
        f"open({str(report)!r}, 'w').write(buf.getvalue())\n",
        "opening",
        "open",
        str(directory),
        "--key",
        key_ref,
        "--workers",
        str(workers),
        "--json",
    ]
    seconds, peak, cpu = run_children([command], env)
    run = json.loads(report.read_text())
    opened = len(run["opened"])
    if opened != len(packages):
        raise RuntimeError(f"opened {opened} of {len(packages)}: {run}")
    phases = {name: 1000 * value / opened for name, value in run.get("phases", {}).items()}
    return seconds, run["unwraps"] / opened, peak, phases, cpu


def installed(env: dict[str, str], directory: Path) -> dict[str, str]:
    """*env* for running bidcrypt as an installed copy runs: with its Python bytecode compiled.

    pip compiles a package's modules when it installs it; a source checkout run with
    ``PYTHONDONTWRITEBYTECODE`` (as a development sandbox may set) compiles every bidcrypt module
    again in every process, the opening process and each worker, a second or so each on a busy
    machine. The bytecode goes to a folder of the benchmark's own (``PYTHONPYCACHEPREFIX``), which
    :func:`measure_set` fills with a short opening before the measured ones.
    """
    changed = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    changed["PYTHONPYCACHEPREFIX"] = str(directory)
    return changed


def measure_set(
    label: str,
    count: int,
    size: int,
    workers: int,
    directory: Path,
    documents: dict[str, Path],
    softhsm_conf: Path,
    physical: dict[str, float],
    skf_token: Any = None,
    skf_ratios: dict[str, dict[str, float]] | None = None,
    rounds: int = 3,
) -> list[Row]:
    rows: list[Row] = []
    env = dict(os.environ, BIDCRYPT_PIN=PASSWORD, SOFTHSM2_CONF=str(softhsm_conf))
    os.environ["SOFTHSM2_CONF"] = str(softhsm_conf)
    p12 = str(PKI / "authority/enc.p12")
    ukey = f"pkcs11:token=authority?module-path={SOFTHSM}"
    sets = {
        cipher: build_bids(directory / cipher, count, size, cipher, documents)
        for cipher in ("aes-256-gcm", "aes-256-cbc")
    }
    total = {cipher: sum(p.stat().st_size for p in packages) for cipher, packages in sets.items()}

    def add(
        job: str,
        seconds: float,
        cipher: str,
        unwraps: float | None,
        peak: float | None,
        phases: dict[str, float] | None = None,
        cpu: float | None = None,
        rounds_seconds: list[float] | None = None,
    ) -> None:
        rows.append(
            Row(label, job, seconds, count, total[cipher], unwraps, peak, phases, cpu, None, rounds_seconds)
        )

    for limit, cipher in (
        ("aes-256-gcm", "aes-256-gcm"),
        ("aes-256-cbc", "aes-256-cbc"),
        ("library aes-256-gcm", "aes-256-gcm"),
    ):
        rows.append(
            Row(
                label,
                f"physical limit, {limit} × {workers} cores",
                total[cipher] / 1e6 / physical[limit],
                count,
                total[cipher],
                None,
                None,
            )
        )
    for cipher in ("aes-256-gcm", "aes-256-cbc"):
        for name, ref in (("PKCS#12", p12), ("SoftHSM UKey", ukey)):
            for threads in (False, True):
                seconds, unwraps, peak = decrypt_only(sets[cipher], ref, workers, threads)
                how = "threads" if threads else "processes"
                add(f"bidcrypt decrypt only, {how}, {name} ({cipher})", seconds, cipher, unwraps, peak)
    compiled = installed(env, directory / "bytecode")
    full_opening(sets["aes-256-gcm"][:2], p12, workers, directory / "session-warm-up", compiled)
    openings = (
        ("PKCS#12", p12, compiled),
        ("SoftHSM UKey", ukey, compiled),
        ("PKCS#12 uncompiled", p12, env),
    )
    loops: list[tuple[float, float, float]] = []
    opened: dict[str, list[Opening]] = {name: [] for name, _, _ in openings}
    for number in range(rounds):  # alternated: a change of the machine's load falls on both sides
        loops.append(openssl_loop(sets["aes-256-cbc"], directory / "openssl-out"))
        for name, ref, run_env in openings:
            session = directory / f"session-{name.replace(' ', '-')}-{number}"
            opened[name].append(full_opening(sets["aes-256-gcm"], ref, workers, session, run_env))
            shutil.rmtree(session)
    seconds, peak, cpu = median_round(loops)
    add("openssl cms -decrypt loop (aes-256-cbc)", seconds, "aes-256-cbc", 1.0, peak, cpu=cpu,
        rounds_seconds=[loop[0] for loop in loops])  # fmt: skip
    for name, _, _ in openings:
        seconds, unwraps, peak, phases, cpu = median_round(opened[name])
        job = f"bidcrypt opening open, full checks, {name} (aes-256-gcm)"
        add(job, seconds, "aes-256-gcm", unwraps, peak, phases, cpu, [run[0] for run in opened[name]])
    if skf_token is not None:
        import skf_open

        jobs = skf_open.measure(
            sets["aes-256-cbc"], skf_token, workers, directory, compiled, PASSWORD, full_opening
        )
        for skf in jobs:
            add(
                skf.job,
                skf.seconds,
                "aes-256-cbc",
                skf.unwraps_per_bid,
                own_peak_rss_mib() if skf.peak_rss_mib is None else skf.peak_rss_mib,  # in this process
                skf.phases_ms,
                skf.cpu_seconds,
            )
            rows[-1].token_operations_per_bid = skf.token_operations_per_bid
        if skf_ratios is not None:
            skf_ratios[label] = skf_open.ratios(jobs, total["aes-256-cbc"])
    shutil.rmtree(directory)
    return rows


#: One round's measurement: a tuple whose first item is the wall time.
Measured = TypeVar("Measured", bound=tuple[Any, ...])


def median_round(runs: list[Measured]) -> Measured:
    """The run of the median wall time (the lower of the two middle ones for an even count)."""
    middle = statistics.median_low(run[0] for run in runs)
    return next(run for run in runs if run[0] == middle)


def table(rows: list[Row]) -> str:
    header = f"{'set':<14} {'job':<72} {'seconds':>9} {'MB/s':>9} {'bids/s':>9}"
    lines = [f"{header} {'unwraps/bid':>11} {'token ops/bid':>13} {'peak RSS':>10} {'CPU s':>8}"]
    for row in rows:
        unwraps = f"{row.unwraps_per_bid:.2f}" if row.unwraps_per_bid is not None else "-"
        token = f"{row.token_operations_per_bid:.2f}" if row.token_operations_per_bid is not None else "-"
        rss = f"{row.peak_rss_mib:.0f} MiB" if row.peak_rss_mib is not None else "-"
        cpu = f"{row.cpu_seconds:.2f}" if row.cpu_seconds is not None else "-"
        lines.append(
            f"{row.set:<14} {row.job:<72} {row.seconds:>9.2f} {row.mb_per_second:>9.0f} "
            f"{row.bids_per_second:>9.1f} {unwraps:>11} {token:>13} {rss:>10} {cpu:>8}"
        )
    return "\n".join(lines)


def breakdown(rows: list[Row]) -> str:
    """Milliseconds per bid of each phase of the full openings."""
    from bidcrypt.opening import PHASES

    lines = [f"{'set':<14} {'full opening':<24} " + " ".join(f"{p:>9}" for p in PHASES) + f" {'total':>9}"]
    for row in rows:
        if row.phases_ms is None:
            continue
        key = row.job.split(", ")[2].split(" (")[0]
        cells = " ".join(f"{row.phases_ms.get(p, 0.0):>9.1f}" for p in PHASES)
        lines.append(f"{row.set:<14} {key:<24} {cells} {sum(row.phases_ms.values()):>9.1f}")
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[dict[str, object]]:
    """The comparisons the targets are about, per set."""
    found = []
    for label in dict.fromkeys(r.set for r in rows):
        of = {r.job: r for r in rows if r.set == label}
        openssl = of["openssl cms -decrypt loop (aes-256-cbc)"]
        physical = of[next(j for j in of if j.startswith("physical limit, aes-256-gcm"))]
        library = of[next(j for j in of if j.startswith("physical limit, library aes-256-gcm"))]
        for job, row in of.items():
            if job.startswith("bidcrypt"):
                paired = None
                if row.rounds_seconds and openssl.rounds_seconds:
                    rounds = zip(openssl.rounds_seconds, row.rounds_seconds, strict=True)
                    paired = [theirs / ours for theirs, ours in rounds]
                found.append(
                    {
                        "set": label,
                        "job": job,
                        # In alternated rounds: the median of the rounds' own ratios.
                        "speedup_vs_openssl_loop": (
                            statistics.median(paired) if paired else openssl.seconds / row.seconds
                        ),
                        "speedup_per_round": paired,
                        "cpu_vs_openssl_loop": (
                            row.cpu_seconds / openssl.cpu_seconds
                            if row.cpu_seconds and openssl.cpu_seconds
                            else None
                        ),
                        "fraction_of_physical_limit_gcm": physical.seconds / row.seconds,
                        "fraction_of_library_limit_gcm": library.seconds / row.seconds,
                    }
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="small sets, for the smoke test")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sets", help="which sets to run, by number from 0, comma-separated (default: all)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternated rounds of the openssl loop and the full openings"
    )
    args = parser.parse_args(argv)
    sets = (
        [("12 × 256 KiB", 12, 256 << 10), ("3 × 2 MiB", 3, 2 * MiB)]
        if args.tiny
        else [("200 × 5 MiB", 200, 5 * MiB), ("10 × 200 MiB", 10, 200 * MiB)]
    )
    if args.sets:
        sets = [sets[int(number)] for number in args.sets.split(",")]
    import provision_ukey
    import skf_open

    from bidcrypt.quiet import quiet_library_logs

    quiet_library_logs()

    global _launcher
    _launcher = ProcessPoolExecutor(1, mp_context=get_context("forkserver"))
    _launcher.submit(os.getpid).result()  # started now, while this process is small
    rows: list[Row] = []
    skf_ratios: dict[str, dict[str, float]] = {}
    with _launcher, tempfile.TemporaryDirectory(dir=args.workdir) as temporary:
        directory = Path(temporary)
        config = provision_ukey.provision(directory / "ukeys", ["authority"])
        skf_token = skf_open.provision(directory / "softskf") if skf_open.available() else None
        if skf_token is None:
            print("the soft SKF token is not built (bash scripts/setup.sh): no SKF part", file=sys.stderr)
        documents = sealed_documents(directory)
        physical = physical_limit(args.workers)
        for number, (label, count, size) in enumerate(sets):
            rows += measure_set(
                label,
                count,
                size,
                args.workers,
                directory / f"set-{number}",
                documents,
                config,
                physical,
                skf_token,
                skf_ratios,
                max(1, args.rounds),
            )
    print(table(rows))
    print()
    print("Full opening, milliseconds per bid in each phase (unwrap on the token, sync in the CLI process):")
    print(breakdown(rows))
    compared = ratios(rows)
    print()
    for item in compared:
        cpu = item["cpu_vs_openssl_loop"]
        rounds = item["speedup_per_round"]
        spread = ""
        if isinstance(rounds, list) and len(rounds) > 1:
            spread = f" (rounds {min(rounds):.2f}–{max(rounds):.2f}×)"
        print(
            f"{item['set']:<14} {item['job']:<72} "
            f"{item['speedup_vs_openssl_loop']:>6.2f}× the openssl loop{spread}, "
            f"{item['fraction_of_physical_limit_gcm']:.0%} of the physical limit, "
            f"{item['fraction_of_library_limit_gcm']:.0%} of the library limit"
            + (f", {cpu:.2f}× its CPU time" if isinstance(cpu, float) else "")
        )
    for label, found in skf_ratios.items():
        print()
        print(f"SKF, {label}: the content decrypted on the token (standard path) against the fast path")
        for name, value in found.items():
            print(f"  {name:<56} {value:>9.2f}" + ("×" if name.endswith("throughput") else ""))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "workers": args.workers,
                    "rows": [
                        {**asdict(r), "mb_per_second": r.mb_per_second, "bids_per_second": r.bids_per_second}
                        for r in rows
                    ],
                    "ratios": compared,
                    "skf": skf_ratios,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
