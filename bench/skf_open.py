"""The SKF part of ``bench/bulk_open.py``: the bids opened through the soft SKF token, both paths.

The opening authority's RSA key sits in a soft SKF token (``tests/skf``,
``fixtures/provision_skf.py``), built with the fast-path export
(``libsoftskf.so``: ``SKF_RSAPriKeyDecrypt`` returns the content key, the
content is decrypted in software, in the workers) and without it
(``libsoftskf-std.so``: the key is imported with ``SKF_ImportSessionKey``
and the token decrypts the content, ``SKF_DecryptUpdate`` chunk by chunk, in
the opening's own process, one bid at a time). The bids are the set's
AES-256-CBC ones (PKCS#1 v1.5 to the authority: what a token can import).

For each path: the full opening (``bidcrypt opening open --key skf:…``),
and the content decryption alone in one process (unwrap or import, then
decrypt and check the padding, writing nothing), which gives the standard
path's content throughput against the fast path's, measured in the same
run. The token's own counters (its ``state`` file) say how many key
operations each job made: exactly one per bid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tests.skf.softskf import SoftSkf

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
#: The soft token's device holding the opening authority's keys.
DEVICE = "authority"


@dataclass(frozen=True)
class SkfJob:
    """One measured SKF job: what the opening said and what the token counted."""

    job: str
    seconds: float
    unwraps_per_bid: float
    #: Key operations the token counted per bid (private-key decryptions plus session-key imports).
    token_operations_per_bid: float
    #: The token's own counters for the job (differences).
    counters: dict[str, int]
    #: The peak RSS of the opening's processes; None for the job run in the benchmark's own process.
    peak_rss_mib: float | None = None
    phases_ms: dict[str, float] | None = None
    cpu_seconds: float | None = None


def available() -> bool:
    """Whether the soft SKF token is built (``bash scripts/setup.sh`` builds it)."""
    from tests.skf import softskf

    return softskf.built()


def provision(directory: Path) -> SoftSkf:
    """A soft SKF token directory with the authority's device; ``SOFTSKF_ROOT`` set for this process."""
    from tests.skf import softskf

    token = softskf.provision(directory, [DEVICE])
    os.environ["SOFTSKF_ROOT"] = str(token.root)
    return token


def _counted(token: SoftSkf, work: Callable[[], T]) -> tuple[T, dict[str, int]]:
    before = token.counters(DEVICE)
    result = work()
    after = token.counters(DEVICE)
    return result, {name: after[name] - before[name] for name in after}


def _operations(counters: dict[str, int]) -> int:
    return counters["private_decrypt"] + counters["import_session_key"]


def decrypt_in_one_process(packages: list[Path], key_ref: str, password: str) -> tuple[float, float]:
    """Each bid's key recovered on the token, its content decrypted here: seconds, unwraps per bid."""
    from bidcrypt.envelope import authenticate_content, read_header_file, unwrap_content_key
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.opening.counting import CountingEntry

    counter = [0]
    with open_key_source(key_ref, PinSource.of_value(password)) as source:
        entries = [CountingEntry(e, counter) for e in source.entries() if e.has_private_key]
        start = time.perf_counter()
        for package in packages:
            header = read_header_file(package)
            with unwrap_content_key(header, entries) as content_key:
                authenticate_content(package, header, content_key)
        seconds = time.perf_counter() - start
    return seconds, counter[0] / len(packages)


def measure(
    packages: list[Path],
    token: SoftSkf,
    workers: int,
    directory: Path,
    env: dict[str, str],
    password: str,
    full_opening: Callable[..., tuple[float, float, float, dict[str, float], float]],
) -> list[SkfJob]:
    """The SKF jobs on *packages* (AES-256-CBC bids to the authority) with *token*, both paths."""
    jobs = []
    env = dict(env, SOFTSKF_ROOT=str(token.root))
    bids = len(packages)
    for name, fast in (("fast path", True), ("standard path", False)):
        ref = token.uri(DEVICE, fast=fast)
        (seconds, unwraps), counters = _counted(
            token, lambda ref=ref: decrypt_in_one_process(packages, ref, password)
        )
        jobs.append(
            SkfJob(
                f"bidcrypt decrypt only, one process, SKF {name} (aes-256-cbc)",
                seconds,
                unwraps,
                _operations(counters) / bids,
                counters,
            )
        )
        session = directory / f"session-skf-{'fast' if fast else 'standard'}"
        (seconds, unwraps, peak, phases, cpu), counters = _counted(
            token, lambda ref=ref, session=session: full_opening(packages, ref, workers, session, env)
        )
        jobs.append(
            SkfJob(
                f"bidcrypt opening open, full checks, SKF {name} (aes-256-cbc)",
                seconds,
                unwraps,
                _operations(counters) / bids,
                counters,
                peak,
                phases,
                cpu,
            )
        )
    return jobs


def ratios(jobs: list[SkfJob], content_bytes: int) -> dict[str, float]:
    """The standard path's content throughput against the fast path's (MB/s, and their ratio)."""
    of = {job.job: job for job in jobs}
    found = {}
    for kind in ("decrypt only, one process", "opening open, full checks"):
        fast = of[f"bidcrypt {kind}, SKF fast path (aes-256-cbc)"]
        standard = of[f"bidcrypt {kind}, SKF standard path (aes-256-cbc)"]
        found[f"{kind}: fast path MB/s"] = content_bytes / fast.seconds / 1e6
        found[f"{kind}: standard path MB/s"] = content_bytes / standard.seconds / 1e6
        found[f"{kind}: standard / fast throughput"] = fast.seconds / standard.seconds
    return found
