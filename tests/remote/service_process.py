"""``bidcrypt serve`` as a real process for the end-to-end tests: TLS made here, its clock moved.

The served process and every command of the test run with their clock
moved by one offset (libfaketime, as ``run_bidcrypt(clock_at=...)`` does):
past the session's opening time, so that nothing waits for a deadline.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..conftest import moved_clock

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_remote
import moved_clock as moved_clock_script


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed TLS certificate for 127.0.0.1 and localhost, and its key (PEM files): the demo's."""
    return demo_remote.self_signed_tls(directory)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Shifted:
    """Commands run with the clock moved by *offset* seconds (faketime), in this environment."""

    offset: float
    env: dict[str, str]

    def now(self) -> dt.datetime:
        """The moved clock's time now."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset)

    def argv(self, *args: object) -> list[str]:
        """The command line of ``bidcrypt ARGS``."""
        return [sys.executable, "-m", "bidcrypt", *[str(a) for a in args]]

    def environment(self) -> dict[str, str]:
        """This process's environment with :attr:`env`, and the clock moved unless the offset is zero."""
        return {**os.environ, **self.env, **(moved_clock(self.offset) if self.offset else {})}

    def run(self, *args: object) -> subprocess.CompletedProcess[str]:
        environment = self.environment()
        return subprocess.run(self.argv(*args), capture_output=True, text=True, env=environment, timeout=300)

    def ok(self, *args: object) -> str:
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout


@dataclass
class Service:
    """A running ``bidcrypt serve`` of one session, over TLS on loopback."""

    session: Path
    cert: Path
    key: Path
    clock: Shifted
    port: int = field(default_factory=free_port)
    burst: int = 80
    rate: float = 2.0
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        argv = self.clock.argv(
            "serve",
            self.session,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--tls-cert",
            self.cert,
            "--tls-key",
            self.key,
            "--rate",
            self.rate,
            "--burst",
            self.burst,
        )
        self.log = self.session.parent / f"serve-{self.port}-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(  # its own process group: its children go with it
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.clock.environment(),
                start_new_session=True,
            )
        context = ssl.create_default_context(cafile=str(self.cert))
        for _ in range(600):  # the process starting, not a deadline: at most a minute
            if self.process.poll() is not None:
                raise AssertionError(f"bidcrypt serve exited: {self.log.read_text()}")
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1"),
                ):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("bidcrypt serve did not start")

    def kill(self) -> None:
        """SIGKILL to the service and its process group: no clean-up at all."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_closed()
        self._remove_clock_leftovers()

    def terminate(self) -> int:
        """SIGTERM to the service, and the exit status of its graceful shutdown."""
        assert self.process is not None
        self.process.terminate()
        status = self.process.wait(timeout=30)
        self._remove_clock_leftovers()
        return status

    def _remove_clock_leftovers(self) -> None:
        """libfaketime names its semaphore and shared memory by the pid of the process that made them
        (the service) and removes them at a normal exit; a service ended by a signal leaves them."""
        assert self.process is not None
        moved_clock_script.remove_leftovers(self.process.pid)

    def _wait_closed(self) -> None:
        """Until nothing listens on the port any more (the killed process is gone)."""
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.1)
        raise AssertionError("the killed service still listens")

    def stop(self) -> None:
        """SIGKILL to the service, if it still runs (the end of a test)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self._remove_clock_leftovers()
