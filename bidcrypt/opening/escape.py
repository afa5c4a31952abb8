"""Text from bidders, made safe for each form of the opening record.

Bidder names, causes, summary fields and file names come from packages,
some from attributes anyone can change without a key. In the text table
(and in HTML and CSV) a control character, a line or paragraph separator
or an invisible formatting character (Unicode Cf, such as U+202E
RIGHT-TO-LEFT OVERRIDE) is shown as a visible escape (``\\x1b``,
``\\u202e``), and a backslash as ``\\\\`` so an escape cannot be faked.
CJK text is kept as it is. CSV cells that a spreadsheet would run as a
formula get a leading apostrophe; HTML is escaped after that. JSON keeps
every value as it is (``json.dumps`` escapes what it must).
"""

from __future__ import annotations

import html
import unicodedata

#: Unicode categories that are never shown as themselves: controls (C0, DEL, C1), formatting
#: characters (bidi overrides, zero-width characters), lone surrogates, line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: First characters that make a spreadsheet read a cell as a formula (the full-width forms as well,
#: which some spreadsheets fold to ASCII).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def is_hidden(character: str) -> bool:
    """Whether *character* is shown as an escape (see :data:`HIDDEN_CATEGORIES`)."""
    return unicodedata.category(character) in HIDDEN_CATEGORIES


def _escape(character: str) -> str:
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """*text* with every hidden character as a visible escape, and a backslash doubled."""
    if text.isprintable() and "\\" not in text:  # the common case: nothing to do
        return text
    return "".join(
        "\\\\" if character == "\\" else _escape(character) if is_hidden(character) else character
        for character in text
    )


def terminal_safe(text: str) -> str:
    """*text* with its hidden characters as escapes, for one line on a terminal (backslashes kept).

    For messages that quote what a bidder wrote (an error naming a forged
    bidder), where paths with backslashes must stay readable.
    """
    if text.isprintable():
        return text
    return "".join(_escape(character) if is_hidden(character) else character for character in text)


def hidden_characters(text: str) -> str:
    """The hidden characters of *text* as escapes (``"\\x1b, \\u202e"``), or an empty string."""
    return ", ".join(dict.fromkeys(_escape(c) for c in text if is_hidden(c)))


def width(text: str) -> int:
    """Columns *text* takes on a terminal: wide and full-width (CJK) characters two, combining marks none."""
    total = 0
    for character in text:
        if unicodedata.combining(character) or unicodedata.category(character) in ("Mn", "Me"):
            continue
        total += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return total


def csv_cell(text: str) -> str:
    """A CSV cell: hidden characters escaped, and an apostrophe before a would-be formula."""
    shown = visible(text)
    return "'" + shown if shown.startswith(FORMULA_PREFIXES) else shown


def html_text(text: str) -> str:
    """Text or an attribute value in HTML: hidden characters escaped, then HTML-escaped (quotes too)."""
    return html.escape(visible(text), quote=True)
