"""Language choice for user-facing text: Chinese under a Chinese locale, English otherwise.

Two ways to say something in both languages:

- :func:`pick` chooses between an English and a Chinese string *now*: for
  text shown at once (a report line, a CLI message).
- :class:`Text` keeps both templates and their parameters and chooses only
  when it is rendered: for text that is kept and shown later (an error's
  detail, a cause in the ledger), so that the reader's language decides,
  not the language of the process that made it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

Language = Literal["zh", "en"]

#: Every language a :class:`Text` renders in.
LANGUAGES: tuple[Language, ...] = ("en", "zh")

_LOCALE_VARIABLES = ("BIDCRYPT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

#: The language of :func:`speaking`, in the context (thread, task) that set it; None: the locale's.
_SPOKEN: contextvars.ContextVar[Language | None] = contextvars.ContextVar("bidcrypt_spoken", default=None)


@contextlib.contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Inside the block (and the threads and tasks it starts), the current language is *language*,
    whatever the locale: for text made to be stored, not shown (a bid's report in the ledger)."""
    token = _SPOKEN.set(language)
    try:
        yield
    finally:
        _SPOKEN.reset(token)


def current_language() -> Language:
    """Return ``"zh"`` when the first set locale variable names Chinese, else ``"en"``.

    ``BIDCRYPT_LANG`` overrides the POSIX variables, which are read in their
    usual order of precedence (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``).
    Inside :func:`speaking`, its language.
    """
    spoken = _SPOKEN.get()
    if spoken is not None:
        return spoken
    for name in _LOCALE_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and value not in ("C", "POSIX"):
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def pick(en: str, zh: str, language: Language | None = None) -> str:
    """Return the text for *language* (default: the current locale's)."""
    return zh if (language or current_language()) == "zh" else en


@runtime_checkable
class Localised(Protocol):
    """Something that renders itself in a language: a :class:`Text`, a bidcrypt error."""

    def render(self, language: Language | None = None) -> str:
        """The text in *language* (default: the current locale's)."""
        ...


def render_value(value: object, language: Language | None = None) -> str:
    """A template parameter as text: a :class:`Localised` value in *language*, anything else formatted."""
    if isinstance(value, Localised):
        return value.render(language)
    return format(value, "")


# ``{{`` and ``}}`` are literal braces; ``{name}`` a parameter; anything else is left as it is.
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, params: Mapping[str, object], language: Language | None = None) -> str:
    """*template* with each ``{name}`` replaced by its parameter rendered in *language*.

    Never fails: an unknown ``{name}`` stays visible, and any other brace
    (a lone ``{``, ``{0}``, ``{x!r}``) is kept as it is. ``{{`` and ``}}``
    are literal braces, as in :meth:`str.format`.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group()[0]
        if name not in params:
            return match.group()
        return render_value(params[name], language)

    return _FIELD.sub(replace, template)


def escape(text: str) -> str:
    """*text* as a :class:`Text` template that renders as itself (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


class Text:
    """A message in English and Chinese, rendered in a language only when it is shown.

    ``Text(en, zh, **params)``: *en* and *zh* are templates whose ``{name}``
    fields take the parameters (see :func:`fill`); a parameter that is
    itself a :class:`Text` (or a bidcrypt error) is rendered in the same
    language. Immutable, comparable and picklable (its parameters must be),
    so it crosses process boundaries inside an error. ``str()`` renders it
    in the current locale's language.
    """

    __slots__ = ("en", "params", "zh")

    en: str
    zh: str
    params: Mapping[str, Any]

    def __init__(self, en: str, zh: str, /, **params: Any) -> None:
        object.__setattr__(self, "en", en)
        object.__setattr__(self, "zh", zh)
        object.__setattr__(self, "params", MappingProxyType(params))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def render(self, language: Language | None = None) -> str:
        """The text in *language* (default: the current locale's)."""
        return fill(pick(self.en, self.zh, language), self.params, language)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        params = "".join(f", {name}={value!r}" for name, value in self.params.items())
        return f"Text({self.en!r}, {self.zh!r}{params})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Text):
            return NotImplemented
        return (self.en, self.zh, dict(self.params)) == (other.en, other.zh, dict(other.params))

    def __hash__(self) -> int:
        return hash((self.en, self.zh, tuple(sorted(self.params))))

    def __reduce__(self) -> tuple[Any, ...]:
        # A parameter that is not plain data is pickled as it renders, so that any text crosses processes.
        params = {
            k: v if isinstance(v, _PLAIN | Localised) else format(v, "") for k, v in self.params.items()
        }
        return (_make_text, (self.en, self.zh, params))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form that :meth:`from_json` reads back.

        Parameters are kept as text: a :class:`Text` as its own JSON form,
        another localised value as its renderings, anything else formatted.
        So the JSON form renders exactly as the text does.
        """
        return {"en": self.en, "zh": self.zh, "params": {k: json_value(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: object) -> Text:
        """Read :meth:`to_json`'s form; :class:`ValueError` when *data* is not one."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("en"), str)
            or not isinstance(data.get("zh"), str)
        ):
            raise ValueError("not a localised text")
        params = data.get("params", {})
        if not isinstance(params, dict):
            raise ValueError("the parameters of a localised text are not an object")
        return cls(data["en"], data["zh"], **{str(k): from_json_value(v) for k, v in params.items()})


_PLAIN = str | int | float | None


def _make_text(en: str, zh: str, params: dict[str, Any]) -> Text:
    return Text(en, zh, **params)


def json_value(value: object) -> str | dict[str, Any]:
    """A text or template parameter as JSON: a :class:`Text` as its JSON form, else text.

    Another localised value (an error) is kept as its rendering in each
    language; anything else as it formats.
    """
    if isinstance(value, Text):
        return value.to_json()
    if isinstance(value, Localised):
        return Text(escape(value.render("en")), escape(value.render("zh"))).to_json()
    return format(value, "")


def from_json_value(data: object) -> str | Text:
    """Read :func:`json_value`'s form; :class:`ValueError` when *data* is neither."""
    if isinstance(data, str):
        return data
    return Text.from_json(data)


def render(text: str | Text | None, language: Language | None = None) -> str:
    """A plain string as it is, a :class:`Text` in *language*; None as an empty string."""
    if text is None:
        return ""
    return text if isinstance(text, str) else text.render(language)
