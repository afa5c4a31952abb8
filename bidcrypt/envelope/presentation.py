"""How an envelope is shown: the JSON of ``bidcrypt envelope inspect --json`` and its text report.

Rendering only: the header, recipient and attribute types
(:mod:`~bidcrypt.envelope.header`, :mod:`~bidcrypt.envelope.identifiers`)
hold what an envelope says, and their ``to_dict`` methods come here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asn1crypto import core

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import algorithms as alg
from bidcrypt.errors import MalformedEnvelopeError
from bidcrypt.i18n import pick

if TYPE_CHECKING:
    from bidcrypt.envelope.header import Attribute, EnvelopeHeader


def suite(header: EnvelopeHeader) -> str:
    """The suite of an envelope in words, naming the GM/T 0010 one as such."""
    cipher = header.cipher.cipher
    if cipher.is_gm or header.content_type == alg.GM_ENVELOPED_DATA:
        wraps = sorted({_wrap_name(r.algorithm_name) for r in header.recipients})
        return f"GM/T 0010 EnvelopedData ({' + '.join(wraps)} / {cipher.value.upper()})"
    if header.is_authenticated:
        return f"CMS AuthEnvelopedData ({cipher.value.upper()})"
    return f"CMS EnvelopedData ({cipher.value.upper()})"


def _wrap_name(algorithm_name: str) -> str:
    return algorithm_name.split(" (")[0].replace(" encryption", "")


def header_dict(header: EnvelopeHeader) -> dict[str, Any]:
    """What ``bidcrypt envelope inspect --json`` prints."""
    return {
        "suite": suite(header),
        "content_type": alg.name_of(header.content_type),
        "content_type_oid": header.content_type,
        "version": header.version,
        "encoding": "BER (indefinite length)" if header.indefinite else "DER (definite length)",
        "cipher": header.cipher.cipher.value,
        "cipher_oid": header.cipher.cipher.oid,
        "iv_length": len(header.cipher.iv),
        "tag_length": header.cipher.tag_length or None,
        "authenticated": header.is_authenticated,
        "inner_content_type": alg.name_of(header.inner_content_type),
        "recipients": [recipient.to_dict() for recipient in header.recipients],
        "authenticated_attributes": [a.to_dict() for a in header.authenticated_attributes],
        "unauthenticated_attributes": [a.to_dict() for a in header.unauthenticated_attributes],
        "shared_info": [
            {"field": f"sharedInfo{number}", "length": len(value), "hex": value.hex()}
            for number, value in header.shared_info
        ],
        "sizes": {
            "envelope": header.size,
            "encrypted_content": header.content.length,
            "segments": header.content.segments,
            "overhead": header.size - header.content.length,
        },
    }


def attribute_dict(attribute: Attribute) -> dict[str, Any]:
    """JSON-ready form of one attribute."""
    return {"oid": attribute.oid, "name": attribute.name, "values": attribute.value_texts()}


def value_text(value: bytes) -> str:
    """An attribute value (DER) in readable form: strings, OIDs, times, integers; else hex."""
    try:
        parsed = core.load(value, strict=True)
        if isinstance(parsed, core.ObjectIdentifier):
            return alg.name_of(parsed.dotted)
        if isinstance(parsed, core.UTF8String | core.PrintableString | core.IA5String):
            return bytes(parsed.contents).decode("utf-8")
        if isinstance(parsed, core.BMPString):
            return bytes(parsed.contents).decode("utf-16-be")
        if isinstance(parsed, core.UTCTime | core.GeneralizedTime):
            return bytes(parsed.contents).decode("ascii")
        if isinstance(parsed, core.Integer):
            return str(_asn1.load(core.Integer, value, "INTEGER").native)
        if isinstance(parsed, core.OctetString):
            return bytes(parsed.native).hex()
    except (*_asn1.PARSE_ERRORS, MalformedEnvelopeError, UnicodeDecodeError):
        pass
    return value.hex()


def summary_lines(header: EnvelopeHeader) -> list[str]:
    """The human-readable report of ``bidcrypt envelope inspect``."""
    data = header.to_dict()
    lines = [
        f"{pick('suite', '算法套件')}: {data['suite']}",
        f"{pick('content type', '内容类型')}: {data['content_type']} ({header.content_type})",
        f"{pick('encoding', '编码')}: {data['encoding']}",
        f"{pick('cipher', '加密算法')}: {header.cipher.describe()}",
        f"{pick('integrity', '完整性')}: "
        + (
            pick(
                "authenticated (the GCM tag covers the content and the authenticated attributes)",
                "已认证（GCM 认证标签覆盖加密内容和认证属性）",
            )
            if header.is_authenticated
            else pick(
                "none: CBC does not detect a changed ciphertext byte (only the padding is checked)",
                "无：CBC 模式无法发现被改动的密文（只校验填充）",
            )
        ),
        f"{pick('encrypted content type', '加密内容类型')}: {data['inner_content_type']}",
        f"{pick('recipients', '接收者')}: {len(header.recipients)}",
    ]
    for recipient in header.recipients:
        rid = recipient.rid.describe() if recipient.rid else "-"
        line = f"  [{recipient.index + 1}] {recipient.kind.value}, {recipient.algorithm_name}, {rid}"
        if recipient.problem:
            line += f" ({pick('unsupported', '不支持')}: {recipient.problem_text})"
        lines.append(line)
    for title, attributes in (
        (pick("authenticated attributes", "认证属性"), header.authenticated_attributes),
        (pick("unauthenticated attributes", "未认证属性"), header.unauthenticated_attributes),
    ):
        if attributes:
            lines.append(f"{title}:")
            lines.extend(f"  {a.name}: {', '.join(a.value_texts())}" for a in attributes)
    sizes = data["sizes"]
    lines.append(
        pick(
            f"size: {sizes['envelope']} bytes, encrypted content {sizes['encrypted_content']} bytes "
            f"in {sizes['segments']} segment(s)",
            f"大小：{sizes['envelope']} 字节，加密内容 {sizes['encrypted_content']} 字节，"
            f"共 {sizes['segments']} 段",
        )
    )
    return lines
