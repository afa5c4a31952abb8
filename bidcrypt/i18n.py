"""Language choice for user-facing text: Chinese under a Chinese locale, English otherwise."""

from __future__ import annotations

import os
from typing import Literal

Language = Literal["zh", "en"]

_LOCALE_VARIABLES = ("BIDCRYPT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def current_language() -> Language:
    """Return ``"zh"`` when the first set locale variable names Chinese, else ``"en"``.

    ``BIDCRYPT_LANG`` overrides the POSIX variables, which are read in their
    usual order of precedence (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``).
    """
    for name in _LOCALE_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and value not in ("C", "POSIX"):
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def pick(en: str, zh: str, language: Language | None = None) -> str:
    """Return the text for *language* (default: the current locale's)."""
    return zh if (language or current_language()) == "zh" else en
