"""The opening-hall page (开标大厅): one read-only HTML page, live, in Chinese or English, printable.

Everything is in the page (no external resource, no CDN): its style, its
script, and the status it starts from, embedded as JSON that cannot close
its ``<script>`` element. The script draws every value with
``textContent`` (bidder names are hostile input: nothing a bidder wrote is
ever parsed as HTML), counts down from the server's ``remaining`` with the
browser's monotonic clock (never its wall clock), and follows the status by
server-sent events, falling back to polling ``status``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.responses import HTMLResponse

from bidcrypt.remote.hall_assets import SCRIPT, STYLE

__all__ = ["embedded_json", "hall_page"]

#: The page may load nothing from anywhere but itself; inline style and script are its own.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


NOSCRIPT = {"en": "This page needs JavaScript; the status is at", "zh": "本页需要 JavaScript；状态见"}


def embedded_json(data: Any) -> str:
    """*data* as JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` appears as such."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def hall_page(status: dict[str, Any], language: str) -> HTMLResponse:
    """The hall page of a session, starting from *status*, in *language* (``zh`` or ``en``)."""
    lang = "en" if language == "en" else "zh"
    title = ("Opening hall" if lang == "en" else "开标大厅") + " · " + str(status.get("tender", ""))
    page = f"""<!DOCTYPE html>
<html lang="{"en" if lang == "en" else "zh-CN"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1 id="title">{html.escape(title)}</h1>
<p id="tender"></p><p id="clock"></p></header>
<main>
<section id="window-box"><h2 id="window-title"></h2><p id="countdown" aria-live="polite"></p>
<p id="window-state"></p><ul id="pauses"></ul><p id="shares"></p></section>
<section><h2 id="bidders-title"></h2><table id="bidders"><thead></thead><tbody></tbody></table></section>
<section id="record-box" hidden><h2 id="record-title"></h2><table id="record"><thead></thead><tbody></tbody>
</table><ul id="decisions"></ul><ul id="flags"></ul></section>
<noscript><p>{NOSCRIPT[lang]}
<a href="status">status</a> / <a href="record?format=text">record</a></p></noscript>
</main>
<footer><p id="live"></p></footer>
<script type="application/json" id="initial">{embedded_json(status)}</script>
<script type="application/json" id="lang">{embedded_json(lang)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
