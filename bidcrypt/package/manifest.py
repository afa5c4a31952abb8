"""The manifest of a bid package: who bids on what, the opening-summary fields, and every file.

The manifest is UTF-8 JSON in a canonical form (sorted keys, no spaces)
so that the same manifest always has the same bytes; those bytes are what
the company signing certificate signs (see :mod:`bidcrypt.package.signed`)
and their SHA-256 is what the outer envelope carries. Parsing is strict:
unknown fields, wrong types and unsafe paths are refused.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bidcrypt.errors import InputError, ManifestError
from bidcrypt.files import SUMMARY, read_input
from bidcrypt.i18n import pick
from bidcrypt.package.paths import check_relative_path

FORMAT = "bidcrypt-manifest"
VERSION = 1
#: A manifest is small; anything bigger is not one of ours.
MAX_MANIFEST_SIZE = 16 << 20


class Role(Enum):
    """What a file is for at the opening."""

    RESPONSE = "response-document"
    PRICE_SHEET = "price-sheet"
    ATTACHMENT = "attachment"


@dataclass(frozen=True)
class FileEntry:
    """One file of the bundle: its path inside the package, size, SHA-256 and role."""

    path: str
    size: int
    sha256: str
    role: Role


@dataclass(frozen=True)
class Summary:
    """The bidder's declared opening-summary fields (开标一览表)."""

    price: Decimal | None = None
    currency: str = "CNY"
    duration: str | None = None
    items: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form; the price as a decimal string so no float rounding ever touches it."""
        return {
            "price": None if self.price is None else str(self.price),
            "currency": self.currency,
            "duration": self.duration,
            "items": dict(self.items),
        }

    @classmethod
    def from_json(cls, data: Any) -> Summary:
        """Parse and validate the JSON form."""
        fields = _object(data, "summary", {"price", "currency", "duration", "items"})
        items = fields.get("items") or {}
        if not isinstance(items, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in items.items()
        ):
            raise ManifestError("summary.items must map text to text")
        return cls(
            price=_price(fields.get("price")),
            currency=_currency(fields.get("currency", "CNY")),
            duration=_optional_text(fields.get("duration"), "summary.duration"),
            items=dict(items),
        )


@dataclass(frozen=True)
class Bidder:
    """The bidding company as its signing certificate names it."""

    name: str
    credit_code: str


@dataclass(frozen=True)
class Manifest:
    """Everything the bidder signs about the package."""

    tender: str
    lot: str | None
    bidder: Bidder
    created: dt.datetime
    summary: Summary
    files: tuple[FileEntry, ...]

    def to_bytes(self) -> bytes:
        """The canonical UTF-8 JSON bytes."""
        data = {
            "format": FORMAT,
            "version": VERSION,
            "tender": self.tender,
            "lot": self.lot,
            "bidder": {"name": self.bidder.name, "credit_code": self.bidder.credit_code},
            "created": format_time(self.created),
            "summary": self.summary.to_json(),
            "files": [
                {"path": f.path, "size": f.size, "sha256": f.sha256, "role": f.role.value} for f in self.files
            ],
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse manifest bytes strictly; raise :class:`ManifestError` on anything unexpected."""
        if len(data) > MAX_MANIFEST_SIZE:
            raise ManifestError(pick("manifest too large", "文件清单过大"))
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(pick("manifest is not UTF-8 JSON", "文件清单不是 UTF-8 JSON")) from exc
        fields = _object(
            raw, "manifest", {"format", "version", "tender", "lot", "bidder", "created", "summary", "files"}
        )
        if fields.get("format") != FORMAT or fields.get("version") != VERSION:
            raise ManifestError(
                pick("unknown manifest format", "未知的文件清单格式")
                + f" {fields.get('format')!r} v{fields.get('version')!r}"
            )
        bidder = _object(fields.get("bidder"), "bidder", {"name", "credit_code"})
        files_raw = fields.get("files")
        if not isinstance(files_raw, list):
            raise ManifestError("files must be a list")
        files = tuple(_file_entry(item) for item in files_raw)
        _check_unique(files)
        return cls(
            tender=_text(fields.get("tender"), "tender"),
            lot=_optional_text(fields.get("lot"), "lot"),
            bidder=Bidder(
                _text(bidder.get("name"), "bidder.name"), _text(bidder.get("credit_code"), "credit_code")
            ),
            created=parse_time(fields.get("created")),
            summary=Summary.from_json(fields.get("summary") or {}),
            files=files,
        )

    def entry(self, path: str) -> FileEntry | None:
        """The entry for *path*, or None."""
        return next((f for f in self.files if f.path == path), None)

    @property
    def total_size(self) -> int:
        """The sum of the file sizes."""
        return sum(f.size for f in self.files)


def format_time(moment: dt.datetime) -> str:
    """ISO 8601 UTC with a Z, to the second."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime:
    """Parse :func:`format_time`'s form."""
    if not isinstance(value, str):
        raise ManifestError("created must be a time")
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise ManifestError(f"bad time {value!r}") from exc


def _object(data: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ManifestError(f"{name} must be an object")
    unknown = set(data) - allowed
    if unknown:
        raise ManifestError(f"unknown field(s) in {name}: {', '.join(sorted(unknown))}")
    return data


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{name} must be non-empty text")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _price(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation as exc:
        raise ManifestError(f"price {value!r} is not a number") from exc
    if not price.is_finite() or price < 0:
        raise ManifestError(f"price {value!r} must be a non-negative amount")
    return price


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ManifestError(f"currency {value!r} must be an ISO 4217 code such as CNY")
    return value


def _file_entry(item: Any) -> FileEntry:
    fields = _object(item, "file", {"path", "size", "sha256", "role"})
    path = fields.get("path")
    if not isinstance(path, str):
        raise ManifestError("path must be text")
    check_relative_path(path)  # kept exactly as written: a name may even be a space
    size = fields.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"size of {path} must be a non-negative integer")
    digest = fields.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ManifestError(f"sha256 of {path} must be 64 lower-case hex digits")
    try:
        role = Role(fields.get("role"))
    except ValueError as exc:
        raise ManifestError(f"unknown role {fields.get('role')!r} of {path}") from exc
    return FileEntry(path, size, digest, role)


def _check_unique(files: tuple[FileEntry, ...]) -> None:
    """No path twice, and no path that is also a folder of another."""
    seen: set[str] = set()
    folders: set[str] = set()
    for entry in files:
        if entry.path in seen or entry.path in folders:
            raise ManifestError(pick(f"duplicate path {entry.path}", f"重复的路径 {entry.path}"))
        seen.add(entry.path)
        parts = entry.path.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    clash = seen & folders
    if clash:
        raise ManifestError(
            pick(f"{sorted(clash)[0]} is both a file and a folder", f"{sorted(clash)[0]} 既是文件又是文件夹")
        )


# --- the summary file given to `bidcrypt pack --summary FILE.toml` ----------------------------


@dataclass(frozen=True)
class SummaryFile:
    """What a bidder declares in the TOML summary file: the summary fields and file roles."""

    summary: Summary
    roles: tuple[tuple[str, Role], ...] = ()

    def role_of(self, path: str) -> Role:
        """The role of *path*: the first matching ``[roles]`` pattern, else by type (PDF = response)."""
        for pattern, role in self.roles:
            if fnmatchcase(path, pattern):
                return role
        return Role.RESPONSE if path.lower().endswith(".pdf") else Role.ATTACHMENT


def load_summary_file(path: Path) -> SummaryFile:
    """Read a summary TOML file::

    [summary]
    price = "1234567.00"       # a string or a number; kept as an exact decimal
    currency = "CNY"
    duration = "180日历天"
    [summary.items]
    质保期 = "2年"
    [roles]                    # glob pattern = role, first match wins
    "报价/*" = "price-sheet"
    "附件/*" = "attachment"
    """
    raw = read_input(path, SUMMARY)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(exc), path=path) from exc
    unknown = set(data) - {"summary", "roles"}
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(sorted(unknown))}", path=path)
    raw_summary = dict(data.get("summary", {}))
    if "price" in raw_summary and not isinstance(raw_summary["price"], str):
        raw_summary["price"] = str(raw_summary["price"])
    try:
        summary = Summary.from_json(raw_summary)
        roles = tuple((str(pattern), Role(role)) for pattern, role in data.get("roles", {}).items())
    except ManifestError as exc:
        raise InputError(exc.message(), path=path) from exc
    except ValueError as exc:
        raise InputError(f"roles must be one of {', '.join(r.value for r in Role)}", path=path) from exc
    return SummaryFile(summary, roles)
