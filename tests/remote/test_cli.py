"""`bidcrypt serve` refuses what it cannot serve before it listens; `bidcrypt remote` refuses bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..conftest import Pki, run_cli
from ..opening.conftest import new_session
from .conftest import Served


def test_serve_refuses_a_session_without_a_profile(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "local", deadline=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    session.close_ledger()
    result = run_cli("serve", tmp_path / "local", "--bind", "127.0.0.1:1")
    assert result.exit_code == 3 and "not a remote-opening session" in result.stderr


def test_serve_refuses_bad_bindings_and_half_tls(served: Served, tmp_path: Path) -> None:
    for bind in ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":8443", "host:port"):
        result = run_cli("serve", served.folder, "--bind", bind)
        assert result.exit_code == 3, (bind, result.stderr)
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    half = run_cli("serve", served.folder, "--bind", "127.0.0.1:1", "--tls-cert", cert)
    assert half.exit_code == 3 and "--tls-key" in half.stderr
    broken = run_cli("serve", served.folder, "--bind", "127.0.0.1:1", "--tls-cert", cert, "--tls-key", cert)
    assert broken.exit_code == 3 and "TLS" in broken.stderr
    twice = run_cli("serve", served.folder, served.folder, "--bind", "127.0.0.1:1")
    assert twice.exit_code == 3 and "twice" in twice.stderr


def test_remote_refuses_bad_urls_and_arguments(tmp_path: Path) -> None:
    result = run_cli("remote", "status", "file:///etc/passwd")
    assert result.exit_code == 3
    both = run_cli("remote", "release", "https://127.0.0.1:1/s/x/", "--key", "k.p12")
    assert both.exit_code == 2  # neither BID nor --receipt
    unreachable = run_cli("remote", "status", "https://127.0.0.1:1/s/x/")
    assert unreachable.exit_code == 99 and "remote-unreachable" in unreachable.stderr
