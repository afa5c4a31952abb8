"""The demo's remote opening (不见面开标): a committee session served over TLS on loopback.

After the local opening, the same three bidders bid in a second tender whose opening is remote:

- the official creates the session with its opening key in the custody of a committee of three
  (quorum 2: the fixture PKI's three SM2 companies stand in for the members, as it issues signing
  and encryption certificates to companies only) and publishes its signed profile;
- the bidders pack with ``pack --profile`` (the tender, the lot and the opening certificate come
  from the profile) and submit;
- ``bidcrypt serve`` serves the session over TLS with a throwaway self-signed certificate on a free
  loopback port; the hall page's URL is printed;
- the bidders sign in (签到) and, once the official has started the window, release (解密) from their
  UKeys with ``bidcrypt remote``: A from its own copy, B from the front the service hands out, C
  never (视为撤销 at the close); the official pauses for an outage (with its reason) and resumes;
  one committee member releases a share, and one share of the two needed opens nothing;
- the window is closed, a late release refused, the record printed; the service is stopped with
  SIGTERM and the demo checks that nothing of it is left running.

Nothing waits for the deadline: the session's deadline is an hour away, and every command after the
submissions (the service too) runs with its clock moved past the opening time by libfaketime, as
the end-to-end test in ``tests/remote/test_service_e2e.py`` does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moved_clock import moved_clock, remove_leftovers

from bidcrypt.package import read_profile

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "fixtures" / "pki"
TENDER = "HBGP-2026-002"
#: The bidders, each with a SoftHSM2 UKey ``pkcs11:token=<bidder>``; the last never releases.
BIDDERS = ("bidder-a", "bidder-b", "bidder-c")
#: The committee members' key files (PKCS#12, the fixture's SM2 companies), quorum 2 of 3.
MEMBERS = ("sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c")
QUORUM = 2
OUTAGE = "平台网络故障：机房断电 (platform outage: power cut)"
#: How far past the deadline (and the opening time) the moved clock starts.
PAST = 5.0


def show(path: Path) -> str:
    """A path as the user sees it, relative to the repository."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass
class Commands:
    """Runs bidcrypt commands in *env*, echoing them, with the clock moved by *offset* s (libfaketime)."""

    env: dict[str, str]
    offset: float = 0.0

    def argv(self, *args: str | Path) -> list[str]:
        return [sys.executable, "-m", "bidcrypt", *[str(a) for a in args]]

    def environment(self) -> dict[str, str]:
        """*env*, with the clock moved when there is an offset (libfaketime: ``moved_clock.py``)."""
        if not self.offset:
            return self.env
        if shutil.which("faketime") is None:
            raise SystemExit("demo: faketime is missing; scripts/setup.sh installs it")
        return {**self.env, **moved_clock(self.offset)}

    def __call__(self, *args: str | Path, expect: int = 0, quiet: bool = False) -> str:
        words = [show(a) if isinstance(a, Path) else a for a in args]
        print("$ bidcrypt " + " ".join(shlex.quote(w) for w in words), flush=True)
        result = subprocess.run(
            self.argv(*args), env=self.environment(), text=True, capture_output=True, check=False, cwd=ROOT
        )
        if not quiet:
            sys.stdout.write(result.stdout)
        sys.stdout.write(result.stderr)
        if result.returncode != expect:
            raise SystemExit(f"demo: bidcrypt exited {result.returncode}, expected {expect}")
        return result.stdout


def self_signed_tls(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed TLS certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bidcrypt demo service")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """``bidcrypt serve`` of one session as a child process group, stopped cleanly by :meth:`stop`."""

    def __init__(self, commands: Commands, session: Path, cert: Path, key: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log
        argv = commands.argv(
            "serve", session, "--bind", f"127.0.0.1:{self.port}", "--tls-cert", cert, "--tls-key", key
        )
        print(
            "$ bidcrypt serve "
            + " ".join(shlex.quote(show(p)) for p in (session,))
            + f" --bind 127.0.0.1:{self.port} --tls-cert {show(cert)} --tls-key {show(key)} &",
            flush=True,
        )
        with log.open("w") as output:
            self.process = subprocess.Popen(  # its own process group: its children go with it
                argv,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=commands.environment(),
                cwd=ROOT,
                start_new_session=True,
            )
        self._wait_listening(cert)

    def _wait_listening(self, cert: Path) -> None:
        context = ssl.create_default_context(cafile=str(cert))
        for _ in range(600):  # the process starting: at most a minute
            if self.process.poll() is not None:
                raise SystemExit(f"demo: bidcrypt serve exited:\n{self.log.read_text()}")
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1"),
                ):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("demo: bidcrypt serve did not start")

    def stop(self) -> int:
        """SIGTERM to the service (a graceful shutdown); its exit status. Nothing of it is left running."""
        group = self.process.pid
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self.process.wait(timeout=30)
        remove_leftovers(group)  # libfaketime's, which a service ended by a signal leaves
        for _ in range(300):  # until no process of its group is left
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return int(self.process.returncode)
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)
        return int(self.process.returncode)


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def remote_opening(
    out: Path,
    env: Mapping[str, str],
    bids: Mapping[str, tuple[Path, Path | None]],
    trust: Sequence[str],
    hold: bool = False,
) -> Path:
    """The remote opening in *out* (made fresh) of *bids* (bidder → its bid folder and summary file).

    *env* has the bidders' UKeys (``pkcs11:token=<bidder>``) and their PIN in ``BIDCRYPT_PIN``
    (also the members' key-file password); *trust* is the ``--trust``/``--crl`` arguments. Returns
    the session folder, its window closed and its record written as ``out/remote-record.html``.
    With *hold*, the service keeps running (its hall page showing the record) until Enter is pressed.
    """
    index = json.loads((PKI / "index.json").read_text())
    company = index["companies"]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    now = Commands(dict(env))
    session = out / "session"
    port = free_port()

    step("R1. A remote opening (不见面开标): the opening key in a committee's custody, 2 of 3")
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    members = [a for m in MEMBERS for a in ("--member", str(PKI / f"{m}/enc.pem"))]
    now(
        "opening", "create", session, "--tender", TENDER, "--lot", "1",
        "--deadline", deadline.isoformat(), "--opening-time", deadline.isoformat(),
        "--custody", "committee", *members, "--quorum", str(QUORUM), "--window", "30m",
        "--rule", "regulation-44", "--service-url", f"https://127.0.0.1:{port}/", *trust,
    )  # fmt: skip
    for bidder in BIDDERS:
        now(
            "opening", "register", session, "--name", company[bidder]["name"],
            "--uscc", company[bidder]["credit_code"], "--cert", PKI / f"{bidder}/enc.pem",
        )  # fmt: skip
    profile = out / "profile.p7s"
    now("opening", "profile", session, "-o", profile)
    profile_sha = hashlib.sha256(profile.read_bytes()).hexdigest()
    session_id = read_profile(profile.read_bytes()).session
    print(f"# the agency publishes {show(profile)} and announces its SHA-256: {profile_sha}")
    print(f"# the committee's shares of the opening key: {show(session / 'custody')}/share-{{1,2,3}}.p7m")

    step("R2. The bidders pack with the profile (tender, lot, opening certificate from it) and submit")
    packages: dict[str, Path] = {}
    for bidder in BIDDERS:
        packages[bidder] = out / f"{bidder}.bid"
        folder, summary = bids[bidder]
        now(
            "pack", folder, "-o", packages[bidder], "--key", f"pkcs11:token={bidder}",
            "--encrypt-to", PKI / f"{bidder}/enc.pem", "--profile", profile,
            *(["--summary", str(summary)] if summary else []), *trust,
        )  # fmt: skip
    receipts = {
        bidder: json.loads(now("opening", "submit", session, packages[bidder], "--json"))
        for bidder in BIDDERS
    }

    offset = (deadline - dt.datetime.now(dt.UTC)).total_seconds() + PAST
    late = Commands(dict(env), offset)
    step("R3. The service over TLS (开标大厅): the deadline and the opening time have passed")
    print(f"# from here every command and the service have their clock moved {offset:+.0f} s (libfaketime):")
    print("# past the opening time, so that the demo need not wait an hour")
    cert, key = self_signed_tls(out)
    service = Service(late, session, cert, key, out / "serve.log")
    url = f"https://127.0.0.1:{service.port}/s/{session_id}/"
    try:
        print(f"# the hall page (开标大厅), while the demo runs: {url}hall  (English: {url}hall?lang=en)")
        print(f"# a browser must accept the demo's self-signed certificate {show(cert)}")
        ca = ["--ca", str(cert)]

        step("R4. 签到: each bidder signs the service's challenge with the UKey's company certificate")
        for bidder in BIDDERS:
            late(
                "remote",
                "signin",
                url,
                "--key",
                f"pkcs11:token={bidder}",
                *ca,
                "--profile-sha256",
                profile_sha,
            )

        step("R5. The window (解密时间): bidders release their keys from their UKeys; a pause for an outage")
        late("opening", "start", session, "--window", "30m")
        late("remote", "release", url, packages["bidder-a"], "--key", "pkcs11:token=bidder-a", *ca)
        late("opening", "pause", session, "--reason", OUTAGE)
        print("# a release during the pause is refused (window-paused), and recorded:")
        receipt_b = str(receipts["bidder-b"]["sha256"])
        late(
            "remote", "release", url, "--receipt", receipt_b, "--key", "pkcs11:token=bidder-b", *ca, expect=59
        )
        late("opening", "resume", session)
        print("# B has no copy of the bid at hand: the service hands out its front, found by the receipt")
        late("remote", "release", url, "--receipt", receipt_b, "--key", "pkcs11:token=bidder-b", *ca)
        print(f"# {BIDDERS[-1]} never releases")

        step("R6. The committee: one member releases a share; one of the two needed opens nothing")
        member = MEMBERS[0]
        late(
            "remote", "share", url, session / "custody" / "share-1.p7m",
            "--key", PKI / f"{member}/enc.p12", "--key", PKI / f"{member}/sign.p12", *ca,
        )  # fmt: skip
        late("opening", "open", session, "--committee", expect=72)

        step("R7. The close: the bid never released is 视为撤销; a release after it is refused")
        late("opening", "close", session)
        late("remote", "release", url, packages["bidder-c"], "--key", "pkcs11:token=bidder-c", *ca, expect=69)
        late("remote", "status", url, *ca)

        step("R8. The record of the remote opening (开标记录)")
        late("opening", "report", session)
        late("opening", "report", session, "--format", "html", "-o", out / "remote-record.html")
        if hold:
            with contextlib.suppress(EOFError):  # no terminal: stop at once
                input(f"\n# the service runs on until you press Enter: {url}hall ")
    finally:
        status = service.stop()
        print(f"# the service stopped (SIGTERM: exit {status}), nothing of it left running")
        print(f"# its log: {show(service.log)}")
    return session
