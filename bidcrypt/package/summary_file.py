"""The summary file given to ``bidcrypt pack --summary FILE.toml``: opening-summary fields and file roles.

::

    [summary]
    price = "1234567.80"       # text, or a TOML number: kept as the exact decimal written
    currency = "CNY"
    duration = "180日历天"
    [summary.items]
    质保期 = "2年"
    [roles]                    # glob pattern = role, first match wins
    "报价/*" = "price-sheet"
    "附件/*" = "attachment"

A TOML number is read as a decimal, never as a float: ``1234567.80`` stays
``1234567.80`` and ``9007199254740993.01`` stays what it says.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bidcrypt.errors import InputError, ManifestError
from bidcrypt.files import SUMMARY, PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.package.manifest import Role, Summary


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


def load_summary_file(path: PathArg) -> SummaryFile:
    """Read a summary TOML file (the form is in the module docstring); :class:`InputError` if it is wrong."""
    path = as_path(path)
    raw = read_input(path, SUMMARY)
    try:
        data = tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(exc), path=path) from exc
    except RecursionError as exc:
        raise InputError(Text("nested too deeply", "嵌套过深"), path=path) from exc
    unknown = set(data) - {"summary", "roles"}
    if unknown:
        raise InputError(
            Text("unknown section(s) {unknown}", "未知的节 {unknown}", unknown=", ".join(sorted(unknown))),
            path=path,
        )
    raw_summary = _table(data, "summary", path)
    raw_roles = _table(data, "roles", path)
    if "price" in raw_summary:
        raw_summary["price"] = _price_text(raw_summary["price"], path)
    try:
        summary = Summary.from_json(raw_summary)
    except ManifestError as exc:
        raise InputError(exc.message(), path=path) from exc
    roles = []
    names = ", ".join(r.value for r in Role)
    for pattern, role in raw_roles.items():
        try:
            roles.append((pattern, Role(role)))
        except ValueError as exc:
            raise InputError(
                Text(
                    "role of {pattern} must be one of {names}",
                    "{pattern} 的角色须为 {names} 之一",
                    pattern=repr(pattern),
                    names=names,
                ),
                path=path,
            ) from exc
    return SummaryFile(summary, tuple(roles))


def _table(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """The section *name* of the file (empty when absent); refused when it is not a table."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise InputError(
            Text(
                "{name} must be a table (a [{name}] section), not {value_name}",
                "{name} 须为表（[{name}] 节），而不是 {value_name}",
                name=name,
                value_name=type(value).__name__,
            ),
            path=path,
        )
    return dict(value)


def _price_text(value: Any, path: Path) -> Any:
    """The price as the exact decimal text written: a string as is, a TOML number without rounding."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    elif isinstance(value, str):
        return value
    raise InputError(
        Text(
            'price must be an amount such as "1234567.80", not {value}',
            '价格须为金额，例如 "1234567.80"，而不是 {value}',
            value=repr(value),
        ),
        path=path,
    )
