"""An opening on the SKF standard path killed while the token decrypts: nothing left, the next run finishes.

The token's content decryption runs in the command's own process (the key
cannot leave the token), so a kill lands in the middle of it. The moment is
an event of the run (the token's first ``SKF_DecryptUpdate``), never a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Pki
from tests.opening.conftest import make_package, move_opening_time_back
from tests.opening.test_kills import MARK, assert_ledger_and_folder_agree, wait_for_no_processes
from tests.opening.test_sm2_opening import mixed_session
from tests.skf.softskf import SoftSkf

Factory = Callable[..., SoftSkf]
BIDDERS = ("sm2/bidder-b", "sm2/bidder-c")


@pytest.fixture(scope="module")
def big_bids(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, sm2_sealed_pdfs: dict[str, Path]
) -> list[Path]:
    """Two SM2 bids of 8 MiB to the SM2 authority: the token decrypts each in many chunks."""
    directory = tmp_path_factory.mktemp("skf-kill-bids")
    return [
        make_package(
            pki,
            directory,
            bidder,
            authority="sm2/authority/enc",
            size=8 << 20,
            sealed_pdf=sm2_sealed_pdfs[bidder],
        )
        for bidder in BIDDERS
    ]


def _wait_for_token_decryption(token: SoftSkf, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < give_up:
        if token.counters("sm2-authority").get("decrypt_update", 0) > 0:
            return
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_while_the_token_decrypts_leaves_nothing_and_the_next_run_finishes(
    softskf_factory: Factory, pki: Pki, tmp_path: Path, big_bids: list[Path], stop: signal.Signals
) -> None:
    token = softskf_factory(["sm2/authority"])
    session = mixed_session(pki, tmp_path / "session", BIDDERS)
    for path in big_bids:
        session.submit(path)
    move_opening_time_back(session)
    session.close_ledger()
    marker = uuid.uuid4().hex
    env = dict(os.environ, BIDCRYPT_PIN=pki.pin, SOFTSKF_ROOT=str(token.root), **{MARK: marker})
    command = [sys.executable, "-m", "bidcrypt", "opening", "open", str(session.directory),
               "--key", token.uri("sm2-authority", fast=False)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_token_decryption(token, process)
    assert process.poll() is None, "the run ended before the token decrypted anything"
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert wait_for_no_processes(marker) == []
    if stop == signal.SIGTERM:
        assert process.returncode == 143, stderr
        assert b"Traceback" not in stderr
        assert not [p for p in (session.directory / "opened").iterdir() if p.name.startswith(".")]
    assert_ledger_and_folder_agree(session.directory, expect_all_opened=False)
    finish = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert finish.returncode == 0, finish.stderr
    assert wait_for_no_processes(marker) == []
    assert_ledger_and_folder_agree(session.directory, expect_all_opened=True)
    assert not [p for p in (session.directory / "opened").iterdir() if p.name.startswith(".")]
