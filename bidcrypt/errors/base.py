"""The root of bidcrypt's errors: a stable code, parameters, and messages rendered when shown.

An error is raised with its parameters and, optionally, a ``detail``: a
plain string for what is the same in every language (a library's message,
an offset) or a :class:`~bidcrypt.i18n.Text` for what must be said in the
reader's language. Nothing is rendered when the error is raised:
:meth:`BidcryptError.message`, :meth:`~BidcryptError.hint` and
:meth:`~BidcryptError.to_dict` render in the language asked for, at the
time they are called. :meth:`~BidcryptError.to_json` keeps the error as
data (its code, parameters and detail), as the opening ledger stores it,
and :func:`error_from_json` makes it again.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bidcrypt.i18n import Language, Localised, Text, fill, from_json_value, json_value, pick, render

#: An error's detail: language-neutral text, or a text in both languages.
Detail = str | Text


class BidcryptError(Exception):
    """Root of every error bidcrypt raises on purpose.

    ``detail`` is an optional addition (an offset, an algorithm OID, a
    library message, or a :class:`~bidcrypt.i18n.Text` in both languages)
    appended to the human message.
    """

    code: ClassVar[str] = "error"
    en: ClassVar[str] = "bidcrypt failed"
    zh: ClassVar[str] = "bidcrypt 执行失败"
    hint_en: ClassVar[str] = ""
    hint_zh: ClassVar[str] = ""

    def __init__(self, detail: Detail | None = None, **params: Any) -> None:
        self.detail = detail
        self.params = params
        super().__init__(self.message("en"))

    def message(self, language: Language | None = None) -> str:
        """The human message, with the detail if any, in *language* (default: locale)."""
        text = fill(pick(self.en, self.zh, language), self.params, language)
        detail = render(self.detail, language)
        if detail:
            text = f"{text}: {detail}"
        return text

    def render(self, language: Language | None = None) -> str:
        """The message in *language*: an error given as a parameter of a text renders so."""
        return self.message(language)

    def hint(self, language: Language | None = None) -> str:
        """What the user can do about it, or an empty string."""
        return fill(pick(self.hint_en, self.hint_zh, language), self.params, language)

    def __str__(self) -> str:
        return self.message()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by the constructor's arguments, so errors cross process boundaries whole.
        return (_restore, (type(self), self.detail, self.params))

    def to_dict(self, language: Language | None = None) -> dict[str, Any]:
        """A JSON-ready description: code, message, hint and parameters, in *language*."""
        return {
            "code": self.code,
            "message": self.message(language),
            "hint": self.hint(language),
            "params": {
                k: v.render(language) if isinstance(v, Localised) else str(v) for k, v in self.params.items()
            },
        }

    def to_json(self) -> dict[str, Any]:
        """The error as data, in no language: ``params`` and ``detail`` (the code is the class's).

        A parameter is kept as text (a localised one in both languages), the
        detail as a plain string or a text's JSON form. It renders as the
        error does: see :func:`error_from_json`.
        """
        detail = self.detail
        return {
            "params": {k: json_value(v) for k, v in self.params.items()},
            "detail": detail.to_json() if isinstance(detail, Text) else detail,
        }


def _restore(cls: type[BidcryptError], detail: Detail | None, params: dict[str, Any]) -> BidcryptError:
    return cls(detail, **params)


def error_class(code: str) -> type[BidcryptError] | None:
    """The error class whose stable ``code`` is *code*, or None."""
    pending: list[type[BidcryptError]] = [BidcryptError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return None


def error_from_json(code: str, data: object) -> BidcryptError:
    """The error of class *code* from :meth:`BidcryptError.to_json`'s form.

    :class:`ValueError` when *code* names no error class or *data* is not
    that form (a hand-edited ledger).
    """
    cls = error_class(code)
    if cls is None:
        raise ValueError(f"no error has the code {code!r}")
    if not isinstance(data, dict):
        raise ValueError("a stored error is not an object")
    params, detail = data.get("params", {}), data.get("detail")
    if not isinstance(params, dict):
        raise ValueError("the parameters of a stored error are not an object")
    return cls(
        None if detail is None else from_json_value(detail),
        **{str(k): from_json_value(v) for k, v in params.items()},
    )
