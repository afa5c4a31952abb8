"""The soft SKF token's Python test API: provisioning, key references, counters, PIN tries, faults.

The token itself is ``tests/skf/softskf.c`` (a test double of GM/T 0016, built by
``tests/skf/build.sh`` into ``build/softskf/``); its configuration is documented there and in
``tests/skf/README.md``. A :class:`SoftSkf` is one state directory (``SOFTSKF_ROOT``) with a
device per provisioned bidder; the token re-reads it at each ``SKF_EnumDev`` / ``SKF_ConnectDev``,
and keeps its PIN tries and counters in each device's ``state`` file, across processes.
"""

from __future__ import annotations

import copy
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "softskf"
FAST_LIBRARY = BUILD / "libsoftskf.so"
STANDARD_LIBRARY = BUILD / "libsoftskf-std.so"
sys.path.insert(0, str(ROOT / "fixtures"))

from provision_skf import BIDDERS, Application, Container, Device, write_device  # noqa: E402
from provision_skf import provision as _provision  # noqa: E402

#: The counters the token keeps per device (``state`` file); missing ones are 0.
COUNTERS = (
    "verify_pin",
    "verify_pin_failed",
    "sign",
    "private_decrypt",
    "import_session_key",
    "decrypt_update",
    "decrypt_update_bytes",
    "key_operations",
)

#: The failures of the seeds, which ``SoftSkf.seed_failure`` reproduces.
SEED_FAILURES = ("no-device", "no-application", "no-container", "no-signing-certificate", "locked-pin")

#: SAR codes the tests use.
SAR_OK = 0
SAR_NOTSUPPORTYETERR = 0x0A000003
SAR_INVALIDPARAMERR = 0x0A000006
SAR_INDATALENERR = 0x0A000010
SAR_INDATAERR = 0x0A000011
SAR_RSADECERR = 0x0A000019
SAR_KEYNOTFOUNTERR = 0x0A00001B
SAR_CERTNOTFOUNTERR = 0x0A00001C
SAR_BUFFER_TOO_SMALL = 0x0A000020
SAR_DEVICE_REMOVED = 0x0A000023
SAR_PIN_INCORRECT = 0x0A000024
SAR_PIN_LOCKED = 0x0A000025
SAR_USER_NOT_LOGGED_IN = 0x0A00002D
SAR_APPLICATION_NOT_EXISTS = 0x0A00002E
SAR_FILE_NOT_EXIST = 0x0A000031
#: An unknown code, for the hostile-library tests.
SAR_UNKNOWN = 0x0A0000FF


def built() -> bool:
    """Whether both variants of the library are built."""
    return FAST_LIBRARY.exists() and STANDARD_LIBRARY.exists()


def _state_path(directory: Path) -> Path:
    return directory / "state"


def read_state(directory: Path) -> dict[str, int]:
    """The ``state`` file of a device directory ({} before the token wrote one)."""
    path = _state_path(directory)
    if not path.exists():
        return {}
    state = {}
    for line in path.read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(" ")
        if key:
            state[key] = int(value)
    return state


def write_state(directory: Path, state: dict[str, int]) -> None:
    _state_path(directory).write_text("".join(f"{k} {v}\n" for k, v in state.items()), encoding="ascii")


@dataclass
class SoftSkf:
    """A soft SKF token directory: devices by name (each in the sub-directory of that name)."""

    root: Path
    devices: dict[str, Device]

    # ---------------------------------------------------------------- using it

    def library(self, fast: bool = True) -> Path:
        """The module: with the fast-path exports (``fast``) or the standard path only."""
        return FAST_LIBRARY if fast else STANDARD_LIBRARY

    def env(self) -> dict[str, str]:
        """The environment a subprocess needs to see these devices."""
        return {"SOFTSKF_ROOT": str(self.root)}

    def uri(
        self,
        device: str | None = None,
        application: str | None = None,
        container: str | None = None,
        *,
        fast: bool = True,
    ) -> str:
        """An ``skf:`` key reference (docs/skf.md): names percent-encoded as UTF-8, with module-path.

        A name stored as GBK on the token is written here as its text (UTF-8): the binding reads
        GBK names and matches them by text.
        """
        parts = [
            f"{attribute}={quote(value, safe='')}"
            for attribute, value in (
                ("device", device),
                ("application", application),
                ("container", container),
            )
            if value is not None
        ]
        return f"skf:{';'.join(parts)}?module-path={quote(str(self.library(fast)), safe='/')}"

    def bidder_uri(self, bidder: str, *, fast: bool = True, full: bool = True) -> str:
        """The key reference of a provisioned bidder (a key of ``BIDDERS``, e.g. ``"sm2/bidder-a"``)."""
        device, application, container, _ = BIDDERS[bidder]
        if not full:
            return self.uri(device, fast=fast)
        return self.uri(device, application, container, fast=fast)

    def directory(self, device: str) -> Path:
        return self.root / device

    # ---------------------------------------------------------------- what the token counted

    def counters(self, device: str) -> dict[str, int]:
        """The device's counters (``COUNTERS``), persisted by the token across processes."""
        state = read_state(self.directory(device))
        return {name: state.get(name, 0) for name in COUNTERS}

    def retries_left(self, device: str, application: str) -> int:
        """The PIN tries left of an application, as the token will report them."""
        app = self._application(device, application)
        state = read_state(self.directory(device))
        initial = app.max_retries if app.retries is None else app.retries
        return state.get(_retries_key(app), initial)

    def removed(self, device: str) -> bool:
        """Whether the device counts as removed (after ``fault.removed-after`` key operations)."""
        return read_state(self.directory(device)).get("removed", 0) != 0

    # ---------------------------------------------------------------- changing it

    def set_retries(self, device: str, application: str, left: int) -> None:
        """Set the tries left (0 locks the PIN), as if the token had counted them."""
        app = self._application(device, application)
        state = read_state(self.directory(device))
        state[_retries_key(app)] = left
        write_state(self.directory(device), state)

    def reset_state(self, device: str) -> None:
        """Forget the counters, the PIN tries and the removal: the device as provisioned."""
        _state_path(self.directory(device)).unlink(missing_ok=True)

    def edit(self, device: str, change: Callable[[Device], None]) -> Device:
        """Change a device's configuration (certificates, applications, faults) and rewrite it."""
        model = self.devices[device]
        change(model)
        write_device(self.directory(device), model)
        return model

    def inject(
        self,
        device: str,
        *,
        sar: dict[str, int] | None = None,
        size_lie: dict[str, int] | None = None,
        size_grow: dict[str, int] | None = None,
        removed_after: int | None = None,
    ) -> None:
        """Add faults: ``sar={"SKF_ExportCertificate": SAR_UNKNOWN}`` (that function answers the code),
        ``size_lie={"SKF_EnumContainer": 16}`` (claims 16 bytes more than the buffer it was given),
        ``size_grow={"SKF_ExportCertificate": 16}`` (given a buffer, always asks for 16 bytes more),
        ``removed_after=N`` (N more key operations succeed, then every call answers
        SAR_DEVICE_REMOVED; the token counts from its ``key_operations`` counter).
        The token reads them at the next ``SKF_ConnectDev``."""

        def change(model: Device) -> None:
            model.sar.update(sar or {})
            model.size_lie.update(size_lie or {})
            model.size_grow.update(size_grow or {})
            if removed_after is not None:
                model.removed_after = self.counters(device)["key_operations"] + removed_after

        self.edit(device, change)

    def reinsert(self, device: str) -> None:
        """Plug a removed device back in: no removal fault, the removed flag cleared (counters kept)."""
        self.edit(device, lambda model: setattr(model, "removed_after", None))
        state = read_state(self.directory(device))
        state.pop("removed", None)
        write_state(self.directory(device), state)

    def truncate_certificates(self, device: str, length: int) -> None:
        """Every container of the device exports only the first *length* bytes of its certificates."""

        def change(model: Device) -> None:
            for app in model.applications:
                for container in app.containers:
                    container.truncate_cert = length

        self.edit(device, change)

    def seed_failure(self, device: str, failure: str) -> None:
        """Reproduce one of the seed failures on a device: ``SEED_FAILURES`` ("no-device" unplugs it,
        "no-application", "no-container", "no-signing-certificate", "locked-pin")."""
        if failure == "no-device":
            self.unplug(device)
        elif failure == "no-application":
            self.edit(device, lambda model: model.applications.clear())
        elif failure == "no-container":
            self.edit(device, lambda model: [app.containers.clear() for app in model.applications])
        elif failure == "no-signing-certificate":

            def drop(model: Device) -> None:
                for app in model.applications:
                    for container in app.containers:
                        container.sign_cert = None

            self.edit(device, drop)
        elif failure == "locked-pin":
            for app in self.devices[device].applications:
                self.set_retries(device, app.name, 0)
        else:
            raise ValueError(f"unknown seed failure {failure!r}; known: {', '.join(SEED_FAILURES)}")

    def unplug(self, device: str) -> None:
        """Remove the device from the token directory altogether (``SKF_EnumDev`` no longer lists it)."""
        shutil.rmtree(self.directory(device))
        del self.devices[device]

    def add_device(self, device: Device) -> None:
        """Add (or replace) a device, e.g. one built to reproduce a seed failure."""
        self.devices[device.name] = device
        write_device(self.directory(device.name), device)

    def copy(self, root: Path) -> SoftSkf:
        """A copy of the whole token directory (state included) at *root*: a fresh token for one test."""
        shutil.copytree(self.root, root)
        return SoftSkf(root, copy.deepcopy(self.devices))

    def _application(self, device: str, application: str) -> Application:
        for app in self.devices[device].applications:
            if app.name == application:
                return app
        raise KeyError(f"{device} has no application {application!r}")


def _retries_key(app: Application) -> str:
    return "retries." + app.name.encode(app.encoding).hex()


def provision(root: Path, bidders: list[str] | None = None) -> SoftSkf:
    """Provision a device per fixture bidder (default: every one of ``BIDDERS``) under *root*."""
    return SoftSkf(root, _provision(root, bidders))


__all__ = [
    "BIDDERS",
    "COUNTERS",
    "FAST_LIBRARY",
    "SEED_FAILURES",
    "STANDARD_LIBRARY",
    "Application",
    "Container",
    "Device",
    "SoftSkf",
    "built",
    "provision",
]
