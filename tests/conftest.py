"""Shared test fixtures: the test PKI, SoftHSM2 UKeys, and a CLI runner.

SoftHSM2 tokens are provisioned once per test session into a temporary
directory (``SOFTHSM2_CONF`` points there; the system store is never
touched). Tests that need a peer tool skip when it is missing, except under
``CI=true``, where a missing peer is a failure: CI installs them all.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

# A busy 2-core CI machine must not fail a property test on time: no per-example deadline anywhere.
settings.register_profile(
    "bidcrypt",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("bidcrypt")

# The interop peers' fixtures (BouncyCastle, sm-crypto, SM2 keys from openssl) for every test package.
pytest_plugins = ("tests.interop.peers",)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PKI = FIXTURES / "pki"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
IN_CI = os.environ.get("CI", "").lower() == "true"

sys.path.insert(0, str(FIXTURES))
sys.path.insert(0, str(ROOT / "scripts"))

import moved_clock as clock_shift  # noqa: E402

from tests.skf import softskf as softskf_api  # noqa: E402
from tests.skf.softskf import SoftSkf  # noqa: E402


def require_tool(name: str) -> str:
    """The path of a peer tool, skipping the test (failing in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed; the CI set-up must install it")
        pytest.skip(f"{name} is not installed")
    return path


class PathLikeOnly(os.PathLike[str]):
    """A path-like object that is neither a str nor a Path, as embedding software may pass."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path

    def __repr__(self) -> str:  # never what a message should show
        return f"<PathLikeOnly at {id(self):#x}>"


@dataclass(frozen=True)
class Pki:
    """The committed test PKI (fixtures/pki) and its index."""

    root: Path
    index: dict[str, Any]

    @property
    def pin(self) -> str:
        return str(self.index["pin"])

    def cert(self, name: str) -> Path:
        """Path of the PEM certificate, e.g. ``cert("bidder-a/enc")``."""
        return self.root / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key.pem"

    def p12(self, name: str) -> Path:
        return self.root / f"{name}.p12"

    def chain(self, name: str) -> Path:
        return self.root / f"{name}.chain.pem"

    @property
    def roots(self) -> Path:
        return self.root / "trust" / "roots.pem"

    @property
    def intermediates(self) -> Path:
        return self.root / "trust" / "intermediates.pem"

    @property
    def crl(self) -> Path:
        return self.root / "ca" / "vendor-rsa.crl"

    def company(self, slug: str) -> dict[str, str]:
        return dict(self.index["companies"][slug])


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki(PKI, json.loads((PKI / "index.json").read_text()))


@dataclass(frozen=True)
class SoftHsm:
    """Provisioned SoftHSM2 tokens: build key references to them."""

    module: str
    config: Path
    pin: str

    def uri(self, token: str, obj: str | None = None, with_module: bool = True) -> str:
        """``pkcs11:token=T[;object=O][?module-path=...]``."""
        uri = f"pkcs11:token={token}" + (f";object={obj}" if obj else "")
        return uri + (f"?module-path={self.module}" if with_module else "")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[SoftHsm]:
    """Every fixture token, provisioned once; SOFTHSM2_CONF set for the whole session."""
    if not Path(SOFTHSM_MODULE).exists():
        if IN_CI:
            pytest.fail("SoftHSM2 is not installed; the CI set-up must install it")
        pytest.skip("SoftHSM2 is not installed")
    import provision_ukey

    directory = tmp_path_factory.mktemp("softhsm")
    previous = os.environ.get("SOFTHSM2_CONF")
    config = provision_ukey.provision(directory)
    os.environ["SOFTHSM2_CONF"] = str(config)
    yield SoftHsm(SOFTHSM_MODULE, config, pki.pin)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def pin_env(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> str:
    """BIDCRYPT_PIN set to the fixture PIN for this test."""
    monkeypatch.setenv("BIDCRYPT_PIN", pki.pin)
    return pki.pin


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English messages unless they set a Chinese locale themselves."""
    for name in ("BIDCRYPT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def run_cli(
    *args: str | os.PathLike[str], env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """Run the bidcrypt CLI in-process; stdout and stderr are separate."""
    from bidcrypt.cli import main

    runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], env=env, input=input, catch_exceptions=False)


def moved_clock(offset: float) -> dict[str, str]:
    """The environment that moves a process's clock (and its children's) by *offset* seconds
    (libfaketime preloaded: ``scripts/moved_clock.py``)."""
    require_tool("faketime")  # the package that brings the library
    return clock_shift.moved_clock(offset)


def run_bidcrypt(
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    check: bool = False,
    clock_at: dt.datetime | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``bidcrypt`` command in a subprocess, as a user would.

    With *clock_at*, the process sees its system clock start at that moment
    (libfaketime, :func:`moved_clock`): a test moves the clock instead of waiting
    for a deadline, and bidcrypt has no switch of its own for it.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    if clock_at is not None:
        full_env.update(moved_clock((clock_at - dt.datetime.now(dt.UTC)).total_seconds()))
    return subprocess.run(
        [sys.executable, "-m", "bidcrypt", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        env=full_env,
        check=check,
        **kwargs,
    )


def _sealed_responses(directory: Path, pki: Pki, prefix: str) -> dict[str, Path]:
    """Each bidder's sample response with its company seal, signed with the PKCS#12 key of
    ``{prefix}{bidder}/sign`` (fast); keyed ``{prefix}{bidder}``. The documents and seal pictures are
    the RSA bidders' of the same letter: only the certificates differ."""
    from bidcrypt.keys import PinSource, open_key_source
    from bidcrypt.seal import SealKind, apply_seal, choose_entry

    sealed = {}
    for bidder in ("bidder-a", "bidder-b", "bidder-c"):
        with open_key_source(str(pki.p12(f"{prefix}{bidder}/sign")), PinSource.of_value(pki.pin)) as source:
            out = directory / f"{prefix.replace('/', '-')}{bidder}.pdf"
            apply_seal(
                FIXTURES / "documents" / f"bid-response-{bidder}.pdf",
                out,
                choose_entry(source, SealKind.COMPANY),
                kind=SealKind.COMPANY,
                image=FIXTURES / "seals" / f"{bidder}-company.png",
            )
            sealed[f"{prefix}{bidder}"] = out
    return sealed


@pytest.fixture(scope="session")
def sealed_pdfs(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> dict[str, Path]:
    """Each bidder's sample response with its company seal (made with the PKCS#12 key: fast)."""
    return _sealed_responses(tmp_path_factory.mktemp("sealed"), pki, "")


@pytest.fixture(scope="session")
def sm2_sealed_pdfs(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> dict[str, Path]:
    """The SM2 bidders' sample responses with their SM2 company seal (``sm2/bidder-a``...; PKCS#12 keys)."""
    return _sealed_responses(tmp_path_factory.mktemp("sm2-sealed"), pki, "sm2/")


def _require_softskf() -> None:
    if not softskf_api.built():
        if IN_CI:
            pytest.fail("the soft SKF token is not built; scripts/setup.sh (tests/skf/build.sh) builds it")
        pytest.skip("the soft SKF token is not built (run bash tests/skf/build.sh)")


@pytest.fixture(scope="session")
def _softskf_template(tmp_path_factory: pytest.TempPathFactory) -> SoftSkf:
    """Every fixture bidder's soft SKF device, provisioned once (reading the .p12 files is slow)."""
    _require_softskf()
    return softskf_api.provision(tmp_path_factory.mktemp("softskf-template") / "root")


@pytest.fixture(scope="session")
def softskf(tmp_path_factory: pytest.TempPathFactory, _softskf_template: SoftSkf) -> Iterator[SoftSkf]:
    """Soft SKF tokens (tests/skf) for every fixture bidder, shared by the session; SOFTSKF_ROOT set
    for the session. Tests that lock a PIN, count operations or inject faults use ``softskf_factory``."""
    token = _softskf_template.copy(tmp_path_factory.mktemp("softskf") / "root")
    previous = os.environ.get("SOFTSKF_ROOT")
    os.environ["SOFTSKF_ROOT"] = str(token.root)
    yield token
    if previous is None:
        os.environ.pop("SOFTSKF_ROOT", None)
    else:
        os.environ["SOFTSKF_ROOT"] = previous


@pytest.fixture
def softskf_factory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _softskf_template: SoftSkf
) -> Callable[..., SoftSkf]:
    """A fresh soft SKF token directory for this test: ``softskf_factory()`` copies every fixture
    bidder's device (``bidders=[...]`` keeps only those, e.g. ``["sm2/bidder-a"]``), and points
    SOFTSKF_ROOT at it for the test."""

    def make(bidders: list[str] | None = None) -> SoftSkf:
        token = _softskf_template.copy(tmp_path_factory.mktemp("softskf-fresh") / "root")
        if bidders is not None:
            keep = {softskf_api.BIDDERS[bidder][0] for bidder in bidders}
            for device in [d for d in token.devices if d not in keep]:
                token.unplug(device)
        monkeypatch.setenv("SOFTSKF_ROOT", str(token.root))
        return token

    return make
