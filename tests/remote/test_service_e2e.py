"""THE end-to-end test of the remote opening on loopback: ``bidcrypt serve`` as a real process over TLS.

Three bidders sign in and release from their SoftHSM UKeys (one from their
own copy of the bid, one from the front the service hands out); one never
releases (视为撤销 at the close); the official pauses for a recorded outage;
the service is killed with SIGKILL while paused and restarted ten minutes
later with no release lost and the remaining time kept; a bidder hands over
the backup (备用文件) of a second bid; hostile requests are refused (garbage,
a replay, a 1 GB body refused long before it is sent, the rate limit, a
release after the close); the hall page is rendered by headless Chromium and
its text checked; the record shows every outcome with its cause. Every
process runs with its clock moved past the opening time by faketime: nothing
waits for a deadline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import select
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from bidcrypt.remote import RemoteSession

from ..conftest import Pki, SoftHsm, require_tool
from ..opening.conftest import make_package
from .conftest import remote_session
from .service_process import Service, Shifted, self_signed

CHROMIUM = "/usr/bin/chromium"
OUTAGE = "平台网络故障：机房断电 (platform outage: power cut)"


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--ignore-certificate-errors",
        *args,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def hall_text(tmp_path: Path, url: str, screenshot: Path) -> str:
    """The hall page's DOM after its script ran, and a screenshot of it (kept; its path printed)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    dom = chromium(tmp_path, url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = chromium(tmp_path, url, f"--screenshot={screenshot}", "--window-size=1280,1600")
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    print(f"hall page screenshot: {screenshot}")
    return dom.stdout


def one_gigabyte_refused_early(port: int, cert: Path, path: str) -> int:
    """POST a body that says it is 1 GiB, sending it in 64 KiB pieces until the service answers.

    Returns how many bytes were sent before the answer (a 413): far fewer than a GiB.
    """
    context = ssl.create_default_context(cafile=str(cert))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {1 << 30}\r\n\r\n".encode()
        )
        sent, piece = 0, b"\0" * (64 << 10)
        while sent < (1 << 30):
            readable, _, _ = select.select([tls], [], [], 0)
            if readable or tls.pending():
                break
            try:
                tls.sendall(piece)
            except OSError:
                break  # the service closed the connection: the answer is waiting
            sent += len(piece)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
        answer = data.decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert '"code":"release-too-large"' in answer.replace(" ", "")
    return sent


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.slow
@pytest.mark.softhsm
def test_a_remote_opening_over_tls(pki: Pki, softhsm: SoftHsm, tmp_path: Path) -> None:
    require_tool("faketime")
    folder = tmp_path / "bids"
    folder.mkdir()
    packages = {
        b: make_package(pki, folder, b, authority=False, name=b) for b in ("bidder-a", "bidder-b", "bidder-c")
    }
    backup = folder / "bidder-b-2-backup.tar"
    lot2 = make_package(pki, folder, "bidder-b", lot="2", authority=False, name="b2", backup=backup)

    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    session = remote_session(pki, tmp_path / "session", deadline, lots=("1", "2"))
    receipts = {b: session.submit(p) for b, p in packages.items()}
    receipt_b2 = session.submit(lot2)
    session_id = str(session.session_id)
    profile_sha = hashlib.sha256(session.profile_bytes()).hexdigest()

    cert, key = self_signed(tmp_path)
    env = {
        "BIDCRYPT_PIN": pki.pin,
        "BIDCRYPT_PKCS11_MODULE": softhsm.module,
        "SOFTHSM2_CONF": str(softhsm.config),
    }
    clock = Shifted((deadline - dt.datetime.now(dt.UTC)).total_seconds() + 5, env)
    service = Service(tmp_path / "session", cert, key, clock)
    service.start()
    url = f"https://127.0.0.1:{service.port}/s/{session_id}/"
    remote = RemoteSession(url, ca=cert)
    try:
        assert remote.status()["window"]["state"] == "not-started"
        untrusted = clock.run("remote", "status", url)  # the self-signed certificate, without --ca
        assert untrusted.returncode == 99 and "remote-unreachable" in untrusted.stderr, untrusted.stderr
        assert json.loads(clock.ok("remote", "status", url, "--ca", cert, "--json"))["session"] == session_id

        # 签到: each bidder signs a fresh challenge on their UKey
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            signed = json.loads(
                clock.ok(
                    "remote",
                    "signin",
                    url,
                    "--key",
                    f"pkcs11:token={bidder}",
                    "--ca",
                    cert,
                    "--profile-sha256",
                    profile_sha,
                    "--json",
                )
            )
            assert signed["credit_code"] == receipts[bidder].credit_code
        wrong = clock.run(
            "remote",
            "signin",
            url,
            "--key",
            "pkcs11:token=bidder-a",
            "--ca",
            cert,
            "--profile-sha256",
            "0" * 64,
        )
        assert wrong.returncode == 3 and "profile" in wrong.stderr  # another profile than announced

        clock.ok("opening", "start", session.directory, "--window", "30m")  # the official, at the faked time
        # A releases from their own copy, B from the front the service hands out
        a = json.loads(
            clock.ok(
                "remote",
                "release",
                url,
                packages["bidder-a"],
                "--key",
                "pkcs11:token=bidder-a",
                "--ca",
                cert,
                "--json",
            )
        )
        assert a["status"] == "opened" and a["submission"] == receipts["bidder-a"].submission
        clock.ok(
            "remote",
            "release",
            url,
            "--receipt",
            receipts["bidder-b"].sha256,
            "--key",
            "pkcs11:token=bidder-b",
            "--ca",
            cert,
        )

        # hostile requests, each refused with its code and recorded
        assert remote_refusal(remote, b"garbage, not a release") == (400, "release-malformed")
        accepted = session.ledger.one(
            "SELECT body FROM releases WHERE verdict = 'accepted' ORDER BY id LIMIT 1"
        )
        assert accepted is not None
        assert remote_refusal(remote, bytes(accepted["body"])) == (409, "release-replayed")
        sent = one_gigabyte_refused_early(service.port, cert, f"/s/{session_id}/release")
        assert sent < (64 << 20)
        codes = [
            r["code"] for r in session.ledger.query("SELECT code FROM releases WHERE verdict = 'refused'")
        ]
        assert codes == ["release-malformed", "release-replayed", "release-too-large"]

        # the official pauses for a recorded outage; the service is killed and comes back 10 minutes later
        clock.ok("opening", "pause", session.directory, "--reason", OUTAGE)
        before = remote.status()
        assert before["window"]["state"] == "paused"
        service.kill()
        clock.offset += 600
        service.start()
        after = remote.status()
        assert after["window"]["state"] == "paused"
        assert after["window"]["remaining"] == before["window"]["remaining"]  # paused time is not counted
        assert after["bidders"] == before["bidders"]  # no release lost
        clock.ok("opening", "resume", session.directory)

        # B hands over the backup copy of their lot-2 bid
        handed = remote.backup(receipt_b2.sha256, backup)
        assert handed["status"] == "opened"

        status = remote.status()
        assert status["window"]["state"] == "running"
        assert 0 < status["window"]["remaining"] <= before["window"]["remaining"]
        by_bidder = {b["credit_code"]: b for b in status["bidders"]}
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            assert by_bidder[receipts[bidder].credit_code]["signed_in_at"] is not None
        page = hall_text(tmp_path, url + "hall", tmp_path / "hall-running.png")
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            assert receipts[bidder].bidder in page
        for text in (
            "开标大厅",
            "已签到",
            "已解密",
            "投标人解密",
            "备用文件解密",
            "待解密",
            "平台网络故障",
            "剩余时间",
        ):
            assert text in page, text

        # the close: C never released (视为撤销); a release after it is refused
        clock.ok("opening", "close", session.directory)
        late = clock.run(
            "remote", "release", url, packages["bidder-c"], "--key", "pkcs11:token=bidder-c", "--ca", cert
        )
        # refused for the window (though the bid has its outcome, 视为撤销, by now), with the exit code
        # of the service's error code
        assert late.returncode == 69 and "window-closed" in late.stderr, late.stderr

        record = remote.status()["record"]
        outcomes = {(r["credit_code"], r["lot"]): r for r in record["rows"]}
        assert outcomes[(receipts["bidder-a"].credit_code, "1")]["status"] == "opened"
        assert outcomes[(receipts["bidder-b"].credit_code, "1")]["status"] == "opened"
        assert outcomes[(receipts["bidder-b"].credit_code, "2")]["status"] == "opened"
        revoked = outcomes[(receipts["bidder-c"].credit_code, "1")]
        assert revoked["status"] == "not-decrypted" and "视为撤销" in revoked["cause_zh"]
        opened_by = {(b["receipt"]): b["opened_by"] for x in remote.status()["bidders"] for b in x["bids"]}
        assert opened_by[receipts["bidder-a"].submission] == "release"
        assert opened_by[receipts["bidder-b"].submission] == "release"
        assert opened_by[receipt_b2.submission] == "backup"
        english = hall_text(tmp_path, url + "hall?lang=en", tmp_path / "hall-closed-en.png")
        for text in (
            "Opening hall",
            "Opening record",
            "not decrypted",
            "from the backup copy",
            "deemed revoked",
        ):
            assert text in english, text

        # a watcher of the event stream stays connected through the rest
        watcher = ssl.create_default_context(cafile=str(cert)).wrap_socket(
            socket.create_connection(("127.0.0.1", service.port), timeout=30), server_hostname="127.0.0.1"
        )
        watcher.sendall(f"GET /s/{session_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        seen = b""
        while b"event: status" not in seen:
            seen += watcher.recv(65536)
        assert b"text/event-stream" in seen

        # the rate limit of one address
        codes = [flood_status(remote) for _ in range(1)]
        assert codes == [429]
        assert service.terminate() == 143  # SIGTERM: a graceful shutdown (the open stream is ended), then 143
        watcher.close()
    finally:
        service.stop()
        session.close_ledger()
    log = service.log.read_text()
    assert "Traceback" not in log, log


def remote_refusal(remote: RemoteSession, body: bytes) -> tuple[int, str]:
    from bidcrypt.errors import RemoteRefusedError

    try:
        remote.release(body)
    except RemoteRefusedError as refused:
        return int(refused.params["http_status"]), str(refused.params["remote_code"])
    raise AssertionError("accepted")


def flood_status(remote: RemoteSession) -> int:
    """Ask for the status until the service refuses; the refusal's HTTP status (at most 1000 asks)."""
    from bidcrypt.errors import RemoteRefusedError

    for _ in range(1000):
        try:
            remote.status()
        except RemoteRefusedError as refused:
            assert refused.params["remote_code"] == "rate-limited"
            return int(refused.params["http_status"])
    return 200
