"""The error hierarchy and its exit codes: stable, unique, documented, bilingual."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bidcrypt import errors
from bidcrypt.cli.exit_codes import EXIT_CODES, exit_code_for

from .conftest import ROOT, run_bidcrypt

ALL_ERRORS = [
    cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.BidcryptError)
]


def test_every_error_has_an_exit_code_and_a_unique_code() -> None:
    assert set(ALL_ERRORS) == set(EXIT_CODES)
    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.code)
def test_messages_in_both_languages(cls: type[errors.BidcryptError]) -> None:
    error = cls(
        path="x",
        module="m",
        token="t",
        available="a",
        what="w",
        ref="r",
        source="s",
        subject="S",
        not_after="2024",
        not_before="2050",
        purpose="p",
        usage="u",
        wanted="w",
        revoked_at="d",
        actual="A",
        expected="E",
        value="v",
        algorithm="a",
        reason="R",
        deadline="D",
        opening_time="O",
        operation="o",
        url="u",
        credit_code="c",
        bidder="b",
        closed_at="t",
        paused_at="p",
        started_at="s",
        rule="r",
        limit="L",
        container="C",
        application="A",
        address="ad",
        given="g",
        member="m",
        members="n",
        nonce="no",
        option="op",
        quorum="q",
        released="rl",
        remote_code="rc",
        remote_message="rm",
        retry_after="ra",
        session="se",
        sha256="h",
        signer="si",
        size="sz",
        state="st",
        submission="su",
    )
    assert "{" not in error.message("en") and "{" not in error.message("zh")
    assert error.message("en") != error.message("zh")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.message("zh"))
    assert cls.__doc__


def test_subclass_takes_the_nearest_code() -> None:
    class NewEnvelopeProblem(errors.EnvelopeError):
        pass

    assert exit_code_for(NewEnvelopeProblem()) == EXIT_CODES[errors.EnvelopeError]


def test_readme_exit_code_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_exit_codes.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_usage_error_is_exit_2() -> None:
    assert run_bidcrypt("doctor").returncode == 2


def test_unexpected_exception_is_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = (
        "import bidcrypt.doctor as d\n"
        "def boom(*a, **k): raise RuntimeError('boom')\n"
        "d.examine = boom\n"
        "import bidcrypt.cli.doctor as c; c.examine = boom\n"
        "from bidcrypt.cli import main; main(['doctor', '--token', 'x.p12'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 70
    assert "Traceback" not in result.stderr
    assert "internal error (RuntimeError)" in result.stderr
