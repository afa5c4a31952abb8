"""The manifest of a bid package: who bids on what, the opening-summary fields, and every file.

The manifest is UTF-8 JSON in a canonical form (sorted keys, no spaces)
so that the same manifest always has the same bytes; those bytes are what
the company signing certificate signs (see :mod:`bidcrypt.package.signed`)
and their SHA-256 is what the outer envelope carries. Parsing is strict:
unknown fields, wrong types and unsafe paths are refused.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, TypeGuard

from bidcrypt.errors import ManifestError
from bidcrypt.i18n import Text
from bidcrypt.package.paths import check_relative_path

FORMAT = "bidcrypt-manifest"
VERSION = 1
#: A manifest is small; anything bigger is not one of ours.
MAX_MANIFEST_SIZE = 16 << 20
#: JSON arrays and objects nested deeper than this are refused before parsing (a manifest needs 3).
MAX_NESTING = 8
#: Files in one manifest.
MAX_FILES = 100_000
#: Entries of ``summary.items``.
MAX_ITEMS = 1_000
#: Characters of a text field (tender, lot, bidder, duration, an item's name or value).
MAX_TEXT = 4_096
#: A file size: a JSON integer of at most 19 digits, below 2**63.
MAX_SIZE = 2**63 - 1
#: A price: a plain decimal string, at most 18 digits before the point and 8 after.
PRICE = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,8})?")


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
            "price": None if self.price is None else format(self.price, "f"),
            "currency": self.currency,
            "duration": self.duration,
            "items": dict(self.items),
        }

    @classmethod
    def from_json(cls, data: Any) -> Summary:
        """Parse and validate the JSON form."""
        fields = _object(data, "summary", {"price", "currency", "duration", "items"})
        items = fields.get("items") or {}
        if not isinstance(items, dict) or not all(_is_text(k) and _is_text(v) for k, v in items.items()):
            raise ManifestError(
                Text(
                    "summary.items must map text to text (at most {MAX_TEXT} characters each)",
                    "summary.items 须为文本到文本的映射（每项至多 {MAX_TEXT} 个字符）",
                    MAX_TEXT=MAX_TEXT,
                )
            )
        if len(items) > MAX_ITEMS:
            raise ManifestError(
                Text("more than {MAX_ITEMS} summary items", "摘要项超过 {MAX_ITEMS} 个", MAX_ITEMS=MAX_ITEMS)
            )
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
            raise ManifestError(Text("manifest too large", "文件清单过大"))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(Text("manifest is not UTF-8 JSON", "文件清单不是 UTF-8 JSON")) from exc
        raw = _load_json(text)
        fields = _object(
            raw, "manifest", {"format", "version", "tender", "lot", "bidder", "created", "summary", "files"}
        )
        if fields.get("format") != FORMAT or fields.get("version") != VERSION:
            raise ManifestError(
                Text(
                    "unknown manifest format {format} v{version}",
                    "未知的文件清单格式 {format} v{version}",
                    format=repr(fields.get("format")),
                    version=repr(fields.get("version")),
                )
            )
        bidder = _object(fields.get("bidder"), "bidder", {"name", "credit_code"})
        files_raw = fields.get("files")
        if not isinstance(files_raw, list):
            raise ManifestError("files must be a list")
        if len(files_raw) > MAX_FILES:
            raise ManifestError(
                Text("more than {MAX_FILES} files", "文件超过 {MAX_FILES} 个", MAX_FILES=MAX_FILES)
            )
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


#: A JSON string, closed or running to the end (so the pattern never fails and never backtracks).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _load_json(text: str) -> Any:
    """Parse manifest JSON within the limits: nesting, integer digits, no floats, no key twice."""
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, skeleton)), default=0) > MAX_NESTING:
        raise ManifestError(
            Text(
                "the manifest is nested deeper than {MAX_NESTING}",
                "文件清单嵌套超过 {MAX_NESTING} 层",
                MAX_NESTING=MAX_NESTING,
            )
        )
    try:
        return json.loads(
            text,
            parse_int=_integer,
            parse_float=_no_float,
            parse_constant=_no_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise ManifestError(Text("manifest is not UTF-8 JSON", "文件清单不是 UTF-8 JSON")) from exc


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > 19:
        raise ManifestError(Text("a number in the manifest is too long", "文件清单中的数字过长"))
    return int(digits)


def _no_float(text: str) -> Any:
    raise ManifestError(
        Text(
            "the manifest holds the number {text}: only integers (a price is a decimal string)",
            "文件清单含数字 {text}：只允许整数（价格须为十进制字符串）",
            text=text[:40],
        )
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ManifestError(Text("a field is given twice in the manifest", "文件清单中有重复字段"))
    return result


def _object(data: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ManifestError(f"{name} must be an object")
    unknown = set(data) - allowed
    if unknown:
        raise ManifestError(f"unknown field(s) in {name}: {', '.join(sorted(unknown))}")
    return data


def _is_text(value: Any) -> TypeGuard[str]:
    """Text within :data:`MAX_TEXT` that can be written as UTF-8 (no lone surrogate from a JSON escape)."""
    return isinstance(value, str) and len(value) <= MAX_TEXT and not _SURROGATE.search(value)


def _text(value: Any, name: str) -> str:
    if not _is_text(value) or not value.strip():
        raise ManifestError(
            Text(
                "{name} must be non-empty text of at most {MAX_TEXT} characters",
                "{name} 须为非空文本，至多 {MAX_TEXT} 个字符",
                name=name,
                MAX_TEXT=MAX_TEXT,
            )
        )
    return value


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _price(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str) or not PRICE.fullmatch(value):
        shown = repr(value)[:60]
        raise ManifestError(
            Text(
                "price {shown} must be a non-negative decimal amount written as text, such as "
                '"1234567.80" (at most 18 digits before the point and 8 after)',
                '价格 {shown} 须为以文本书写的非负十进制金额，例如 "1234567.80"'
                "（整数至多 18 位，小数至多 8 位）",
                shown=shown,
            )
        )
    return Decimal(value)


def _currency(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) != 3
        or not value.isascii()
        or not value.isalpha()
        or not value.isupper()
    ):
        raise ManifestError(f"currency {value!r} must be an ISO 4217 code such as CNY")
    return value


def _file_entry(item: Any) -> FileEntry:
    fields = _object(item, "file", {"path", "size", "sha256", "role"})
    path = fields.get("path")
    if not isinstance(path, str):
        raise ManifestError("path must be text")
    check_relative_path(path)  # kept exactly as written: a name may even be a space
    size = fields.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
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
            raise ManifestError(Text("duplicate path {path}", "重复的路径 {path}", path=entry.path))
        seen.add(entry.path)
        parts = entry.path.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    clash = seen & folders
    if clash:
        raise ManifestError(
            Text("{clash} is both a file and a folder", "{clash} 既是文件又是文件夹", clash=sorted(clash)[0])
        )
