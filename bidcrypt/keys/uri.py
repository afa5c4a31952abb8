"""PKCS#11 URIs (RFC 7512) naming a token and an object on it.

    pkcs11:token=bidder-a;object=enc?module-path=/usr/lib/softhsm/libsofthsm2.so

Path attributes understood: ``token``, ``manufacturer``, ``serial``,
``model``, ``slot-id``, ``object``, ``id`` (percent-encoded bytes) and
``type``. Query attributes: ``module-path`` and ``module-name``. A
``pin-value`` or ``pin-source`` is refused: a PIN never goes on a command
line, and no message ever repeats one (:func:`redact_reference`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from bidcrypt.errors import KeyRefError
from bidcrypt.i18n import Text

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
_QUERY_ATTRIBUTES = {"module-path", "module-name"}
_OBJECT_TYPES = {"cert", "private", "public", "secret-key", "data"}
#: Where ``module-name`` is looked for.
MODULE_DIRECTORIES = (
    Path("/usr/lib/x86_64-linux-gnu/pkcs11"),
    Path("/usr/lib/aarch64-linux-gnu/pkcs11"),
    Path("/usr/lib/pkcs11"),
    Path("/usr/lib/softhsm"),
    Path("/usr/local/lib"),
)


def split_attributes(
    body: str, path_attributes: Collection[str], query_attributes: Collection[str], shown: str
) -> dict[str, str]:
    """The attributes of an RFC 7512-style reference after its scheme: name -> value, still percent-encoded.

    Path attributes are separated by ``;``, query attributes (after ``?``)
    by ``&``. :class:`KeyRefError` (quoting *shown*, the redacted reference)
    for an attribute without a value, an unknown one, or one given twice.
    """
    path, _, query = body.partition("?")
    values: dict[str, str] = {}
    for part, known, separator in ((path, path_attributes, ";"), (query, query_attributes, "&")):
        for item in filter(None, part.split(separator)):
            name, equals, raw = item.partition("=")
            name = name.strip().lower()
            if not equals:
                raise KeyRefError(f"attribute {name!r} has no value", ref=shown)
            if name not in known:
                raise KeyRefError(f"unknown attribute {name!r}", ref=shown)
            if name in values:
                raise KeyRefError(f"attribute {name!r} given twice", ref=shown)
            values[name] = raw
    return values


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
        """Parse *text*; raise :class:`KeyRefError` for anything malformed.

        A reference that holds, or may hold, a PIN (``pin-value`` or
        ``pin-source`` in any case or encoding, anywhere) is refused before
        anything else is looked at, and no message ever shows it: see
        :func:`redact_reference`.
        """
        shown = redact_reference(text)
        if not text.lower().startswith(SCHEME):
            raise KeyRefError("a PKCS#11 URI starts with pkcs11:", ref=shown)
        if shown != text:
            raise KeyRefError(
                Text(
                    "a PIN must not be written in a key reference (pin-value, pin-source); "
                    "use BIDCRYPT_PIN or the prompt",
                    "密钥引用中不得写入 PIN 码（pin-value、pin-source）；请使用 BIDCRYPT_PIN 或在提示时输入",
                ),
                ref=shown,
            )
        attributes = split_attributes(text[len(SCHEME) :], _PATH_ATTRIBUTES, _QUERY_ATTRIBUTES, shown)
        values: dict[str, str | bytes] = {
            name: unquote_to_bytes(raw) if name == "id" else _utf8(name, raw, shown)
            for name, raw in attributes.items()
        }
        slot_id = values.get("slot-id")
        if slot_id is not None and not re.fullmatch(r"[0-9]{1,20}", str(slot_id)):
            raise KeyRefError("slot-id must be a number", ref=shown)
        object_type = values.get("type")
        if object_type is not None and object_type not in _OBJECT_TYPES:
            raise KeyRefError(f"unknown object type {object_type!r}", ref=shown)

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


def _utf8(name: str, raw: str, shown: str) -> str:
    """The percent-decoded value *raw* of the attribute *name*, which RFC 7512 makes UTF-8."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise KeyRefError(
            Text(
                "the value of {name} is not UTF-8 once percent-decoded (a label cut mid-character, "
                "or written in GBK); write the label's UTF-8 bytes, e.g. token=%E6%B9%96%E5%8C%97",
                "{name} 的值经百分号解码后不是 UTF-8 文本（名称被截断在字符中间，或使用了 GBK 编码）；"
                "请按 UTF-8 编码书写，例如 token=%E6%B9%96%E5%8C%97",
                name=repr(name),
            ),
            ref=shown,
        ) from exc


def redact_reference(text: str) -> str:
    """*text* as it may be shown in a message: cut before the first part that may hold a PIN.

    The reference is split at ``;``, ``?`` and ``&``. From the first part
    whose name mentions a PIN (``pin-value``, ``PIN-Value``, ``pin%2Dvalue``,
    ``pin-source``, ... after percent-decoding, also nested and repeated, and
    NFKC folding), everything is replaced by ``[…]``: a PIN comes after
    its name, so what is shown holds none, however malformed the rest is.
    """
    start = next((len(scheme) for scheme in _SCHEMES if text[: len(scheme)].lower() == scheme), 0)
    pieces = re.split(r"([;?&])", text[start:])
    shown = text[:start]
    for index in range(0, len(pieces), 2):
        if _mentions_pin(pieces[index]):
            return shown + _HIDDEN
        shown += pieces[index] + (pieces[index + 1] if index + 1 < len(pieces) else "")
    return shown


_HIDDEN = "[…]"
#: The key-reference schemes whose name is not an attribute (``skf:`` is SKF's, :mod:`bidcrypt.keys.skf_uri`).
_SCHEMES = (SCHEME, "skf:")


def _mentions_pin(part: str) -> bool:
    """True when some attribute name in *part*, however encoded, mentions a PIN."""
    decoded = part
    for _ in range(8):  # percent-encoded names, also several times over
        once = unquote(decoded, errors="replace")
        if once == decoded:
            break
        decoded = once
    folded = unicodedata.normalize("NFKC", decoded).casefold()
    for piece in re.split(r"[;?&]", folded):
        piece = piece.strip()
        for scheme in _SCHEMES:
            if piece.startswith(scheme):
                piece = piece[len(scheme) :]
        parts = re.split(r"[=:]", piece, maxsplit=1)
        if len(parts) == 2 and "pin" in parts[0]:  # a name with a value after it
            return True
    return False


def is_pkcs11_uri(text: str) -> bool:
    """True when *text* is written as a PKCS#11 URI."""
    return text.lower().startswith(SCHEME)
