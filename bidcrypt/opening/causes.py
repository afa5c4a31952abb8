"""Causes in the ledger: an error kept as its code and parameters, rendered in the reader's language.

A failed bid, a pending bid's last attempt and a refused submission each
keep the error that explains them: its code (``cause_code``, ``code``) and
its parameters and detail as JSON (``cause_params``, ``params``; see
:meth:`bidcrypt.errors.BidcryptError.to_json`). The record renders them
with the error's own templates, in the language it is asked for. Rows
written before schema version 2 have only the rendered English and Chinese
text, which is shown as it is.
"""

from __future__ import annotations

import json
from typing import Any

from bidcrypt.errors import BidcryptError, error_from_json
from bidcrypt.i18n import Language, pick
from bidcrypt.opening.ledger import Row, dumps

#: Why a bid still unopened when the decryption window closed is recorded as not decrypted.
NOT_DECRYPTED = ("not decrypted within the window", "未在解密时间内解密")

#: The causes the close of a started window records (视为撤销, 视为撤回): they say the window's part.
ATTRIBUTED = frozenset({"deemed-revoked", "deemed-withdrawn"})


def stored(error: BidcryptError) -> str:
    """The JSON that keeps *error*'s parameters and detail (its code goes in its own column)."""
    return dumps(error.to_json())


def window_params(last_attempt: Row | None) -> str | None:
    """``cause_params`` of a bid recorded as not decrypted when the window closed.

    The last attempt's parameters (its error is the inner cause), JSON
    ``null`` when there was no attempt, or None (render the text columns)
    when the last attempt was written before schema version 2.
    """
    if last_attempt is None:
        return "null"
    params = last_attempt.get("cause_params")
    return None if params is None else str(params)


def render_cause(
    row: Row,
    language: Language | None = None,
    *,
    status: str | None = None,
    code: str = "cause_code",
    params: str = "cause_params",
    text: tuple[str, str] = ("cause", "cause_zh"),
) -> str | None:
    """The cause kept in *row*, in *language*; None when the row has none.

    *code*, *params* and *text* name the row's columns (``code``,
    ``params`` and ``message``/``message_zh`` for a refusal). With *status*
    ``not-decrypted`` the cause is the window's, with the last attempt's
    error in brackets. :class:`ValueError` when the stored JSON or code is
    not as bidcrypt wrote it.
    """
    data = row.get(params)
    if data is None:
        value = row.get(text[1] if pick("en", "zh", language) == "zh" else text[0])
        return None if value is None else str(value)
    inner = _error(row.get(code), json.loads(data))
    if status == "not-decrypted" and row.get(code) not in ATTRIBUTED:
        window = pick(*NOT_DECRYPTED, language)
        if inner is None:
            return window
        message = inner.message(language)
        return pick(f"{window} ({message})", f"{window}（{message}）", language)
    return None if inner is None else inner.message(language)


def _error(code: Any, data: Any) -> BidcryptError | None:
    if data is None:
        return None
    if not isinstance(code, str):
        raise ValueError(f"a stored cause has no code ({code!r})")
    return error_from_json(code, data)
