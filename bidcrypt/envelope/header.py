"""Reading an envelope without a key: its structure, recipients, cipher and attributes.

:func:`read_header` walks the whole ContentInfo from a seekable stream and
returns an :class:`EnvelopeHeader`: plain data (picklable, for worker
processes) holding everything except the encrypted content itself, whose
place in the file it records. The content is skipped, never loaded, so
reading the header of a 1 GiB envelope costs a few seeks.

The authenticated attributes of an AuthEnvelopedData come after the
content in the file; the header has them (and the GCM tag) before any
decryption starts, as GCM needs its additional authenticated data first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from asn1crypto import core

from bidcrypt.envelope import _asn1, presentation
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._files import open_envelope
from bidcrypt.envelope._segments import iter_segments
from bidcrypt.envelope.attributes import ATTRIBUTE_DEPTH, check_authenticated_attributes, parse_attributes
from bidcrypt.envelope.attributes import Attribute as Attribute
from bidcrypt.envelope.identifiers import EnvelopeRecipient
from bidcrypt.envelope.recipients import parse_recipient_infos
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.files import PathArg, input_error
from bidcrypt.i18n import Text


@dataclass(frozen=True)
class ContentLayout:
    """Where the encrypted content is in the file, and how it is framed."""

    #: Offset of the ``[0]`` encryptedContent element.
    offset: int
    #: Offset just after it.
    end: int
    #: Total bytes of ciphertext.
    length: int
    #: Number of OCTET STRING segments (1 for a primitive encoding).
    segments: int
    #: True for one primitive OCTET STRING (DER), False for a constructed one (BER).
    primitive: bool


@dataclass(frozen=True)
class EnvelopeHeader:
    """Everything an envelope says without a key, and where its parts are."""

    #: :data:`~bidcrypt.envelope.algorithms.ENVELOPED_DATA`, ``GM_ENVELOPED_DATA`` or ``AUTH_ENVELOPED_DATA``.
    content_type: str
    version: int
    recipients: tuple[EnvelopeRecipient, ...]
    #: The type of the encrypted content (usually id-data).
    inner_content_type: str
    cipher: alg.CipherParameters
    content: ContentLayout
    authenticated_attributes: tuple[Attribute, ...]
    #: unauthAttrs of an AuthEnvelopedData, or unprotectedAttrs of an EnvelopedData.
    unauthenticated_attributes: tuple[Attribute, ...]
    #: The GCM tag (AuthEnvelopedData only).
    mac: bytes | None = field(repr=False)
    #: The additional authenticated data: the authAttrs DER with the SET OF tag (RFC 5083).
    aad: bytes | None = field(repr=False)
    #: The originatorInfo element as found, if any.
    originator_info: bytes | None = field(repr=False)
    #: The DER of each RecipientInfo, by index.
    recipient_infos: tuple[bytes, ...] = field(repr=False)
    #: Size of the (decoded) envelope in bytes.
    size: int
    #: True when any indefinite length is used (BER); False for definite lengths throughout.
    indefinite: bool
    #: Offsets of the EncryptedContentInfo, of the unauthenticated attributes (or where they
    #: would be) and of the end of the last field.
    encrypted_content_info: int
    unauthenticated_attributes_offset: int
    fields_end: int
    #: GM/T 0010 EncryptedContentInfo only: its sharedInfo1 / sharedInfo2 (field number, octets), if any.
    shared_info: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)

    @property
    def is_authenticated(self) -> bool:
        """True for AuthEnvelopedData (AES-GCM): the content is authenticated when it is opened.

        False for EnvelopedData (AES-CBC), which has no integrity check at all.
        """
        return self.content_type == alg.AUTH_ENVELOPED_DATA

    @property
    def suite(self) -> str:
        """The suite in words: ``GM/T 0010 (SM2 / SM4-CBC)``, ``CMS AuthEnvelopedData (AES-GCM)``..."""
        return presentation.suite(self)

    @property
    def readable_attributes(self) -> tuple[Attribute, ...]:
        """What :meth:`EnvelopeBuilder.add_readable_attribute` wrote: the authenticated attributes of
        an AuthEnvelopedData, the unprotected ones of an EnvelopedData (AES-CBC, GM/T 0010).

        Authenticated only when :attr:`is_authenticated`; otherwise claims to be
        checked against what binds them (a bid package's signed manifest).
        """
        if self.is_authenticated:
            return tuple(a for a in self.authenticated_attributes if a.oid != alg.CONTENT_TYPE_ATTRIBUTE)
        return self.unauthenticated_attributes

    def attribute(self, oid: str) -> Attribute | None:
        """The authenticated attribute of type *oid*, or None."""
        for attribute in self.authenticated_attributes:
            if attribute.oid == oid:
                return attribute
        return None

    def to_dict(self) -> dict[str, Any]:
        """What ``bidcrypt envelope inspect --json`` prints (see :mod:`~bidcrypt.envelope.presentation`)."""
        return presentation.header_dict(self)


@dataclass(frozen=True)
class RecipientsPart:
    """The front of an envelope: its recipients and cipher, all a key unwrap needs.

    Read by :func:`read_recipients` without walking the content to the
    trailer, so that a bulk opening can unwrap keys quickly in one process
    and leave the full header to the workers.
    """

    recipients: tuple[EnvelopeRecipient, ...]
    cipher: alg.CipherParameters


def read_recipients(path: PathArg) -> RecipientsPart:
    """The recipients and cipher of the envelope file at *path*, without reading further."""
    with open_envelope(path) as stream:
        try:
            size = os.fstat(stream.fileno()).st_size
        except (OSError, AttributeError, ValueError):
            size = stream.seek(0, os.SEEK_END)
        try:
            part = _Parser(ber.StreamReader(stream, size)).parse(front_only=True)
        except OSError as exc:
            raise input_error(exc, getattr(stream, "name", "-")) from exc
    assert isinstance(part, RecipientsPart)
    return part


#: The size a front is read as: its definite lengths may reach far past the bytes it holds.
_FRONT_BOUND = 1 << 62


def read_front(data: bytes) -> RecipientsPart:
    """The recipients and cipher of an envelope's *front*: its first bytes, at least up to the content.

    A bidder's copy of a package, or what a session hands out of a stored
    one (the bytes before the encrypted content), is enough to unwrap the
    content key. Bytes that stop before the content's algorithm are
    :class:`~bidcrypt.errors.MalformedEnvelopeError` (truncated).
    """
    import io

    return _Parser(ber.StreamReader(io.BytesIO(data), max(len(data), _FRONT_BOUND))).parse(  # type: ignore[return-value]
        front_only=True
    )


def read_header(stream: BinaryIO) -> EnvelopeHeader:
    """Parse the envelope in the seekable binary *stream* (DER or BER, from its start).

    Raises :class:`~bidcrypt.errors.MalformedEnvelopeError` for anything that
    is not a complete, well-formed EnvelopedData or AuthEnvelopedData, and
    :class:`~bidcrypt.errors.UnsupportedAlgorithmError` for a cipher bidcrypt
    does not implement.
    """
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        size = stream.seek(0, os.SEEK_END)
    try:
        header = _Parser(ber.StreamReader(stream, size)).parse()
    except OSError as exc:
        raise input_error(exc, getattr(stream, "name", "-")) from exc
    assert isinstance(header, EnvelopeHeader)
    return header


def read_header_file(path: PathArg) -> EnvelopeHeader:
    """:func:`read_header` of the envelope file at *path* (DER or PEM)."""
    with open_envelope(path) as stream:
        return read_header(stream)


class _Parser:
    def __init__(self, reader: ber.StreamReader) -> None:
        self.r = reader
        self.indefinite = False

    def _open(self, end: int | None, cls: int, number: int, what: str) -> tuple[ber.Head, int, int | None]:
        """Read a constructed element's head; return it, its content start and its end limit."""
        head = self.r.head(end)
        if not head.is_(cls, number, constructed=True):
            raise ber.malformed(
                Text(
                    "{what}: unexpected {describe}",
                    "{what}：意外的元素 {describe}",
                    what=what,
                    describe=head.describe(),
                )
            )
        start = self.r.pos
        if head.length is None:
            self.indefinite = True
            return head, start, end
        return head, start, start + head.length

    def _peek(self, end: int | None) -> ber.Head | None:
        """The head of the next element, without consuming it (None at the end of the file)."""
        if self.r.pos >= self.r.size:
            return None
        at = self.r.pos
        head = self.r.head(end)
        self.r.seek(at)
        return head

    def parse(self, front_only: bool = False) -> EnvelopeHeader | RecipientsPart:
        r = self.r
        if r.size == 0:
            raise ber.malformed(Text("the file is empty", "文件为空"))
        if r.stream.read(1) != b"\x30":
            raise ber.malformed(Text("not a CMS (PKCS #7) file", "不是 CMS（PKCS #7）格式的文件"))
        r.seek(0)
        info, info_start, info_end = self._open(None, ber.UNIVERSAL, ber.SEQUENCE, "ContentInfo")
        content_type = _oid(r.read_element("content type", info_end))
        if content_type not in (alg.ENVELOPED_DATA, alg.GM_ENVELOPED_DATA, alg.AUTH_ENVELOPED_DATA):
            raise ber.malformed(
                Text(
                    "not an encrypted envelope: the file holds {content_type}",
                    "不是数字信封：文件内容类型为 {content_type}",
                    content_type=alg.name_of(content_type),
                ),
            )
        explicit, explicit_start, explicit_end = self._open(info_end, ber.CONTEXT, 0, "content")
        body, body_start, body_end = self._open(explicit_end, ber.UNIVERSAL, ber.SEQUENCE, "envelope")
        version = int(_asn1.load(core.Integer, r.read_element("version", body_end).raw, "version").native)
        authenticated = content_type == alg.AUTH_ENVELOPED_DATA
        # EnvelopedData: RFC 5652's versions, and GM/T 0010's 1.
        if (authenticated and version != 0) or (not authenticated and version not in (0, 1, 2, 3, 4)):
            raise ber.malformed(Text("unknown version {version}", "未知的版本号 {version}", version=version))

        originator_info = None
        following = self._peek(body_end)
        if following is not None and following.is_(ber.CONTEXT, 0, constructed=True):
            originator_info = r.read_element("originatorInfo", body_end).raw
        infos = r.read_element("recipient infos", body_end)
        recipients = parse_recipient_infos(infos)
        if any(n.head.length is None for n in _walk(infos)):
            self.indefinite = True

        eci_start = r.pos
        eci, eci_content, eci_end = self._open(body_end, ber.UNIVERSAL, ber.SEQUENCE, "EncryptedContentInfo")
        inner_type = _oid(r.read_element("content type", eci_end))
        cipher = alg.CipherParameters.parse(r.read_element("content encryption algorithm", eci_end).raw)
        if cipher.cipher.is_aead != authenticated:
            raise UnsupportedAlgorithmError(
                alg.misplaced(cipher.cipher),
                algorithm=f"{cipher.cipher.value} in {alg.name_of(content_type)}",
            )
        if front_only:
            return RecipientsPart(recipients, cipher)
        if r.at_end(eci, eci_content):
            raise UnsupportedAlgorithmError(
                Text("the encrypted content is not in the file", "加密内容不在文件中"),
                algorithm=Text("detached content", "分离式内容"),
            )
        content = self._skip_content(eci_end)
        if cipher.cipher.is_aead is False and (content.length == 0 or content.length % 16):
            raise ber.malformed(
                Text("the CBC ciphertext is not a whole number of blocks", "CBC 密文长度不是分组长度的整数倍")
            )
        gm = content_type == alg.GM_ENVELOPED_DATA or cipher.cipher.is_gm
        shared_info = self._shared_info(eci, eci_content, eci_end) if gm else ()
        r.end_of(eci, eci_content, body_end)

        auth_attrs: tuple[Attribute, ...] = ()
        unauth_attrs: tuple[Attribute, ...] = ()
        aad = mac = None
        if authenticated:
            following = self._peek(body_end)
            if following is not None and following.is_(ber.CONTEXT, 1, constructed=True):
                node = r.read_element("authenticated attributes", body_end, expand=ATTRIBUTE_DEPTH)
                if node.head.length is None or node.head.header_length + node.head.length != len(node.raw):
                    raise ber.malformed(Text("authenticated attributes are not DER", "认证属性不是 DER 编码"))
                auth_attrs = parse_attributes(node)
                aad = b"\x31" + node.raw[1:]
            mac_node = r.read_element("mac", body_end)
            mac = bytes(_asn1.load(core.OctetString, mac_node.raw, "mac").native)
            if len(mac) != cipher.tag_length:
                raise ber.malformed(Text("the GCM tag has the wrong length", "GCM 认证标签长度错误"))
            unauth_start = r.pos
            following = self._peek(body_end)
            if following is not None and following.is_(ber.CONTEXT, 2, constructed=True):
                unauth_attrs = parse_attributes(
                    r.read_element("unauthenticated attributes", body_end, expand=ATTRIBUTE_DEPTH)
                )
        else:
            unauth_start = r.pos
            following = self._peek(body_end)
            if following is not None and following.is_(ber.CONTEXT, 1, constructed=True):
                unauth_attrs = parse_attributes(r.read_element("unprotected attributes", body_end))
        fields_end = r.pos
        r.end_of(body, body_start, explicit_end)
        r.end_of(explicit, explicit_start, info_end)
        r.end_of(info, info_start, None)
        if r.pos != r.size:
            raise ber.malformed(Text("unexpected data after the envelope", "信封之后有多余数据"))

        if authenticated:
            check_authenticated_attributes(auth_attrs, aad is not None, inner_type)
        return EnvelopeHeader(
            content_type=content_type,
            version=version,
            recipients=recipients,
            inner_content_type=inner_type,
            cipher=cipher,
            content=content,
            authenticated_attributes=auth_attrs,
            unauthenticated_attributes=unauth_attrs,
            mac=mac,
            aad=aad,
            originator_info=originator_info,
            recipient_infos=tuple(child.raw for child in infos.children),
            size=r.size,
            indefinite=self.indefinite,
            encrypted_content_info=eci_start,
            unauthenticated_attributes_offset=unauth_start,
            fields_end=fields_end,
            shared_info=shared_info,
        )

    def _shared_info(self, eci: ber.Head, start: int, end: int | None) -> tuple[tuple[int, bytes], ...]:
        """GM/T 0010's sharedInfo1 ``[1]`` and sharedInfo2 ``[2]`` (IMPLICIT OCTET STRINGs)."""
        found: list[tuple[int, bytes]] = []
        for number in (1, 2):
            if self.r.at_end(eci, start):
                break
            following = self._peek(end)
            if following is not None and following.is_(ber.CONTEXT, number, constructed=False):
                node = self.r.read_element(f"sharedInfo{number}", end)
                found.append((number, node.raw[node.head.header_length :]))
        return tuple(found)

    def _skip_content(self, end: int | None) -> ContentLayout:
        r = self.r
        offset = r.pos
        head = r.head(end)
        if not head.is_(ber.CONTEXT, 0):
            raise ber.malformed(
                Text(
                    "encrypted content: unexpected {describe}",
                    "加密内容：意外的元素 {describe}",
                    describe=head.describe(),
                )
            )
        if head.length is None:
            self.indefinite = True
        total = count = 0
        for length in iter_segments(r, head, end):
            r.skip(length)
            total += length
            count += 1
        return ContentLayout(offset, r.pos, total, count, not head.constructed)


def _walk(node: ber.Node) -> Iterator[ber.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _oid(node: ber.Node) -> str:
    return str(_asn1.load(core.ObjectIdentifier, node.raw, "object identifier").dotted)
