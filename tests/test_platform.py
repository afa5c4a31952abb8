"""The library on a platform without fcntl and os.pread (Windows, where bidders' UKey drivers live).

A child interpreter is made to look like Windows: ``fcntl`` and the other
POSIX-only modules cannot be imported, and ``os.pread``, ``os.pwrite``,
``os.copy_file_range``, the POSIX-only open flags and uid calls are gone.
In it, every bidcrypt module imports, an envelope makes the round trip,
and in-place re-encryption refuses with a clear "not on this platform".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import Pki

LIKE_WINDOWS = """
import os, sys

class WindowsHasNo:
    def find_spec(self, name, path=None, target=None):
        if name in {"fcntl", "termios", "resource", "pwd", "grp"}:
            raise ImportError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, WindowsHasNo())
for name in ("fcntl", "termios", "resource", "pwd", "grp"):
    sys.modules.pop(name, None)
for name in ("pread", "pwrite", "copy_file_range", "O_NOFOLLOW", "O_NONBLOCK", "O_DIRECTORY", "O_NOCTTY",
             "O_CLOEXEC", "geteuid", "getuid", "sync", "set_blocking"):
    if hasattr(os, name):
        delattr(os, name)
"""

CHECKS = """
import hashlib, importlib, json, pkgutil
from pathlib import Path
import bidcrypt

failed = {}
for info in pkgutil.walk_packages(bidcrypt.__path__, "bidcrypt."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed[info.name] = repr(exc)

from bidcrypt import _platform
from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder, decrypt_file, reencrypt
from bidcrypt.errors import OutputError
from bidcrypt.files import atomic_output, remove_stale_outputs
from bidcrypt.keys import PinSource, open_key_source

directory, pki, pin = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
plain = os.urandom(300_000)
(directory / "bid.tar").write_bytes(plain)
certificate = load_certificate(pki / "bidder-a" / "enc.pem")
builder = EnvelopeBuilder().add_recipient(certificate).set_reserve(4096)
builder.encrypt_file(directory / "bid.tar", directory / "bid.p7m")
with open_key_source(str(pki / "bidder-a" / "enc.p12"), PinSource.of_value(pin)) as keys:
    decrypt_file(directory / "bid.p7m", directory / "out.tar", keys)
    before = hashlib.sha256((directory / "bid.p7m").read_bytes()).hexdigest()
    try:
        reencrypt(directory / "bid.p7m", None, keys, [certificate])
        in_place = "done"
    except OutputError as error:
        in_place = error.message()
    after = hashlib.sha256((directory / "bid.p7m").read_bytes()).hexdigest()
print(json.dumps({
    "failed": failed,
    "flock": _platform.HAS_FLOCK,
    "pread": _platform.HAS_PREAD,
    "fcntl_loaded": "fcntl" in sys.modules,
    "round_trip": (directory / "out.tar").read_bytes() == plain,
    "in_place": in_place,
    "unchanged": before == after,
    "stale_removed": remove_stale_outputs(directory),
    "left": sorted(p.name for p in directory.iterdir()),
}))
"""


def test_the_library_works_without_fcntl_and_pread(tmp_path: Path, pki: Pki) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIKE_WINDOWS + CHECKS, str(tmp_path), str(pki.root), pki.pin],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["failed"] == {}
    assert (found["flock"], found["pread"], found["fcntl_loaded"]) == (False, False, False)
    assert found["round_trip"] is True
    assert found["in_place"].endswith(
        "in-place re-encryption is not available on this platform (it needs flock and pread); "
        "write the result to a new file instead"
    )
    assert found["unchanged"] is True
    assert found["stale_removed"] == 0
    assert found["left"] == ["bid.p7m", "bid.tar", "out.tar"]


def test_every_module_imports_here_too() -> None:
    """The same import sweep on this platform, so a failure above is Windows's and not everyone's."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECKS.split("from bidcrypt import _platform")[0] + "print(json.dumps(failed))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}
