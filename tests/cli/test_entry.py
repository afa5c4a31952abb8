"""The program's entry (:func:`bidcrypt.cli.run`): `opening open` starts its workers' server first.

That the server and its workers never hold the PIN is checked on real
processes in ``tests/opening/test_worker_environment.py``; here, which
command lines start it, and which variables are withheld meanwhile.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bidcrypt.cli
from bidcrypt.cli import opens_bids, pin_variables
from bidcrypt.keys import DEFAULT_PIN_ENV


@pytest.mark.parametrize(
    "arguments",
    [
        ["opening", "open", "S", "--key", "k.p12"],
        ["-v", "opening", "open", "S"],
        ["--verbose", "-v", "opening", "open", "S", "--workers", "2"],
    ],
)
def test_opening_open_starts_the_workers_server(arguments: list[str]) -> None:
    assert opens_bids(arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["opening"],
        ["opening", "record", "S"],
        ["opening", "open", "--help"],
        ["-h", "opening", "open", "S"],
        ["opening", "open", "S", "-h"],
        ["unpack", "opening", "open"],
        ["--version", "opening", "open", "S"],
        ["open", "opening", "S"],
    ],
)
def test_other_command_lines_start_nothing(arguments: list[str]) -> None:
    assert not opens_bids(arguments)


def test_the_default_pin_variable_is_the_key_sources() -> None:
    assert pin_variables([]) == {DEFAULT_PIN_ENV}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["opening", "open", "S", "--pin-env", "MY_PIN"], {DEFAULT_PIN_ENV, "MY_PIN"}),
        (["opening", "open", "S", "--pin-env=MY_PIN"], {DEFAULT_PIN_ENV, "MY_PIN"}),
        (["opening", "open", "S", "--pin-env"], {DEFAULT_PIN_ENV}),
    ],
)
def test_pin_env_names_one_more_variable(arguments: list[str], expected: set[str]) -> None:
    assert pin_variables(arguments) == expected


@given(st.lists(st.text(min_size=1, max_size=12), max_size=8), st.text(min_size=1, max_size=12))
def test_a_variable_pin_env_names_is_always_withheld(words: list[str], name: str) -> None:
    for at in range(len(words) + 1):
        arguments = [*words[:at], "--pin-env", name, *words[at:]]
        assert {name, DEFAULT_PIN_ENV} <= pin_variables(arguments)
        assert name in pin_variables([*words[:at], f"--pin-env={name}", *words[at:]])


def test_run_starts_the_server_with_the_pin_variables_then_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[object] = []
    monkeypatch.setattr(bidcrypt.cli, "start_fork_server", lambda withheld: events.append(set(withheld)))
    monkeypatch.setattr(sys, "argv", ["bidcrypt", "opening", "open", "--help", "--pin-env", "X"])
    with pytest.raises(SystemExit) as help_exit:  # help: nothing started
        bidcrypt.cli.run()
    assert help_exit.value.code == 0 and events == []
    monkeypatch.setattr(sys, "argv", ["bidcrypt", "opening", "open", "/nonexistent/s", "--pin-env", "X"])
    with pytest.raises(SystemExit) as opened:
        bidcrypt.cli.run()
    assert events == [{DEFAULT_PIN_ENV, "X"}]
    assert opened.value.code != 0  # the command itself ran: the session is not there


def test_a_server_that_cannot_start_early_is_left_to_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The head start fails (a full /tmp, no process left): the command still runs and reports."""
    import multiprocessing.forkserver

    def no_space() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", no_space)
    monkeypatch.setenv("BIDCRYPT_PIN", "secret")
    monkeypatch.setattr(sys, "argv", ["bidcrypt", "opening", "open", str(tmp_path / "none"), "--json"])
    with pytest.raises(SystemExit) as exited:
        bidcrypt.cli.run()
    assert exited.value.code not in (0, 1, 70)  # the command's own verdict: no such session
    assert os.environ["BIDCRYPT_PIN"] == "secret"  # put back after the failed start
