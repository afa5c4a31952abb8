"""SKF key references, and the names an SKF token gives its devices, applications and containers.

    skf:device=<name>;application=<name>;container=<name>?module-path=/opt/vendor/libskf.so&fast-path=no

Every attribute is optional; values are percent-encoded as in RFC 7512. The
module comes from ``module-path``, else ``--module``, else the environment
variable ``BIDCRYPT_SKF_MODULE``. ``fast-path=no`` makes bidcrypt import
content keys into the token even when the library can decrypt with the
private key. A PIN is never accepted in a reference (as for ``pkcs11:``).

Names on the token are bytes, UTF-8 with some vendors and GBK with others:
:class:`SkfName` reads them as UTF-8, else GBK, and keeps the bytes to pass
back to the library.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from bidcrypt.errors import KeyRefError
from bidcrypt.i18n import Text
from bidcrypt.keys.uri import redact_reference, split_attributes

SKF_SCHEME = "skf:"
SKF_MODULE_ENV = "BIDCRYPT_SKF_MODULE"
_PATH_ATTRIBUTES = ("device", "application", "container")
_QUERY_ATTRIBUTES = ("module-path", "fast-path")
_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


def decode_name(raw: bytes) -> str:
    """A name from the token as text: UTF-8, else GBK (GB 18030), else UTF-8 with replacement marks."""
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SkfName:
    """A device, application or container name: the token's bytes and their reading."""

    raw: bytes
    text: str

    @classmethod
    def of(cls, raw: bytes) -> SkfName:
        """The name whose bytes on the token are *raw*."""
        return cls(raw, decode_name(raw))

    def __str__(self) -> str:
        return self.text

    def matches(self, wanted: bytes) -> bool:
        """True when *wanted* (a reference's percent-decoded bytes) names this: same bytes or same text."""
        return wanted == self.raw or decode_name(wanted) == self.text


def split_name_list(raw: bytes) -> list[SkfName]:
    """The names in an SKF list (each ended by NUL, the whole by one more); empty names are skipped."""
    return [SkfName.of(part) for part in raw.split(b"\0") if part]


@dataclass(frozen=True)
class SkfUri:
    """A parsed ``skf:`` reference; unset attributes are None. Names are percent-decoded bytes."""

    device: bytes | None = None
    application: bytes | None = None
    container: bytes | None = None
    module_path: str | None = None
    fast_path: bool = True

    @classmethod
    def parse(cls, text: str) -> SkfUri:
        """Parse *text*; :class:`KeyRefError` for anything malformed or holding a PIN."""
        shown = redact_reference(text)
        if not is_skf_uri(text):
            raise KeyRefError("an SKF key reference starts with skf:", ref=shown)
        if shown != text:
            raise KeyRefError(
                Text(
                    "a PIN must not be written in a key reference; use BIDCRYPT_PIN or the prompt",
                    "密钥引用中不得写入 PIN 码；请使用 BIDCRYPT_PIN 或在提示时输入",
                ),
                ref=shown,
            )
        values: dict[str, bytes] = {}
        for name, raw in split_attributes(
            text[len(SKF_SCHEME) :], _PATH_ATTRIBUTES, _QUERY_ATTRIBUTES, shown
        ).items():
            value = unquote_to_bytes(raw)
            if not value or b"\0" in value:
                raise KeyRefError(f"attribute {name!r} is empty or holds a NUL", ref=shown)
            values[name] = value
        fast = values.get("fast-path", b"yes").decode("ascii", errors="replace").lower()
        if fast not in _YES + _NO:
            raise KeyRefError("fast-path is yes or no", ref=shown)
        module = values.get("module-path")
        return cls(
            device=values.get("device"),
            application=values.get("application"),
            container=values.get("container"),
            module_path=None if module is None else os.fsdecode(module),
            fast_path=fast in _YES,
        )

    def module(self, override: str | None = None) -> str | None:
        """The library to load: the reference's, else *override* (``--module``), else the environment."""
        return self.module_path or override or os.environ.get(SKF_MODULE_ENV) or None

    def describe(self) -> str:
        """A short name for messages: the container, application or device named, else "SKF UKey"."""
        for value in (self.container, self.application, self.device):
            if value is not None:
                return decode_name(value)
        return "SKF UKey"


def is_skf_uri(text: str) -> bool:
    """True when *text* is written as an SKF key reference."""
    return text[: len(SKF_SCHEME)].lower() == SKF_SCHEME


__all__ = [
    "SKF_MODULE_ENV",
    "SKF_SCHEME",
    "SkfName",
    "SkfUri",
    "decode_name",
    "is_skf_uri",
    "split_name_list",
]
