"""The processes `opening open` starts never hold the PIN in their environment.

The fork server the workers come from is started early, while the key is
opened (:func:`bidcrypt.opening.start_fork_server`): it must start once the
PIN variable is withheld, and so must every worker forked from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ..conftest import Pki
from .conftest import make_package, move_opening_time_back, new_session
from .test_kills import MARK, marked_processes, wait_for_no_processes


def _environment_of(pid: int) -> list[bytes] | None:
    try:
        return (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None


def test_no_process_of_the_opening_has_the_pin_in_its_environment(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s", lots=("1", "2"))
    for lot in ("1", "2"):
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            session.submit(make_package(pki, tmp_path, bidder, lot=lot, size=1 << 20))
    move_opening_time_back(session)
    session.close_ledger()
    marker = uuid.uuid4().hex
    command = [sys.executable, "-m", "bidcrypt", "opening", "open", str(session.directory),
               "--key", str(pki.p12("authority/enc")), "--workers", "2"]  # fmt: skip
    environment = dict(os.environ, BIDCRYPT_PIN=pki.pin, **{MARK: marker})
    seen: dict[int, list[bytes]] = {}
    with subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as opening:
        while opening.poll() is None:
            for pid in marked_processes(marker):
                if pid != opening.pid and pid not in seen and (found := _environment_of(pid)) is not None:
                    seen[pid] = found
            time.sleep(0.01)
        _, errors = opening.communicate()
    assert opening.returncode == 0, errors.decode()
    assert seen, "no child process of the opening was seen"  # the fork server lives the whole run
    pin = f"BIDCRYPT_PIN={pki.pin}".encode()
    assert not [pid for pid, found in seen.items() if any(v.startswith(b"BIDCRYPT_PIN=") for v in found)]
    assert all(pin not in found for found in seen.values())
    assert not wait_for_no_processes(marker)
