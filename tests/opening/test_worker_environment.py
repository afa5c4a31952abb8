"""The processes `opening open` starts never hold the PIN in their environment.

The fork server the workers come from is started first thing, before the
command line loads (:func:`bidcrypt.cli.run`): it must start with the PIN
variable withheld, the default one or the one ``--pin-env`` names, and so
must every worker forked from it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..conftest import Pki
from .conftest import make_package, move_opening_time_back, new_session
from .test_kills import MARK, marked_processes, wait_for_no_processes


def _environment_of(pid: int) -> list[bytes] | None:
    try:
        return (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None


def _ignores_hang_up(pid: int) -> bool | None:
    """Whether the process ignores SIGHUP (its ``SigIgn`` mask in /proc), None when it is gone."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")]
    return bool(int(mask, 16) >> (signal.SIGHUP - 1) & 1)


@pytest.mark.parametrize(
    ("before", "variable"),
    [([], "BIDCRYPT_PIN"), (["-v"], "BIDCRYPT_PIN"), ([], "OFFICIAL_UKEY_PIN")],
    ids=["default", "verbose", "pin-env"],
)
def test_no_process_of_the_opening_has_the_pin_in_its_environment(
    pki: Pki, tmp_path: Path, before: list[str], variable: str
) -> None:
    session = new_session(pki, tmp_path / "s", lots=("1", "2"))
    for lot in ("1", "2"):
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            session.submit(make_package(pki, tmp_path, bidder, lot=lot, size=1 << 20))
    move_opening_time_back(session)
    session.close_ledger()
    marker = uuid.uuid4().hex
    command = [sys.executable, "-m", "bidcrypt", *before, "opening", "open", str(session.directory),
               "--key", str(pki.p12("authority/enc")), "--workers", "2"]  # fmt: skip
    if variable != "BIDCRYPT_PIN":
        command += ["--pin-env", variable]
    environment = {k: v for k, v in os.environ.items() if k != "BIDCRYPT_PIN"}
    environment.update({variable: pki.pin, MARK: marker})
    # Each process's environment as last read. A child caught between its fork and its exec still
    # shows its parent's environment (the opening's own, with the PIN): the next read, after the
    # exec, replaces it. A child forked and never exec'd keeps it, and the test fails.
    seen: dict[int, list[bytes]] = {}
    hang_up: dict[int, bool | None] = {}  # and whether it ignores SIGHUP (a closed terminal is the opening's)
    with subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as opening:
        while opening.poll() is None:
            for pid in marked_processes(marker):
                if pid != opening.pid and (found := _environment_of(pid)) is not None:
                    seen[pid] = found
                    hang_up[pid] = _ignores_hang_up(pid)
            time.sleep(0.01)
        _, errors = opening.communicate()
    assert opening.returncode == 0, errors.decode()
    assert seen, "no child process of the opening was seen"  # the fork server lives the whole run
    pin, name = f"{variable}={pki.pin}".encode(), f"{variable}=".encode()
    assert not [pid for pid, found in seen.items() if any(v.startswith(name) for v in found)]
    assert all(pin not in found for found in seen.values())
    assert False not in hang_up.values()  # the fork server, the resource tracker, the workers
    assert not wait_for_no_processes(marker)
