"""Recipients: wrapping the content key for a certificate, and unwrapping it with a key source.

Building: a :class:`Recipient` is a checked encryption certificate with the
way its key is wrapped — RSA key transport (KeyTransRecipientInfo, OAEP or
PKCS#1 v1.5) or ephemeral-static ECDH (KeyAgreeRecipientInfo, RFC 5753,
X9.63 KDF and AES key wrap) — and how it is named: by its
SubjectKeyIdentifier (the default, so a renewal that kept the key still
matches) or by issuer and serial number.

Opening: an :class:`EnvelopeRecipient` is what an envelope says about one
recipient; :func:`unwrap` asks a :class:`~bidcrypt.keys.KeyEntry` (a UKey or
a PKCS#12 key) for the private-key operation and does the rest in software.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from bidcrypt import certs
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.errors import (
    MalformedEnvelopeError,
    UnsupportedAlgorithmError,
)
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyTransport

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore

#: Smallest RSA modulus bidcrypt encrypts to.
MIN_RSA_BITS = 2048


class RecipientIdentifier(Enum):
    """How a recipient's certificate is named in the envelope."""

    SUBJECT_KEY_IDENTIFIER = "ski"
    ISSUER_AND_SERIAL = "issuer-serial"


class RecipientKind(Enum):
    """The RecipientInfo alternatives of RFC 5652."""

    KEY_TRANSPORT = "KeyTransRecipientInfo"
    KEY_AGREEMENT = "KeyAgreeRecipientInfo"
    KEK = "KEKRecipientInfo"
    PASSWORD = "PasswordRecipientInfo"  # noqa: S105 - a structure name, not a password
    OTHER = "OtherRecipientInfo"


# --- identifiers -----------------------------------------------------------------------


def _spki_parts(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    """(DER SubjectPublicKeyInfo, the subjectPublicKey bits) of a certificate."""
    spki = certs.public_key_der(certificate)
    node = ber.parse(spki, "public key")
    bits = ber.expect(node.children[1], ber.UNIVERSAL, ber.BIT_STRING, "public key").content
    return spki, bits[1:]


@functools.lru_cache(maxsize=256)
def computed_key_identifiers(certificate: x509.Certificate) -> frozenset[bytes]:
    """The key identifiers computed from the certificate's public key (never read from the certificate).

    RFC 5280 method 1 (SHA-1 of the key bits) and RFC 7093 methods 1-3
    (SHA-256/384/512 of the key bits, leftmost 160 bits). Whoever names a
    recipient by one of these names the key itself: a certificate made by
    anyone cannot claim them for another key. (Cached: a bulk opening asks
    for the same certificate once per package.)
    """
    _, bits = _spki_parts(certificate)
    return frozenset(
        {
            hashlib.sha1(bits).digest(),  # noqa: S324 - RFC 5280 key identifier, not a security hash
            hashlib.sha256(bits).digest()[:20],
            hashlib.sha384(bits).digest()[:20],
            hashlib.sha512(bits).digest()[:20],
        }
    )


@functools.lru_cache(maxsize=256)
def key_identifiers(certificate: x509.Certificate) -> frozenset[bytes]:
    """Every key identifier an envelope may use for the certificate's key.

    The SubjectKeyIdentifier extension, and the identifiers computed from
    the public key (:func:`computed_key_identifiers`). A renewed certificate
    with the same key yields the same computed values. The extension is
    whatever the certificate says: trust it only for a certificate whose
    origin is known (the key source's own).
    """
    return computed_key_identifiers(certificate) | {certs.subject_key_identifier(certificate)}


@functools.lru_cache(maxsize=256)
def _issuer_der(certificate: x509.Certificate) -> bytes:
    """The issuer Name exactly as encoded in the certificate."""
    tbs = ber.parse(certificate.tbs_certificate_bytes, "certificate")
    fields = tbs.children
    index = 1 if fields and fields[0].is_(ber.CONTEXT, 0) else 0  # skip the optional [0] version
    return fields[index + 2].raw  # serialNumber, signature, issuer


def _same_name(first: bytes, second: bytes) -> bool:
    if first == second:
        return True
    from asn1crypto import x509 as asn1_x509

    try:
        return bool(asn1_x509.Name.load(first) == asn1_x509.Name.load(second))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return False


def name_text(name_der: bytes) -> str:
    """A readable form of a DER Name (as in ``inspect``), or its hex when it does not decode."""
    from asn1crypto import x509 as asn1_x509

    try:
        return str(asn1_x509.Name.load(name_der).human_friendly)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return name_der.hex()


@dataclass(frozen=True)
class RecipientId:
    """How an envelope names a recipient: a key identifier, or issuer and serial number."""

    subject_key_identifier: bytes | None = None
    #: The DER issuer Name.
    issuer: bytes | None = None
    serial_number: int | None = None

    @classmethod
    def of(cls, certificate: x509.Certificate, identifier: RecipientIdentifier) -> RecipientId:
        """The identifier of *certificate* of the chosen kind."""
        if identifier is RecipientIdentifier.SUBJECT_KEY_IDENTIFIER:
            return cls(subject_key_identifier=certs.subject_key_identifier(certificate))
        return cls(issuer=_issuer_der(certificate), serial_number=certificate.serial_number)

    def matches(self, certificate: x509.Certificate) -> bool:
        """True when this identifier names *certificate* or its public key.

        By the SKI extension too: for a certificate of known origin. For one
        from an unauthenticated place use :meth:`names_key_of`.
        """
        if self.subject_key_identifier is not None:
            return self.subject_key_identifier in key_identifiers(certificate)
        return self._names_issuer_and_serial_of(certificate)

    def names_key_of(self, certificate: x509.Certificate) -> bool:
        """True when this is a key identifier computed from *certificate*'s public key.

        Never by the certificate's own SKI extension, nor by issuer and
        serial: so a certificate anyone could have made matches only when it
        carries the very key the recipient's key was wrapped for.
        """
        if self.subject_key_identifier is None:
            return False
        try:
            return self.subject_key_identifier in computed_key_identifiers(certificate)
        except (ValueError, TypeError, MalformedEnvelopeError):  # an unreadable key in a hostile certificate
            return False

    def _names_issuer_and_serial_of(self, certificate: x509.Certificate) -> bool:
        if self.issuer is None or self.serial_number != certificate.serial_number:
            return False
        return _same_name(self.issuer, _issuer_der(certificate))

    def encode_issuer_and_serial(self) -> bytes:
        """IssuerAndSerialNumber."""
        assert self.issuer is not None and self.serial_number is not None
        return der.sequence(self.issuer, der.integer(self.serial_number))

    def describe(self) -> str:
        """``SKI 32078e…`` or ``issuer CN=…, serial 59dc…`` for messages."""
        if self.subject_key_identifier is not None:
            return f"SKI {self.subject_key_identifier.hex()}"
        serial = format(self.serial_number or 0, "x")
        return pick(
            f"issuer {name_text(self.issuer or b'')}, serial {serial}",
            f"颁发者 {name_text(self.issuer or b'')}，序列号 {serial}",
        )

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        if self.subject_key_identifier is not None:
            return {"subject_key_identifier": self.subject_key_identifier.hex()}
        return {"issuer": name_text(self.issuer or b""), "serial": format(self.serial_number or 0, "x")}


def _parse_issuer_and_serial(node: ber.Node) -> RecipientId:
    ber.expect(node, ber.UNIVERSAL, ber.SEQUENCE, "IssuerAndSerialNumber", constructed=True)
    if len(node.children) != 2:
        raise ber.malformed(Text("bad IssuerAndSerialNumber", "IssuerAndSerialNumber 格式错误"))
    issuer = ber.expect(node.children[0], ber.UNIVERSAL, ber.SEQUENCE, "issuer", constructed=True)
    return RecipientId(issuer=issuer.raw, serial_number=ber.decode_integer(node.children[1]))


# --- what an envelope says about a recipient ------------------------------------------


@dataclass(frozen=True)
class EnvelopeRecipient:
    """One recipient as found in an envelope (a KeyAgreeRecipientInfo may hold several).

    Plain data, so a header can be sent to worker processes.
    """

    #: Position of the RecipientInfo in the envelope's set (0-based).
    index: int
    kind: RecipientKind
    rid: RecipientId | None
    #: The key-encryption algorithm's OID.
    algorithm: str
    encrypted_key: bytes = field(repr=False)
    #: RSA recipients: how the key is wrapped.
    key_transport: KeyTransport | None = None
    #: ECDH recipients: the originator's ephemeral public point, and its curve when named.
    originator_point: bytes | None = field(default=None, repr=False)
    originator_curve: str | None = None
    ukm: bytes | None = field(default=None, repr=False)
    #: ECDH recipients: the key wrap AlgorithmIdentifier (DER) and OID.
    key_wrap: bytes | None = field(default=None, repr=False)
    key_wrap_oid: str | None = None
    #: Why bidcrypt cannot open this recipient, or None.
    problem: str | None = None

    @property
    def algorithm_name(self) -> str:
        """The key-encryption algorithm in words."""
        if self.key_transport is not None:
            return alg.describe_key_transport(self.key_transport)
        name = alg.name_of(self.algorithm)
        if self.key_wrap_oid is not None:
            name += f" + {alg.name_of(self.key_wrap_oid)}"
        return name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as printed by ``inspect``."""
        data: dict[str, Any] = {
            "index": self.index,
            "type": self.kind.value,
            "algorithm": self.algorithm_name,
            "algorithm_oid": self.algorithm,
            "identifier": self.rid.to_dict() if self.rid else None,
            "encrypted_key_length": len(self.encrypted_key),
        }
        if self.key_transport is not None:
            data["key_transport"] = self.key_transport.value
        if self.kind is RecipientKind.KEY_AGREEMENT:
            data["originator_curve"] = alg.name_of(self.originator_curve) if self.originator_curve else None
        if self.problem:
            data["unsupported"] = self.problem
        return data


def parse_recipient_infos(node: ber.Node) -> tuple[EnvelopeRecipient, ...]:
    """Every recipient in a RecipientInfos SET."""
    ber.expect(node, ber.UNIVERSAL, ber.SET, "RecipientInfos", constructed=True)
    if not node.children:
        raise ber.malformed(Text("no recipients", "没有接收者"))
    found: list[EnvelopeRecipient] = []
    for index, info in enumerate(node.children):
        if info.is_(ber.UNIVERSAL, ber.SEQUENCE, constructed=True):
            found.append(_parse_key_transport(index, info))
        elif info.is_(ber.CONTEXT, 1, constructed=True):
            found.extend(_parse_key_agreement(index, info))
        elif info.head.cls == ber.CONTEXT and info.head.number in (2, 3, 4) and info.head.constructed:
            kind = {2: RecipientKind.KEK, 3: RecipientKind.PASSWORD, 4: RecipientKind.OTHER}[info.head.number]
            found.append(
                EnvelopeRecipient(index, kind, None, "", b"", problem=pick("not supported", "不支持"))
            )
        else:
            raise ber.malformed(Text("unknown kind of recipient", "未知的接收者类型"))
    return tuple(found)


def _parse_key_transport(index: int, info: ber.Node) -> EnvelopeRecipient:
    fields = info.children
    if len(fields) != 4:
        raise ber.malformed(Text("bad KeyTransRecipientInfo", "KeyTransRecipientInfo 格式错误"))
    version = ber.decode_integer(fields[0])
    rid_node = fields[1]
    if rid_node.is_(ber.CONTEXT, 0):
        rid = RecipientId(subject_key_identifier=ber.octets(rid_node))
        expected_version = 2
    else:
        rid = _parse_issuer_and_serial(rid_node)
        expected_version = 0
    if version != expected_version:
        raise ber.malformed(
            Text("KeyTransRecipientInfo version does not match its identifier", "接收者版本号错误")
        )
    algorithm, _ = alg.split_algorithm(fields[2], "key encryption algorithm")
    encrypted_key = ber.octets(ber.expect(fields[3], ber.UNIVERSAL, ber.OCTET_STRING, "encryptedKey"))
    try:
        transport: KeyTransport | None = alg.parse_key_transport(fields[2])
        problem = None
    except UnsupportedAlgorithmError as exc:
        transport, problem = None, exc.message()
    return EnvelopeRecipient(
        index,
        RecipientKind.KEY_TRANSPORT,
        rid,
        algorithm,
        encrypted_key,
        key_transport=transport,
        problem=problem,
    )


def _parse_key_agreement(index: int, info: ber.Node) -> list[EnvelopeRecipient]:
    fields = list(info.children)
    if len(fields) not in (4, 5):
        raise ber.malformed(Text("bad KeyAgreeRecipientInfo", "KeyAgreeRecipientInfo 格式错误"))
    if ber.decode_integer(fields[0]) != 3:
        raise ber.malformed(
            Text("KeyAgreeRecipientInfo version is not 3", "KeyAgreeRecipientInfo 版本号错误")
        )
    originator = ber.expect(fields[1], ber.CONTEXT, 0, "originator", constructed=True)
    if len(originator.children) != 1:
        raise ber.malformed(Text("bad originator", "发送方标识错误"))
    ukm = None
    rest = fields[2:]
    if len(fields) == 5:
        ukm_node = ber.expect(fields[2], ber.CONTEXT, 1, "ukm", constructed=True)
        if len(ukm_node.children) != 1:
            raise ber.malformed(Text("bad ukm", "ukm 错误"))
        ukm = ber.octets(ber.expect(ukm_node.children[0], ber.UNIVERSAL, ber.OCTET_STRING, "ukm"))
        rest = fields[3:]
    algorithm, parameters = alg.split_algorithm(rest[0], "key agreement algorithm")
    keys_node = ber.expect(rest[1], ber.UNIVERSAL, ber.SEQUENCE, "recipientEncryptedKeys", constructed=True)

    problem: str | None = None
    point: bytes | None = None
    curve: str | None = None
    key_wrap: bytes | None = None
    key_wrap_oid: str | None = None
    chosen = originator.children[0]
    if chosen.is_(ber.CONTEXT, 1, constructed=True):
        try:
            point, curve = _parse_originator_key(chosen)
        except UnsupportedAlgorithmError as exc:
            problem = exc.message()
    else:
        problem = pick("static originator keys are not supported", "不支持静态发送方密钥")
    if algorithm not in alg.KEY_AGREEMENT_SCHEMES:
        problem = UnsupportedAlgorithmError(algorithm=alg.name_of(algorithm)).message()
    elif len(parameters) != 1:
        raise ber.malformed(Text("key wrap algorithm missing", "缺少密钥包装算法"))
    else:
        key_wrap = parameters[0].raw
        key_wrap_oid, wrap_parameters = alg.split_algorithm(parameters[0], "key wrap algorithm")
        if key_wrap_oid not in alg.KEY_WRAPS:
            problem = UnsupportedAlgorithmError(algorithm=alg.name_of(key_wrap_oid)).message()
        else:
            ber.decode_null_or_absent(wrap_parameters, alg.name_of(key_wrap_oid))

    found = []
    if not keys_node.children:
        raise ber.malformed(Text("no recipientEncryptedKeys", "缺少 recipientEncryptedKeys"))
    for entry in keys_node.children:
        ber.expect(entry, ber.UNIVERSAL, ber.SEQUENCE, "RecipientEncryptedKey", constructed=True)
        if len(entry.children) != 2:
            raise ber.malformed(Text("bad RecipientEncryptedKey", "RecipientEncryptedKey 格式错误"))
        rid_node = entry.children[0]
        if rid_node.is_(ber.CONTEXT, 0, constructed=True):
            if not 1 <= len(rid_node.children) <= 3:
                raise ber.malformed(Text("bad RecipientKeyIdentifier", "RecipientKeyIdentifier 格式错误"))
            ski = ber.octets(
                ber.expect(rid_node.children[0], ber.UNIVERSAL, ber.OCTET_STRING, "subjectKeyIdentifier")
            )
            rid = RecipientId(subject_key_identifier=ski)
        else:
            rid = _parse_issuer_and_serial(rid_node)
        encrypted_key = ber.octets(
            ber.expect(entry.children[1], ber.UNIVERSAL, ber.OCTET_STRING, "encryptedKey")
        )
        found.append(
            EnvelopeRecipient(
                index,
                RecipientKind.KEY_AGREEMENT,
                rid,
                algorithm,
                encrypted_key,
                originator_point=point,
                originator_curve=curve,
                ukm=ukm,
                key_wrap=key_wrap,
                key_wrap_oid=key_wrap_oid,
                problem=problem,
            )
        )
    return found


def _parse_originator_key(node: ber.Node) -> tuple[bytes, str | None]:
    if len(node.children) != 2:
        raise ber.malformed(Text("bad originator public key", "发送方公钥格式错误"))
    algorithm, parameters = alg.split_algorithm(node.children[0], "originator key algorithm")
    if algorithm != alg.EC_PUBLIC_KEY:
        raise UnsupportedAlgorithmError(algorithm=alg.name_of(algorithm))
    curve: str | None = None
    if parameters and parameters[0].is_(ber.UNIVERSAL, ber.OID):
        curve = ber.decode_oid(parameters[0])
    else:
        ber.decode_null_or_absent(parameters, "id-ecPublicKey")
    bits = ber.expect(
        node.children[1], ber.UNIVERSAL, ber.BIT_STRING, "originator public key", constructed=False
    )
    if not bits.content or bits.content[0] != 0:
        raise ber.malformed(Text("bad originator public key", "发送方公钥格式错误"))
    return bits.content[1:], curve


# --- building ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A certificate to encrypt to, checked for use, and how its key is wrapped and named.

    Creating one checks what does not depend on time or trust: the key
    usage allows encryption (keyEncipherment for RSA, keyAgreement for EC)
    and the key is RSA of at least 2048 bits or EC on P-256 / P-384.
    Validity and trust are checked by :meth:`check` when encrypting.
    ``key_transport`` applies to RSA certificates only.
    """

    certificate: x509.Certificate
    key_transport: KeyTransport = KeyTransport.OAEP_SHA256
    identifier: RecipientIdentifier = RecipientIdentifier.SUBJECT_KEY_IDENTIFIER
    #: CA certificates that came with the recipient's certificate (for chain building).
    chain: tuple[x509.Certificate, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        certs.require_purpose(self.certificate, certs.Purpose.ENCRYPTION)
        public_key = self.certificate.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                raise UnsupportedAlgorithmError(
                    Text(
                        "at least {MIN_RSA_BITS} bits are required",
                        "至少需要 {MIN_RSA_BITS} 位",
                        MIN_RSA_BITS=MIN_RSA_BITS,
                    ),
                    algorithm=f"RSA-{public_key.key_size}",
                )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if alg.curve_of(public_key) is None:
                raise UnsupportedAlgorithmError(algorithm=f"EC {public_key.curve.name}")
        else:
            raise UnsupportedAlgorithmError(algorithm=certs.key_description(self.certificate))

    def check(self, at: dt.datetime | None = None, trust: TrustStore | None = None) -> None:
        """Raise unless the certificate is valid at *at* (default: now) and, given a store, trusted."""
        certs.require_valid_at(self.certificate, at)
        if trust is not None:
            trust.validate(self.certificate, at, self.chain)

    @property
    def is_rsa(self) -> bool:
        """True for key transport, False for key agreement."""
        return isinstance(self.certificate.public_key(), rsa.RSAPublicKey)

    def wrap(self, content_key: bytes) -> bytes:
        """The DER RecipientInfo carrying *content_key* for this certificate."""
        rid = RecipientId.of(self.certificate, self.identifier)
        public_key = self.certificate.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            return _key_transport_info(rid, public_key, self.key_transport, content_key)
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        return _key_agreement_info(rid, public_key, content_key)

    def describe(self) -> str:
        """Subject and key, for reports."""
        return f"{certs.display_name(self.certificate)} ({certs.key_description(self.certificate)})"


def _key_transport_info(
    rid: RecipientId, public_key: rsa.RSAPublicKey, transport: KeyTransport, content_key: bytes
) -> bytes:
    if rid.subject_key_identifier is not None:
        version, rid_der = 2, der.context(0, rid.subject_key_identifier, constructed=False)
    else:
        version, rid_der = 0, rid.encode_issuer_and_serial()
    encrypted = public_key.encrypt(content_key, transport.padding())
    return der.sequence(
        der.integer(version), rid_der, alg.encode_key_transport(transport), der.octet_string(encrypted)
    )


def _key_agreement_info(rid: RecipientId, public_key: ec.EllipticCurvePublicKey, content_key: bytes) -> bytes:
    curve = alg.curve_of(public_key)
    assert curve is not None
    scheme = alg.KEY_AGREEMENT_SCHEMES[curve.scheme_oid]
    wrap_oid = alg.key_wrap_for(len(content_key))
    key_wrap = der.algorithm(wrap_oid)
    ephemeral = ec.generate_private_key(curve.curve())
    shared = ephemeral.exchange(ec.ECDH(), public_key)
    kek = _kek(scheme, shared, key_wrap, None, alg.KEY_WRAPS[wrap_oid])
    wrapped = keywrap.aes_key_wrap(kek, content_key)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    originator = der.context(0, der.context(1, der.algorithm(alg.EC_PUBLIC_KEY) + der.bit_string(point)))
    if rid.subject_key_identifier is not None:
        rid_der = der.context(0, der.octet_string(rid.subject_key_identifier))
    else:
        rid_der = rid.encode_issuer_and_serial()
    encrypted_keys = der.sequence(der.sequence(rid_der, der.octet_string(wrapped)))
    return der.context(1, der.integer(3) + originator + der.algorithm(scheme.oid, key_wrap) + encrypted_keys)


def _kek(
    scheme: alg.KeyAgreementScheme, shared: bytes, key_wrap: bytes, ukm: bytes | None, size: int
) -> bytes:
    shared_info = alg.ecc_cms_shared_info(key_wrap, ukm, size)
    return X963KDF(algorithm=scheme.hash(), length=size, sharedinfo=shared_info).derive(shared)


def new_content_key(cipher: alg.ContentCipher) -> bytes:
    """A fresh random content-encryption key for *cipher*."""
    return os.urandom(cipher.key_size)


def check_all(recipients: Sequence[Recipient], at: dt.datetime | None, trust: TrustStore | None) -> None:
    """Check every recipient's validity (and trust, with a store) before anything is written."""
    for recipient in recipients:
        recipient.check(at, trust)
