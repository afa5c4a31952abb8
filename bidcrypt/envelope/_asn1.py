"""asn1crypto for the small elements of an envelope: the schemas it lacks, and loading hostile bytes.

The RecipientInfos, algorithm identifiers and their parameters are read and
written with asn1crypto's CMS, algorithm and key schemas; the two elements
it has no schema for are here (:class:`GcmParameters` of RFC 5084 and
:class:`EccCmsSharedInfo` of RFC 5753). The streaming frame around them, the
content segments and the trailer stay with :mod:`bidcrypt.envelope._ber`,
which has already bounded the size and depth of every element handed here.

asn1crypto parses lazily and raises plain Python errors: :func:`parsing`
turns them into :class:`~bidcrypt.errors.MalformedEnvelopeError`, and
:func:`load` parses a value completely inside it, so that nothing fails
later outside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, TypeVar, cast

from asn1crypto import cms, core

from bidcrypt.errors import MalformedEnvelopeError
from bidcrypt.i18n import Text

#: What asn1crypto raises for bytes that do not fit a schema.
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)

Value = TypeVar("Value", bound=core.Asn1Value)


class GcmParameters(core.Sequence):  # type: ignore[misc]
    """GCMParameters (RFC 5084 section 3.2): the nonce and the tag (ICV) length."""

    _fields: ClassVar = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


class EccCmsSharedInfo(core.Sequence):  # type: ignore[misc]
    """ECC-CMS-SharedInfo (RFC 5753 section 7.2), the input of the X9.63 KDF besides the secret."""

    _fields: ClassVar = [
        ("key_info", cms.KeyEncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def malformed(what: str) -> MalformedEnvelopeError:
    """``bad {what}``: an element that does not fit its schema."""
    return MalformedEnvelopeError(Text("bad {what}", "{what} 格式错误", what=what))


@contextmanager
def parsing(what: str) -> Iterator[None]:
    """Turn asn1crypto's errors inside the block into ``bad {what}`` (a MalformedEnvelopeError)."""
    try:
        yield
    except PARSE_ERRORS as exc:
        raise malformed(what) from exc


def load(spec: type[Value], data: bytes, what: str) -> Value:
    """*data* decoded as one *spec*, parsed through to the end now (errors: ``bad {what}``).

    Stricter than asn1crypto alone: no fields beyond a SEQUENCE's own,
    INTEGERs in their shortest form and OBJECT IDENTIFIERs whose arcs are
    well formed (X.690 8.3.2, 8.19.2; BER as well as DER).
    """
    with parsing(what):
        value = cast(Value, spec.load(data, strict=True))
        _ = value.native
        _check(value)
    return value


def _check(value: core.Asn1Value, depth: int = 0) -> None:
    if depth > 32:
        raise ValueError("nested too deeply")
    if isinstance(value, core.Sequence):
        if len(value) > len(value._fields):
            raise ValueError("unexpected fields")
        for index in range(len(value)):
            _check(value[index], depth + 1)
    elif isinstance(value, core.SequenceOf | core.SetOf):
        for item in value:
            _check(item, depth + 1)
    elif isinstance(value, core.Choice):
        _check(value.chosen, depth + 1)
    elif isinstance(value, core.Integer):
        contents = value.contents
        if contents is not None and (
            not contents
            or (len(contents) > 1 and (contents[0], contents[1] & 0x80) in ((0x00, 0), (0xFF, 0x80)))
        ):
            raise ValueError("INTEGER not in its shortest form")
    elif isinstance(value, core.ObjectIdentifier):
        _check_oid(value.contents)


def _check_oid(contents: bytes | None) -> None:
    if contents is None:
        return
    if not contents or contents[-1] & 0x80:
        raise ValueError("truncated object identifier")
    for arc in re.split(rb"(?<=[\x00-\x7f])", contents)[:-1]:
        if arc[0] == 0x80 or len(arc) > 19:  # a padded arc, or one above 128 bits
            raise ValueError("bad object identifier arc")
