"""The command line starts without pyHanko: only sealing and verifying seals need it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

REPORT = """
import json, sys
print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] == "pyhanko")))
"""


def _pyhanko_modules(code: str) -> list[str]:
    """The pyhanko modules a fresh interpreter has loaded after running *code*."""
    result = subprocess.run(
        [sys.executable, "-c", code + REPORT], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_importing_the_command_line_does_not_import_pyhanko() -> None:
    assert _pyhanko_modules("import bidcrypt.cli") == []


@pytest.mark.parametrize(
    "args", [["--help"], ["envelope", "--help"], ["seal", "apply", "--help"], ["doctor", "--help"]]
)
def test_commands_that_do_not_seal_do_not_import_pyhanko(args: list[str]) -> None:
    code = f"from bidcrypt.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"
    assert _pyhanko_modules(code) == []
