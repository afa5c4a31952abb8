"""One command line: `--key` for every key reference, `--json` for every report, `-v` on the root."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from bidcrypt.cli import main

from ..conftest import Pki, run_cli
from ..opening.conftest import TENDER, make_package


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


COMMANDS = dict(_commands(main))


def _option(command: click.Command, name: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and name in p.opts), None)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_json(name: str) -> None:
    option = _option(COMMANDS[name], "--json")
    assert option is not None and option.is_flag, f"bidcrypt {name} has no --json"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_key_reference_is_named_key(name: str) -> None:
    for param in COMMANDS[name].params:
        if isinstance(param, click.Option) and (param.metavar or "").endswith("KEYREF"):
            assert param.opts[0] == "--key", f"bidcrypt {name}: {param.opts}"


def test_the_old_names_remain_aliases() -> None:
    aliases = {"pack": "--signer", "doctor": "--token", "envelope encrypt": "--for-key"}
    for name, alias in aliases.items():
        option = _option(COMMANDS[name], "--key")
        assert option is not None and option.opts == ["--key", alias]
        assert f"--key, {alias} KEYREF" in run_cli(*name.split(), "--help").stdout


def test_doctor_takes_the_key_by_either_name(pki: Pki, pin_env: str) -> None:
    p12 = str(pki.p12("bidder-a/enc"))
    by_key = run_cli("doctor", "--key", p12, "--json")
    by_token = run_cli("doctor", "--token", p12, "--json")
    assert by_key.exit_code == by_token.exit_code
    reports = [json.loads(r.stdout) for r in (by_key, by_token)]
    for report in reports:
        report.pop("checked_at")  # the clock moved on between the two
    assert reports[0] == reports[1] and reports[0]["reference"].endswith("enc.p12")


def test_envelope_encrypt_json(pki: Pki, tmp_path: Path) -> None:
    source = tmp_path / "投标文件.txt"
    source.write_bytes(b"bid" * 1000)
    result = run_cli(
        "envelope", "encrypt", source, "-o", tmp_path / "out.p7m", "--json",
        "--recipient", pki.cert("bidder-a/enc"), "--recipient", pki.cert("bidder-b/enc"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["plaintext_size"] == 3000
    assert report["envelope_size"] == (tmp_path / "out.p7m").stat().st_size
    assert report["cipher"] == "aes-256-gcm" and report["authenticated"] is True
    assert [r["key_transport"] for r in report["recipients"]] == ["pkcs1v15", "ecdh"]
    # The note on the default transport still goes to stderr, never into the JSON.
    assert "PKCS#1 v1.5" in result.stderr


def test_opening_commands_report_json(pki: Pki, tmp_path: Path) -> None:
    session = tmp_path / "session"
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    created = run_cli(
        "opening", "create", session, "--tender", TENDER, "--lot", "1", "--json",
        "--deadline", deadline.isoformat(), "--opening-time", deadline.isoformat(),
        "--trust", pki.roots, "--trust", pki.intermediates, "--max-package-size", "1MiB",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) == {
        "session": str(session),
        "tender": TENDER,
        "lots": ["1"],
        "deadline": deadline.strftime("%Y-%m-%d %H:%M:%SZ"),
        "opening_time": deadline.strftime("%Y-%m-%d %H:%M:%SZ"),
        "max_package_size": 1 << 20,
    }
    company = pki.company("bidder-a")
    code = company["credit_code"]
    registered = run_cli(
        "opening", "register", session, "--name", company["name"], "--uscc", code, "--json",
        "--cert", pki.cert("bidder-a/enc"),
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    report = json.loads(registered.stdout)
    assert report["credit_code"] == code and len(report["certificates"]) == 1
    bound = run_cli("opening", "bind", session, "--uscc", code, "--cert", pki.cert("bidder-a/enc"), "--json")
    assert bound.exit_code == 0, bound.output
    assert json.loads(bound.stdout)["serial"] == report["certificates"][0]["serial"]

    package = make_package(pki, tmp_path, "bidder-a")
    assert run_cli("opening", "submit", session, package).exit_code == 0
    withdrawn = run_cli("opening", "withdraw", session, "--uscc", code, "--lot", "1", "--json")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert json.loads(withdrawn.stdout)["withdrawn"] == 1

    closed = run_cli("opening", "close", session, "--json")
    assert closed.exit_code == 0, closed.output
    report = json.loads(closed.stdout)
    assert (report["session"], report["not_decrypted"], report["deemed_revoked"]) == (str(session), 0, [])

    record = run_cli("opening", "report", session, "--json")
    assert record.exit_code == 0, record.output
    assert record.stdout == run_cli("opening", "report", session, "--format", "json").stdout
    assert json.loads(record.stdout)
    assert run_cli("opening", "report", session, "--json", "--format", "csv").exit_code == 2


def _crash(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command whose library call fails unexpectedly (a bug), reporting BIDCRYPT_DEBUG as it ran."""
    script = (
        "import os, sys\n"
        "import bidcrypt.doctor as d\n"
        "def boom(*a, **k):\n"
        "    print('debug=' + repr(os.environ.get('BIDCRYPT_DEBUG')), file=sys.stderr)\n"
        "    raise RuntimeError('boom')\n"
        "d.examine = boom  # before the command line imports it\n"
        "from bidcrypt.cli import main\n"
        f"main({list(args)!r})\n"
    )
    full = {k: v for k, v in os.environ.items() if k != "BIDCRYPT_DEBUG"} | env
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=full, check=False
    )


def test_verbose_shows_the_traceback_as_bidcrypt_debug_did() -> None:
    quiet = _crash("doctor", "--key", "x.p12", env={})
    assert quiet.returncode == 70 and "Traceback" not in quiet.stderr
    assert "debug=None" in quiet.stderr and "bidcrypt -v" in quiet.stderr
    for args, env in (
        (("-v", "doctor", "--key", "x.p12"), {}),
        (("--verbose", "doctor", "--key", "x.p12"), {}),
        (("doctor", "--key", "x.p12"), {"BIDCRYPT_DEBUG": "1"}),
    ):
        loud = _crash(*args, env=env)
        assert loud.returncode == 70
        assert "Traceback" in loud.stderr and "RuntimeError: boom" in loud.stderr
        # Set for the command, so the worker processes of an opening are verbose too.
        assert "debug='1'" in loud.stderr


def test_verbose_leaves_the_environment_as_it_was(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIDCRYPT_DEBUG", raising=False)
    result = run_cli("-v", "envelope", "inspect", pki.cert("bidder-a/enc"))
    assert result.exit_code != 0
    assert "BIDCRYPT_DEBUG" not in os.environ


@pytest.mark.parametrize(("args", "shown"), [(["version"], False), (["-v", "version"], True)])
def test_verbose_leaves_the_library_logs_alone(args: list[str], shown: bool) -> None:
    script = (
        "import logging, os\nfrom bidcrypt.cli import main\n"
        f"main({args!r}, standalone_mode=False)\n"
        "print(logging.getLogger('pyhanko').propagate)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BIDCRYPT_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.splitlines()[-1] == str(shown)
