"""Benchmark: a remote opening (releases posted to ``bidcrypt serve`` by a client process) against the
local bulk opening of the same bids, in one run.

    python bench/remote_open.py [--bids 200] [--size BYTES] [--tiny] [--json FILE] [--workdir DIR]

The bids are ``bulk_open.py``'s (a sealed PDF and an attachment each, three
bidders, encrypted to the bidder and the opening authority). Measured:

a. local: ``bidcrypt opening open --key authority.p12`` on a session holding
   them (``bulk_open.full_opening``, bytecode compiled as an installed copy's);
b. remote: a remote-opening session (custody ``none``) holding them, its
   window started, served by ``bidcrypt serve`` over TLS as its own process.
   This process is the client: it makes every bidder's release first (the
   bidder's keys as PKCS#12 files: their UKey's work, not the service's),
   then posts them all (a few at a time) and fetches the record. Reported:
   from the first post to the complete record (every bid opened), and from
   the last release's post to the complete record.

The target (issue 15) compares the remote opening with the local one: no
more than 1.2× its time. The machine is shared: compare the ratios of one
run, and note the load (``uptime``) with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk_open
from bulk_open import BIDDERS, PASSWORD, PKI


def remote_session(directory: Path, packages: list[Path]) -> Any:
    """A remote-opening session (custody none) holding *packages*, opening time passed, window started."""
    from bidcrypt.certs import load_certificate
    from bidcrypt.opening import OpeningSession
    from bidcrypt.opening.custody import RemoteSettings
    from bidcrypt.opening.window import start_window

    now = dt.datetime.now(dt.UTC)
    lots = sorted({str(i // 3 + 1) for i in range(len(packages))}, key=int)
    session = OpeningSession.create(
        directory,
        tender="BENCH",
        lots=lots,
        deadline=now + dt.timedelta(hours=1),
        opening_time=now + dt.timedelta(hours=1),
        trust=[PKI / "trust/roots.pem", PKI / "trust/intermediates.pem"],
        remote=RemoteSettings(custody="none", window_seconds=3600),
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
    start_window(session, 3600)
    return session


def releases(session: Any, packages: list[Path]) -> list[bytes]:
    """Each bid's release, made with its bidder's keys (as the bidders' UKeys would, before posting)."""
    from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
    from bidcrypt.package import make_release

    class Together(KeySource):
        def __init__(self, *sources: KeySource) -> None:
            self.sources = sources
            self.description = " + ".join(s.description for s in sources)

        def entries(self) -> list[KeyEntry]:
            return [entry for source in self.sources for entry in source.entries()]

        def close(self) -> None:
            for source in self.sources:
                source.close()

    pins = PinSource.of_value(PASSWORD)
    keys = {
        bidder: Together(
            open_key_source(str(PKI / f"{bidder}/sign.p12"), pins),
            open_key_source(str(PKI / f"{bidder}/enc.p12"), pins),
        )
        for bidder in BIDDERS
    }
    try:
        return [
            make_release(package, keys[BIDDERS[index % 3]], session.profile)
            for index, package in enumerate(packages)
        ]
    finally:
        for source in keys.values():
            source.close()


def remote_opening(
    directory: Path, packages: list[Path], env: dict[str, str], posters: int
) -> dict[str, float]:
    """The remote opening of *packages*: seconds from the first post, and from the last, to the record."""
    from bidcrypt.remote import RemoteSession
    from tests.remote.service_process import Service, Shifted, self_signed

    session = remote_session(directory / "session", packages)
    bodies = releases(session, packages)
    session_id = str(session.session_id)
    session.close_ledger()
    cert, key = self_signed(directory)
    service = Service(
        directory / "session", cert, key, Shifted(0.0, env), burst=10 * len(bodies) + 100, rate=1000.0
    )
    service.start()
    try:
        remote = RemoteSession(f"https://127.0.0.1:{service.port}/s/{session_id}/", ca=cert)
        last_sent = 0.0

        def post(body: bytes) -> str:
            nonlocal last_sent
            last_sent = max(last_sent, time.perf_counter())
            return str(remote.release(body)["status"])

        start = time.perf_counter()
        with ThreadPoolExecutor(posters) as pool:
            statuses = list(pool.map(post, bodies))
        record = remote._json("GET", "record")
        done = time.perf_counter()
        opened = sum(1 for row in record["rows"] if row["status"] == "opened")
        if statuses.count("opened") != len(bodies) or opened != len(bodies):
            raise RuntimeError(f"opened {opened} of {len(bodies)}: {statuses}")
        return {"seconds": done - start, "last_release_to_record": done - last_sent}
    finally:
        service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, default=200)
    parser.add_argument("--size", type=int, default=1 << 20, help="attachment bytes per bid")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--posters", type=int, default=4, help="releases posted at once by the client")
    parser.add_argument("--tiny", action="store_true", help="6 bids of 64 KiB: the smoke test's sizes")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    count, size = (6, 64 << 10) if args.tiny else (args.bids, args.size)
    env = dict(os.environ, BIDCRYPT_PIN=PASSWORD)
    with tempfile.TemporaryDirectory(dir=args.workdir) as temporary:
        directory = Path(temporary)
        documents = bulk_open.sealed_documents(directory)
        packages = bulk_open.build_bids(directory / "bids", count, size, "aes-256-gcm", documents)
        compiled = bulk_open.installed(env, directory / "bytecode")
        p12 = str(PKI / "authority/enc.p12")
        bulk_open.full_opening(packages[:2], p12, args.workers, directory / "warm-up", compiled)
        local, *_ = bulk_open.full_opening(packages, p12, args.workers, directory / "local", compiled)
        shutil.rmtree(directory / "local")
        remote = remote_opening(directory / "remote", packages, compiled, args.posters)
    report = {
        "bids": count,
        "size": size,
        "load": os.getloadavg(),
        "local_seconds": local,
        "remote_seconds": remote["seconds"],
        "remote_last_release_to_record_seconds": remote["last_release_to_record"],
        "ratio_remote_to_local": remote["seconds"] / local,
        "ratio_last_release_to_local": remote["last_release_to_record"] / local,
    }
    print(f"{count} bids of {size} bytes (load {report['load'][0]:.2f})")
    print(f"  local bulk opening (opening open):                {local:8.2f} s")
    print(
        f"  remote opening, first post to complete record:    {remote['seconds']:8.2f} s"
        f"  ({report['ratio_remote_to_local']:.2f}× local)"
    )
    print(
        f"  remote opening, last release to complete record:  {remote['last_release_to_record']:8.2f} s"
        f"  ({report['ratio_last_release_to_local']:.2f}× local)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
