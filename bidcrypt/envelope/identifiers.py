"""How an envelope names a recipient, and what it says about each one.

A recipient is named by a key identifier (the SubjectKeyIdentifier, or one
computed from the public key, so a renewal that kept the key still matches)
or by issuer and serial number (:class:`RecipientId`). An
:class:`EnvelopeRecipient` is everything an envelope says about one
recipient, whichever way its key is wrapped.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from bidcrypt import certs
from bidcrypt.envelope import _asn1
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.errors import MalformedEnvelopeError, UnsupportedAlgorithmError
from bidcrypt.i18n import Text, pick, render


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


def _spki_parts(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    """(DER SubjectPublicKeyInfo, the subjectPublicKey bits) of a certificate."""
    spki = certs.public_key_der(certificate)
    with _asn1.parsing("public key"):
        bits = asn1_keys.PublicKeyInfo.load(spki, strict=True)["public_key"].contents
        if not bits:
            raise ValueError("empty public key")
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
    with _asn1.parsing("certificate"):
        return bytes(asn1_x509.TbsCertificate.load(certificate.tbs_certificate_bytes)["issuer"].dump())


def _same_name(first: bytes, second: bytes) -> bool:
    if first == second:
        return True
    try:
        return bool(asn1_x509.Name.load(first) == asn1_x509.Name.load(second))
    except _asn1.PARSE_ERRORS:
        return False


def name_text(name_der: bytes) -> str:
    """A readable form of a DER Name (as in ``inspect``), or its hex when it does not decode."""
    try:
        return str(asn1_x509.Name.load(name_der).human_friendly)
    except _asn1.PARSE_ERRORS:
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

    def same_issuer(self, certificate: x509.Certificate) -> bool:
        """True for an identifier by issuer and serial whose issuer is *certificate*'s issuer."""
        return self.issuer is not None and _same_name(self.issuer, _issuer_der(certificate))

    def _names_issuer_and_serial_of(self, certificate: x509.Certificate) -> bool:
        if self.issuer is None or self.serial_number != certificate.serial_number:
            return False
        return _same_name(self.issuer, _issuer_der(certificate))

    def issuer_and_serial(self) -> cms.IssuerAndSerialNumber:
        """The IssuerAndSerialNumber (for an identifier by issuer and serial)."""
        assert self.issuer is not None and self.serial_number is not None
        return cms.IssuerAndSerialNumber(
            {"issuer": asn1_x509.Name.load(self.issuer), "serial_number": self.serial_number}
        )

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


def parse_issuer_and_serial(value: cms.IssuerAndSerialNumber) -> RecipientId:
    """The identifier of a loaded IssuerAndSerialNumber (see :func:`bidcrypt.envelope._asn1.load`)."""
    return RecipientId(issuer=bytes(value["issuer"].dump()), serial_number=int(value["serial_number"].native))


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
    #: SM2 recipients (GM/T 0010): how the SM2 key-encryption algorithm is named.
    sm2_encryption: alg.Sm2KeyEncryption | None = None
    #: ECDH recipients: the originator's ephemeral public point, and its curve when named.
    originator_point: bytes | None = field(default=None, repr=False)
    originator_curve: str | None = None
    ukm: bytes | None = field(default=None, repr=False)
    #: ECDH recipients: the key wrap AlgorithmIdentifier (DER) and OID.
    key_wrap: bytes | None = field(default=None, repr=False)
    key_wrap_oid: str | None = None
    #: Why bidcrypt cannot open this recipient (saying what it supports instead), or None.
    problem: str | Text | None = None
    #: What exactly bidcrypt does not support in it, when that is an algorithm.
    problem_algorithm: str | Text | None = None

    @property
    def algorithm_name(self) -> str:
        """The key-encryption algorithm in words."""
        if self.key_transport is not None:
            return alg.describe_key_transport(self.key_transport)
        if self.sm2_encryption is not None:
            return self.sm2_encryption.describe()
        name = alg.name_of(self.algorithm)
        if self.key_wrap_oid is not None:
            name += f" + {alg.name_of(self.key_wrap_oid)}"
        return name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the recipient, as printed by ``inspect --json``."""

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
        if self.sm2_encryption is not None:
            data["key_transport"] = "sm2"
            data["sm2_encryption"] = self.sm2_encryption.value
        if self.kind is RecipientKind.KEY_AGREEMENT:
            data["originator_curve"] = alg.name_of(self.originator_curve) if self.originator_curve else None
        if self.problem:
            data["unsupported"] = self.problem_text
        return data

    @property
    def problem_text(self) -> str | None:
        """What is not supported and why, in one line (for reports)."""
        if self.problem and self.problem_algorithm:
            return f"{render(self.problem_algorithm)}: {render(self.problem)}"
        return render(self.problem) if self.problem else None


def unsupported(error: UnsupportedAlgorithmError) -> tuple[str | Text, str | Text | None]:
    """The ``problem`` and ``problem_algorithm`` of a recipient refused with *error* (rendered when shown)."""
    detail = error.detail or Text(error.en, error.zh, **error.params)
    return detail, error.params.get("algorithm")
