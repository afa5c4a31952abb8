"""`bidcrypt version` and `--version`: bidcrypt's own version (from its metadata) and its libraries'."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata

from cryptography.hazmat.backends.openssl import backend

import bidcrypt

from ..conftest import ROOT, run_cli


def test_the_version_comes_from_the_metadata_of_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert bidcrypt.__version__ == metadata.version("bidcrypt") == declared


def test_version_json_names_each_library() -> None:
    result = run_cli("version", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["bidcrypt"] == bidcrypt.__version__
    assert report["openssl"] == backend.openssl_version_text() and report["openssl"].startswith("OpenSSL ")
    assert report["pyhanko"] == metadata.version("pyhanko")
    assert report["python-pkcs11"] == metadata.version("python-pkcs11")
    assert report["pyhanko-certvalidator"] == metadata.version("pyhanko-certvalidator")


def test_the_option_and_the_command_say_the_same() -> None:
    option = run_cli("--version")
    command = run_cli("version")
    assert option.exit_code == command.exit_code == 0
    assert option.stdout == command.stdout
    lines = option.stdout.splitlines()
    assert lines[0] == f"bidcrypt {bidcrypt.__version__}"
    assert {line.split()[0] for line in lines} >= {"bidcrypt", "openssl", "pyhanko", "python-pkcs11"}


def test_the_version_does_not_import_pyhanko() -> None:
    code = (
        "import sys\nfrom bidcrypt.cli import main\n"
        "try:\n    main(['version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('pyhanko')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"
