"""The readable, authenticated attributes of a bid package (the outer envelope's authAttrs).

They let the platform route and check a package without decrypting it, and
AES-GCM authenticates them with the content, so changing one shows at the
opening. Object identifiers live under bidcrypt's UUID arc (ITU-T X.667):

=============================  ==============================  ================
OID (under ``ARC``)            attribute                       value type
=============================  ==============================  ================
``.1.1``                       format version                  INTEGER
``.1.2``                       tender identifier               UTF8String
``.1.3``                       lot (标段) identifier            UTF8String (absent when none)
``.1.4``                       bidder name                     UTF8String
``.1.5``                       bidder credit code              PrintableString
``.1.6``                       creation time                   GeneralizedTime
``.1.7``                       SHA-256 of the signed manifest  OCTET STRING (32 bytes)
=============================  ==============================  ================

``ARC.2.1`` (recipient certificates, DER Certificate values) is not one of
them: it sits in the unauthenticated attributes so that re-encryption can
replace it (see docs/package-format.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import core

from bidcrypt.errors import PackageError
from bidcrypt.i18n import Text

ARC = "2.25.149577572356276075589610191221236026354"
FORMAT_VERSION = 1
RECIPIENT_CERTIFICATES = f"{ARC}.2.1"

_FIELDS: dict[str, tuple[str, type[core.Asn1Value]]] = {
    "format_version": (f"{ARC}.1.1", core.Integer),
    "tender": (f"{ARC}.1.2", core.UTF8String),
    "lot": (f"{ARC}.1.3", core.UTF8String),
    "bidder_name": (f"{ARC}.1.4", core.UTF8String),
    "credit_code": (f"{ARC}.1.5", core.PrintableString),
    "created": (f"{ARC}.1.6", core.GeneralizedTime),
    "manifest_sha256": (f"{ARC}.1.7", core.OctetString),
}
_BY_OID = {oid: (name, spec) for name, (oid, spec) in _FIELDS.items()}
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class PackageAttributes:
    """What anyone can read on a package without a key (and a key holder can trust)."""

    tender: str
    lot: str | None
    bidder_name: str
    credit_code: str
    created: dt.datetime
    manifest_sha256: bytes
    format_version: int = FORMAT_VERSION

    def encode(self) -> list[tuple[str, bytes]]:
        """(OID, DER value) of each attribute, in table order."""
        encoded = []
        for name, (oid, spec) in _FIELDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if name == "created":
                value = value.astimezone(dt.UTC).replace(microsecond=0)
            encoded.append((oid, bytes(spec(value).dump())))
        return encoded

    @classmethod
    def decode(cls, attributes: Iterable[tuple[str, Sequence[bytes]]]) -> PackageAttributes:
        """Read the attributes back from (OID, DER values) pairs; unknown OIDs are skipped.

        Raises only :class:`PackageError`, whatever the bytes.
        """
        found: dict[str, Any] = {}
        for oid, values in attributes:
            if oid not in _BY_OID:
                continue
            name, spec = _BY_OID[oid]
            if name in found or len(values) != 1:
                raise PackageError(Text("attribute {name} given twice", "属性 {name} 重复", name=name))
            found[name] = _value(name, spec, values[0])
        missing = {
            "format_version",
            "tender",
            "bidder_name",
            "credit_code",
            "created",
            "manifest_sha256",
        } - set(found)
        if missing:
            raise PackageError(
                Text(
                    "not a bid package: attributes missing: {missing}",
                    "不是投标文件包，缺少属性：{missing}",
                    missing=", ".join(sorted(missing)),
                )
            )
        if found["format_version"] != FORMAT_VERSION:
            raise PackageError(
                Text(
                    "unknown package format version {found}",
                    "未知的文件包格式版本 {found}",
                    found=str(found["format_version"])[:20],
                )
            )
        if len(found["manifest_sha256"]) != 32:
            raise PackageError(Text("manifest digest must be 32 bytes", "清单摘要长度应为 32 字节"))
        return cls(
            tender=found["tender"],
            lot=found.get("lot"),
            bidder_name=found["bidder_name"],
            credit_code=found["credit_code"],
            created=found["created"],
            manifest_sha256=found["manifest_sha256"],
            format_version=found["format_version"],
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for reports."""
        return {
            "format_version": self.format_version,
            "tender": self.tender,
            "lot": self.lot,
            "bidder_name": self.bidder_name,
            "credit_code": self.credit_code,
            "created": self.created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "manifest_sha256": self.manifest_sha256.hex(),
        }


#: The Python type each attribute's value must have once decoded.
_TYPES: dict[str, type] = {
    "format_version": int,
    "tender": str,
    "lot": str,
    "bidder_name": str,
    "credit_code": str,
    "created": dt.datetime,
    "manifest_sha256": bytes,
}
#: Characters of a text attribute.
MAX_TEXT = 4_096


def _value(name: str, spec: type[core.Asn1Value], der: bytes) -> Any:
    """The decoded value of attribute *name*; :class:`PackageError` for anything but the expected type."""
    try:
        value = spec.load(der, strict=True).native
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError) as exc:
        raise PackageError(Text("attribute {name} is malformed", "属性 {name} 格式错误", name=name)) from exc
    wanted = _TYPES[name]
    if (
        type(value) is not wanted  # an extended_datetime (year 0) or a bool is not what was written
        or (isinstance(value, str) and (len(value) > MAX_TEXT or _SURROGATE.search(value)))
        or (isinstance(value, dt.datetime) and value.tzinfo is None)
    ):
        raise PackageError(Text("attribute {name} is malformed", "属性 {name} 格式错误", name=name))
    return value
