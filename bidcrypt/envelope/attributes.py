"""CMS attributes (RFC 5652 section 5.3): what an envelope carries beside its content, and their rules.

An :class:`Attribute` is a type and the DER of each value. The authenticated
attributes of an AuthEnvelopedData follow RFC 5083 section 2.1
(:func:`check_authenticated_attributes`); the unauthenticated ones, and the
unprotectedAttrs of an EnvelopedData (GM/T 0010's included), only have to
parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import core

from bidcrypt.envelope import _asn1, presentation
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.i18n import Text

#: Attributes are decoded down to their values (SET OF Attribute / SEQUENCE / SET OF value); a value
#: itself is passed on as DER, to be decoded by whoever knows its type.
ATTRIBUTE_DEPTH = 3


@dataclass(frozen=True)
class Attribute:
    """One CMS attribute: its type and the DER encoding of each value."""

    oid: str
    values: tuple[bytes, ...]

    @property
    def name(self) -> str:
        """The attribute type's readable name, or its OID."""
        return alg.name_of(self.oid)

    def value_texts(self) -> list[str]:
        """Each value in readable form (strings, OIDs, times, integers; else hex)."""
        return [presentation.value_text(value) for value in self.values]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return presentation.attribute_dict(self)

    def encode(self) -> bytes:
        """The DER Attribute."""
        from bidcrypt.envelope import _der as der

        return der.sequence(der.oid(self.oid), der.set_of(self.values))


def check_authenticated_attributes(attributes: tuple[Attribute, ...], present: bool, inner_type: str) -> None:
    """The MUSTs of RFC 5083 section 2.1 on the authAttrs of an AuthEnvelopedData.

    When present they are a non-empty SET that includes the content-type
    attribute (once, with one value: the type of the encrypted content);
    and they must be present when that type is not id-data.
    """
    if present and not attributes:
        raise ber.malformed(Text("empty authenticated attributes", "认证属性为空"))
    if not present and inner_type != alg.DATA:
        raise ber.malformed(
            Text(
                "authenticated attributes are required for content of type {inner_type} "
                "(RFC 5083 section 2.1)",
                "加密内容类型为 {inner_type} 时必须有认证属性（RFC 5083 第 2.1 节）",
                inner_type=alg.name_of(inner_type),
            ),
        )
    content_types = [a for a in attributes if a.oid == alg.CONTENT_TYPE_ATTRIBUTE]
    if present and len(content_types) != 1:
        raise ber.malformed(
            Text(
                "the authenticated attributes must include the content-type attribute once "
                "(RFC 5083 section 2.1)",
                "认证属性中必须有且仅有一个内容类型属性（RFC 5083 第 2.1 节）",
            ),
        )
    if content_types and content_types[0].values != (bytes(core.ObjectIdentifier(inner_type).dump()),):
        raise ber.malformed(
            Text("the content-type attribute does not match the content", "内容类型属性与加密内容不一致")
        )


def parse_attributes(node: ber.Node) -> tuple[Attribute, ...]:
    found = []
    for child in node.children:
        if not child.is_(ber.UNIVERSAL, ber.SEQUENCE, constructed=True) or len(child.children) != 2:
            raise ber.malformed(Text("bad attribute", "属性格式错误"))
        oid = _oid(child.children[0])
        values = child.children[1]
        if not values.is_(ber.UNIVERSAL, ber.SET, constructed=True):
            raise ber.malformed(Text("bad attribute values", "属性值格式错误"))
        if not values.children:
            raise ber.malformed(Text("attribute without a value", "属性没有值"))
        found.append(Attribute(oid, tuple(value.raw for value in values.children)))
    return tuple(found)


def _oid(node: ber.Node) -> str:
    return str(_asn1.load(core.ObjectIdentifier, node.raw, "object identifier").dotted)
