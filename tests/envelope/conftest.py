"""Fixtures of the envelope tests: certificates, software keys, openssl helpers."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bidcrypt.keys import KeySource, PinSource, open_key_source
from tests.conftest import Pki, require_tool

#: Encryption identities of the test PKI and their SoftHSM tokens.
RSA = "bidder-a/enc"
EC256 = "bidder-b/enc"
EC384 = "bidder-c/enc"
AUTHORITY = "authority/enc"
TOKENS = {RSA: "bidder-a", EC256: "bidder-b", EC384: "bidder-c", AUTHORITY: "authority"}

#: The types of the fixtures below, for the tests' annotations.
Cert = Callable[[str], x509.Certificate]
P12 = Callable[[str], KeySource]
Openssl = Callable[..., subprocess.CompletedProcess[bytes]]
OpensslOpen = Callable[[Path, str], bytes]


@pytest.fixture(scope="session")
def cert(pki: Pki) -> Callable[[str], x509.Certificate]:
    """Load a fixture certificate by name, e.g. ``cert("bidder-a/enc")``."""
    cache: dict[str, x509.Certificate] = {}

    def load(name: str) -> x509.Certificate:
        if name not in cache:
            cache[name] = x509.load_pem_x509_certificate(pki.cert(name).read_bytes())
        return cache[name]

    return load


@pytest.fixture(scope="session")
def p12(pki: Pki) -> Callable[[str], KeySource]:
    """The PKCS#12 key source of a fixture identity, opened once per session."""
    cache: dict[str, KeySource] = {}

    def load(name: str) -> KeySource:
        if name not in cache:
            source = open_key_source(str(pki.p12(name)), PinSource.of_value(pki.pin))
            source.entries()
            cache[name] = source
        return cache[name]

    return load


@pytest.fixture(scope="session")
def private_key(pki: Pki) -> Callable[[str], object]:
    """The private key of a fixture identity, for checks independent of bidcrypt."""

    def load(name: str) -> object:
        return load_pem_private_key(pki.key(name).read_bytes(), None)

    return load


@pytest.fixture
def openssl() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run ``openssl`` with arguments; the test skips when it is missing (fails in CI)."""
    path = require_tool("openssl")

    def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([path, *map(str, args)], capture_output=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"openssl {' '.join(map(str, args))} failed: {result.stderr.decode()}")
        return result

    return run


@pytest.fixture
def openssl_open(openssl: Openssl, pki: Pki) -> Callable[[Path, str], bytes]:
    """What ``openssl cms -decrypt`` makes of an envelope with a fixture identity's key."""

    def run(sealed: Path, name: str) -> bytes:
        out = sealed.with_name(sealed.name + ".openssl-out")
        openssl(
            "cms", "-decrypt", "-binary", "-inform", "DER", "-in", sealed, "-out", out,
            "-inkey", pki.key(name), "-recip", pki.cert(name),
        )  # fmt: skip
        return out.read_bytes()

    return run


def leftovers(directory: Path) -> list[str]:
    """Temporary files bidcrypt may have left in *directory*."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))
