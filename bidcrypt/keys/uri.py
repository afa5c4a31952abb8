"""PKCS#11 URIs (RFC 7512) naming a token and an object on it.

    pkcs11:token=bidder-a;object=enc?module-path=/usr/lib/softhsm/libsofthsm2.so

Path attributes understood: ``token``, ``manufacturer``, ``serial``,
``model``, ``slot-id``, ``object``, ``id`` (percent-encoded bytes) and
``type``. Query attributes: ``module-path`` and ``module-name``. A
``pin-value`` is refused: a PIN never goes on a command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from bidcrypt.errors import KeyRefError

SCHEME = "pkcs11:"
MODULE_ENV = "BIDCRYPT_PKCS11_MODULE"
_PATH_ATTRIBUTES = {
    "token",
    "manufacturer",
    "serial",
    "model",
    "slot-id",
    "object",
    "id",
    "type",
    "library-manufacturer",
    "library-description",
    "library-version",
    "slot-description",
    "slot-manufacturer",
}
_QUERY_ATTRIBUTES = {"module-path", "module-name", "pin-source", "pin-value"}
_OBJECT_TYPES = {"cert", "private", "public", "secret-key", "data"}
#: Where ``module-name`` is looked for.
MODULE_DIRECTORIES = (
    Path("/usr/lib/x86_64-linux-gnu/pkcs11"),
    Path("/usr/lib/aarch64-linux-gnu/pkcs11"),
    Path("/usr/lib/pkcs11"),
    Path("/usr/lib/softhsm"),
    Path("/usr/local/lib"),
)


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI; unset attributes are None."""

    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None
    module_path: str | None = None
    module_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse *text*; raise :class:`KeyRefError` for anything malformed."""
        if not text.lower().startswith(SCHEME):
            raise KeyRefError("a PKCS#11 URI starts with pkcs11:", ref=text)
        body = text[len(SCHEME) :]
        path, _, query = body.partition("?")
        values: dict[str, str | bytes] = {}
        for part, known, separator in ((path, _PATH_ATTRIBUTES, ";"), (query, _QUERY_ATTRIBUTES, "&")):
            for item in filter(None, part.split(separator)):
                name, equals, raw = item.partition("=")
                name = name.strip().lower()
                if not equals:
                    raise KeyRefError(f"attribute {name!r} has no value", ref=text)
                if name == "pin-value":
                    raise KeyRefError(
                        "a PIN must not be written in the URI; use BIDCRYPT_PIN or the prompt",
                        ref=_redacted(text),
                    )
                if name == "pin-source":
                    raise KeyRefError("pin-source is not supported; use BIDCRYPT_PIN", ref=text)
                if name not in known:
                    raise KeyRefError(f"unknown attribute {name!r}", ref=text)
                if name in values:
                    raise KeyRefError(f"attribute {name!r} given twice", ref=text)
                values[name] = unquote_to_bytes(raw) if name == "id" else unquote(raw, errors="strict")
        slot_id = values.get("slot-id")
        if slot_id is not None and not str(slot_id).isdigit():
            raise KeyRefError("slot-id must be a number", ref=text)
        object_type = values.get("type")
        if object_type is not None and object_type not in _OBJECT_TYPES:
            raise KeyRefError(f"unknown object type {object_type!r}", ref=text)

        def text_value(name: str) -> str | None:
            value = values.get(name)
            return None if value is None else str(value)

        object_id = values.get("id")
        return cls(
            token=text_value("token"),
            manufacturer=text_value("manufacturer"),
            serial=text_value("serial"),
            model=text_value("model"),
            slot_id=int(str(slot_id)) if slot_id is not None else None,
            object=text_value("object"),
            id=object_id if isinstance(object_id, bytes) else None,
            type=text_value("type"),
            module_path=text_value("module-path"),
            module_name=text_value("module-name"),
        )

    def module(self, override: str | None = None) -> str | None:
        """The module to load: the URI's, else *override* (``--module``), else the environment."""
        if self.module_path:
            return self.module_path
        if self.module_name:
            return find_module(self.module_name)
        return override or os.environ.get(MODULE_ENV) or None

    def describe(self) -> str:
        """A short name for messages: the token label, else the URI's selectors."""
        return self.token or self.serial or self.model or "PKCS#11 token"


def find_module(name: str) -> str:
    """Resolve a ``module-name`` (``softhsm2`` or ``libsofthsm2.so``) in the usual directories."""
    file_names = [name] if name.endswith(".so") else [f"lib{name}.so", f"{name}.so"]
    for directory in MODULE_DIRECTORIES:
        for file_name in file_names:
            candidate = directory / file_name
            if candidate.exists():
                return str(candidate)
    return file_names[0]


def _redacted(text: str) -> str:
    head, _, query = text.partition("?")
    kept = [item for item in query.split("&") if not item.lower().startswith("pin-value")]
    return head + ("?" + "&".join(kept) if kept else "")


def is_pkcs11_uri(text: str) -> bool:
    """True when *text* is written as a PKCS#11 URI."""
    return text.lower().startswith(SCHEME)
