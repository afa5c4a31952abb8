"""Bounded memory: the peak RSS of encrypting and decrypting does not grow with the file size.

Each run is a fresh process (started by a small forked launcher, so its
peak RSS is its own); a 64 MiB file must cost no more than a 1 MiB one
plus a few MiB of noise, whether the envelope is bidcrypt's chunked BER,
DER, or openssl's 4 KiB-segment streaming output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Pki

LAUNCH = """
import json, os, sys
pid = os.fork()
if pid == 0:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""

JOB = """
import sys
from pathlib import Path
from cryptography import x509
from bidcrypt.envelope import EnvelopeBuilder, decrypt_file
from bidcrypt.keys import PinSource, open_key_source
mode, source, output, pki = sys.argv[1:5]
if mode.startswith("encrypt"):
    cert = x509.load_pem_x509_certificate(Path(pki, "bidder-b/enc.pem").read_bytes())
    builder = EnvelopeBuilder().add_recipient(cert).set_der(mode == "encrypt-der")
    builder.encrypt_file(Path(source), Path(output))
elif mode == "refresh":
    from bidcrypt.envelope import reencrypt_fresh
    cert = x509.load_pem_x509_certificate(Path(pki, "bidder-a/enc.pem").read_bytes())
    with open_key_source(str(Path(pki, "bidder-b/enc.p12")), PinSource.of_value("12345678")) as keys:
        reencrypt_fresh(Path(source), Path(output), keys, [cert])
else:
    with open_key_source(str(Path(pki, "bidder-b/enc.p12")), PinSource.of_value("12345678")) as keys:
        decrypt_file(Path(source), Path(output), keys)
"""


def peak_rss_mib(*args: str | Path) -> float:
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", LAUNCH, sys.executable, "-c", JOB, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    code, kib = json.loads(result.stdout.splitlines()[-1])
    assert code == 0, result.stderr
    return float(kib) / 1024


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["encrypt", "encrypt-der", "openssl-stream"])
def test_memory_does_not_grow_with_the_file(tmp_path: Path, pki: Pki, framing: str) -> None:
    peaks = []
    for size in (1 << 20, 64 << 20):
        plain = tmp_path / f"{size}.bin"
        with plain.open("wb") as f:
            f.truncate(size)
        sealed = tmp_path / f"{size}.p7m"
        if framing == "openssl-stream":
            from tests.conftest import require_tool

            subprocess.run(
                [
                    require_tool("openssl"), "cms", "-encrypt", "-binary", "-aes-256-gcm", "-stream",
                    "-in", str(plain), "-outform", "DER", "-out", str(sealed), str(pki.cert("bidder-b/enc")),
                ],
                check=True,
            )  # fmt: skip
            encrypt_peak = 0.0
        else:
            encrypt_peak = peak_rss_mib(framing, plain, sealed, pki.root)
        decrypt_peak = peak_rss_mib("decrypt", sealed, tmp_path / f"{size}.out", pki.root)
        assert (tmp_path / f"{size}.out").stat().st_size == size
        peaks.append((encrypt_peak, decrypt_peak))
    (small_encrypt, small_decrypt), (large_encrypt, large_decrypt) = peaks
    assert large_decrypt < small_decrypt + 8, peaks
    assert large_encrypt < small_encrypt + 8, peaks
    assert large_decrypt < 128


@pytest.mark.slow
def test_memory_of_a_fresh_key_reencryption_does_not_grow_with_the_file(tmp_path: Path, pki: Pki) -> None:
    """Decrypting the old content and encrypting the new one, streaming: flat memory for any size."""
    peaks = []
    for size in (1 << 20, 64 << 20):
        plain = tmp_path / f"{size}.bin"
        with plain.open("wb") as f:
            f.truncate(size)
        sealed = tmp_path / f"{size}.p7m"
        peak_rss_mib("encrypt", plain, sealed, pki.root)
        peaks.append(peak_rss_mib("refresh", sealed, tmp_path / f"{size}.fresh", pki.root))
        assert (tmp_path / f"{size}.fresh").stat().st_size > size
    small, large = peaks
    assert large < small + 8, peaks
