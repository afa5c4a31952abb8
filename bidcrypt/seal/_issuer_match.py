"""pyHanko's ESS issuer-and-serial match, remembered: the same question is answered once per process.

Checking a seal, pyHanko matches the signing-certificate attribute's
issuer and serial number against the signer's certificate twice (when it
picks the signer's certificate, and again in the integrity check). Its
first comparison, of the names' bytes, never holds for an ESS
``IssuerSerial`` (it compares an explicitly tagged name with an untagged
one), so every match ends in RFC 5280's name comparison (string
preparation of every attribute): the largest part of checking a seal's
signature. A bulk opening asks the same few questions for every bid (one per
bidder certificate), so the answer is kept, keyed by the bytes of both
objects: pyHanko's function decides, only once for the same bytes.
"""

from __future__ import annotations

from typing import Any

from pyhanko.sign import general

#: pyHanko's own match.
_pyhanko_match = general.match_issuer_serial
#: The answers already given, by (type of the identifier, its bytes, the certificate's bytes).
_answers: dict[tuple[type, bytes, bytes], bool] = {}
#: The most answers kept (a few per bidder certificate are asked for).
_MAX_ANSWERS = 1024


def match_issuer_serial(expected_issuer_serial: Any, cert: Any) -> bool:
    """pyHanko's ``match_issuer_serial``, answered from memory when the same bytes were asked before."""
    key = (type(expected_issuer_serial), expected_issuer_serial.dump(), cert.dump())
    known = _answers.get(key)
    if known is None:
        known = bool(_pyhanko_match(expected_issuer_serial, cert))
        if len(_answers) >= _MAX_ANSWERS:
            _answers.clear()
        _answers[key] = known
    return known


def install() -> None:
    """Make pyHanko's ESS check use :func:`match_issuer_serial` (it looks the function up by name)."""
    general.match_issuer_serial = match_issuer_serial
