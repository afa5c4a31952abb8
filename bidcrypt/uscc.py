"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters from the 31-character alphabet ``0-9`` and
``A-Y`` without ``I O S V Z``:

====  ======================================================
pos   meaning
====  ======================================================
1     registration authority (e.g. ``9`` = market regulator)
2     organisation type (e.g. ``1`` = enterprise)
3–8   administrative division code (digits)
9–17  organisation code (GB 11714)
18    check character
====  ======================================================

The check character is ``31 - (Σ value(cᵢ)·wᵢ mod 31)`` over the first 17
characters, with weights ``wᵢ = 3^(i-1) mod 31`` and 31 mapped to 0.
"""

from __future__ import annotations

import re

from bidcrypt.errors import CreditCodeError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

#: 18 characters of the alphabet with a six-digit division code; used to find codes in text.
CANDIDATE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}(?![0-9A-Z])")


def check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a code."""
    if len(first17) != 17 or any(c not in _VALUES for c in first17):
        raise CreditCodeError(value=first17)
    total = sum(_VALUES[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True when *code* has the GB 32100 form and a correct check character."""
    code = code.strip().upper()
    if len(code) != 18 or any(c not in _VALUES for c in code):
        return False
    if not code[2:8].isdigit():
        return False
    return check_character(code[:17]) == code[17]


def normalise(code: str) -> str:
    """Return *code* upper-cased and stripped; raise :class:`CreditCodeError` if invalid."""
    cleaned = code.strip().upper()
    if not is_valid(cleaned):
        raise CreditCodeError(value=code)
    return cleaned


def find_in_text(text: str) -> list[str]:
    """All code-shaped substrings of *text* (valid or not), in order of appearance."""
    return CANDIDATE.findall(text.upper())
