"""What an unpacking found: every check with its outcome, the manifest, the seals, the first error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bidcrypt.errors import BidcryptError
from bidcrypt.i18n import pick
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.manifest import Manifest


@dataclass(frozen=True)
class Check:
    """One check of the unpacking: its stable name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str
    code: str | None = None

    def label(self) -> str:
        """The check's name in the user's language."""
        en, zh = _CHECK_LABELS.get(self.name, (self.name, self.name))
        return pick(en, zh)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "code": self.code}


_CHECK_LABELS = {
    "decryption": ("decryption and integrity", "解密与完整性"),
    "manifest-digest": ("manifest digest", "清单摘要"),
    "manifest-signature": ("manifest signature", "清单签名"),
    "signer-trusted": ("signing certificate", "签名证书"),
    "manifest": ("manifest", "文件清单"),
    "identity": ("identity binding", "身份一致性"),
    "files": ("files", "文件"),
    "seals": ("seals", "签章"),
}


@dataclass
class UnpackReport:
    """Everything the unpacking found; ``error`` is the first failure (None when all passed)."""

    package: str
    attributes: PackageAttributes
    checks: list[Check] = field(default_factory=list)
    manifest: Manifest | None = None
    seals: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: Path | None = None
    error: BidcryptError | None = None
    #: Seconds spent in each phase (``decrypt``, ``manifest``, ``files``, ``seals``): how long the
    #: checks took, for benchmarks; not part of :meth:`to_dict`.
    timings: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    _nested: list[float] = field(default_factory=list, repr=False, compare=False)

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the time spent inside the block to *phase* (a phase timed inside another counts once,
        as its own)."""
        start = time.perf_counter()
        self._nested.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = self._nested.pop()
            self.timings[phase] = self.timings.get(phase, 0.0) + elapsed - inner
            if self._nested:
                self._nested[-1] += elapsed

    @property
    def ok(self) -> bool:
        """True when every check passed and the files were written."""
        return self.error is None

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def failed(self, name: str, error: BidcryptError) -> None:
        self.checks.append(Check(name, False, error.message(), error.code))
        if self.error is None:
            self.error = error

    def raise_for_failure(self) -> None:
        """Raise the first failure, if any."""
        if self.error is not None:
            raise self.error

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        manifest = self.manifest
        return {
            "package": self.package,
            "ok": self.ok,
            "attributes": self.attributes.to_json(),
            "checks": [c.to_dict() for c in self.checks],
            "summary": None if manifest is None else manifest.summary.to_json(),
            "files": []
            if manifest is None
            else [
                {"path": f.path, "size": f.size, "sha256": f.sha256, "role": f.role.value}
                for f in manifest.files
            ],
            "seals": self.seals,
            "output": None if self.output is None else str(self.output),
            "error": None if self.error is None else self.error.to_dict(),
        }
