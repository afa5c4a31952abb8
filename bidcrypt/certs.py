"""Certificates: loading, what a certificate is for, who it names, and whether it is usable.

The encryption certificate of a UKey has ``keyEncipherment`` (RSA),
``keyAgreement`` (EC) or any of ``keyEncipherment``/``dataEncipherment``/
``keyAgreement`` (SM2, whose encryption certificates CAs mark with all three
or a part: the key is used by SM2 encryption whatever the bit) in its key
usage; the signing certificate has ``digitalSignature`` and/or
``nonRepudiation``. bidcrypt decides which is which by key usage only,
never by label or name.

Where a CA vendor puts the unified social credit code differs; see
:func:`credit_code` for the rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import cast, get_args

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from bidcrypt import uscc
from bidcrypt.errors import (
    CertificateError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    InputError,
    WrongKeyUsageError,
)
from bidcrypt.files import CERTIFICATES, PathArg, read_input
from bidcrypt.gm import Sm2Error, Sm2PublicKey, is_sm2_public_key_info
from bidcrypt.i18n import Text

#: Where CA vendors put the credit code, in the order bidcrypt looks.
CREDIT_CODE_ATTRIBUTES = (
    NameOID.ORGANIZATION_IDENTIFIER,
    NameOID.SERIAL_NUMBER,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.COMMON_NAME,
)


class Purpose(Enum):
    """What a certificate's key usage allows it to be used for in bidding."""

    SIGNING = "signing"
    ENCRYPTION = "encryption"

    def label(self) -> str:
        """The purpose's name in the user's language."""
        return self.text().render()

    def text(self) -> Text:
        """The purpose's name in both languages (for an error: rendered when shown)."""
        return Text(self.value, "签名" if self is Purpose.SIGNING else "加密")


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto form of a ``cryptography`` certificate (what pyHanko and the CMS code work with)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def load_certificates(path: PathArg) -> list[x509.Certificate]:
    """Read one or more certificates from a PEM or DER file (a regular file of at most 16 MiB)."""
    return parse_certificates(read_input(path, CERTIFICATES), source=str(path))


#: What ``cryptography`` raises for a certificate it cannot load, or one of whose fields does not parse.
UNREADABLE = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)


def fully_parsed(certificate: x509.Certificate) -> x509.Certificate:
    """*certificate*, once every field bidcrypt reads has been parsed (``cryptography`` parses lazily).

    Raises one of :data:`UNREADABLE` for a certificate whose subject, issuer,
    validity or extensions do not parse, so that such a certificate is
    refused where it is read, not later, in a report or a rule.
    """
    certificate.subject.rfc4514_string()
    certificate.issuer.rfc4514_string()
    list(certificate.extensions)
    certificate.not_valid_before_utc, certificate.not_valid_after_utc  # noqa: B018
    return certificate


def from_der(der: bytes) -> x509.Certificate:
    """The certificate in *der*, fully parsed; raises one of :data:`UNREADABLE` if it does not parse."""
    return fully_parsed(x509.load_der_x509_certificate(der))


def parse_certificates(data: bytes, source: str = "<certificate>") -> list[x509.Certificate]:
    """Parse PEM (one or more blocks) or DER certificate bytes, every field read (:func:`fully_parsed`)."""
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(data)]
        for certificate in certificates:
            fully_parsed(certificate)
    except UNREADABLE as exc:
        raise InputError("not a PEM or DER X.509 certificate", path=source) from exc
    return certificates


def load_certificate(path: PathArg) -> x509.Certificate:
    """Read exactly the first certificate of a PEM or DER file."""
    return load_certificates(path)[0]


def purposes(certificate: x509.Certificate) -> set[Purpose]:
    """The bidding purposes the certificate's key usage allows (empty without key usage)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return set()
    found: set[Purpose] = set()
    if usage.digital_signature or usage.content_commitment:
        found.add(Purpose.SIGNING)
    key = public_key(certificate)
    if (
        (isinstance(key, rsa.RSAPublicKey) and usage.key_encipherment)
        or (isinstance(key, ec.EllipticCurvePublicKey) and usage.key_agreement)
        or (
            isinstance(key, Sm2PublicKey)
            and (usage.key_encipherment or usage.data_encipherment or usage.key_agreement)
        )
    ):
        found.add(Purpose.ENCRYPTION)
    return found


def key_usage_names(certificate: x509.Certificate) -> list[str]:
    """The key usage bits set in the certificate, by their RFC 5280 names."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = [
        ("digitalSignature", usage.digital_signature),
        ("nonRepudiation", usage.content_commitment),
        ("keyEncipherment", usage.key_encipherment),
        ("dataEncipherment", usage.data_encipherment),
        ("keyAgreement", usage.key_agreement),
        ("keyCertSign", usage.key_cert_sign),
        ("cRLSign", usage.crl_sign),
    ]
    return [name for name, present in names if present]


def require_purpose(certificate: x509.Certificate, purpose: Purpose) -> None:
    """Raise :class:`WrongKeyUsageError` unless the certificate allows *purpose*."""
    if purpose not in purposes(certificate):
        raise WrongKeyUsageError(
            subject=display_name(certificate),
            purpose=purpose.text(),
            wanted=purpose.text(),
            usage=", ".join(key_usage_names(certificate)) or "-",
        )


def require_valid_at(certificate: x509.Certificate, at: dt.datetime | None = None) -> None:
    """Raise when the certificate is expired or not yet valid at *at* (default: now, UTC)."""
    moment = at or dt.datetime.now(dt.UTC)
    if moment < certificate.not_valid_before_utc:
        raise CertificateNotYetValidError(
            subject=display_name(certificate),
            not_before=format_time(certificate.not_valid_before_utc),
        )
    if moment > certificate.not_valid_after_utc:
        raise CertificateExpiredError(
            subject=display_name(certificate),
            not_after=format_time(certificate.not_valid_after_utc),
        )


def format_time(moment: dt.datetime) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM:SSZ``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _attribute_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def company_name(certificate: x509.Certificate) -> str | None:
    """The organisation (O) of the subject, or None."""
    values = _attribute_values(certificate.subject, NameOID.ORGANIZATION_NAME)
    return values[0] if values else None


def common_name(certificate: x509.Certificate) -> str | None:
    """The subject's common name (CN), or None."""
    values = _attribute_values(certificate.subject, NameOID.COMMON_NAME)
    return values[0] if values else None


def display_name(certificate: x509.Certificate) -> str:
    """A short human name for the subject: CN, else O, else the RFC 4514 string."""
    return common_name(certificate) or company_name(certificate) or certificate.subject.rfc4514_string()


def credit_code_candidates(certificate: x509.Certificate) -> list[str]:
    """Every credit-code-shaped string in the subject, in the order of :data:`CREDIT_CODE_ATTRIBUTES`."""
    found: list[str] = []
    for oid in CREDIT_CODE_ATTRIBUTES:
        for value in _attribute_values(certificate.subject, oid):
            found.extend(c for c in uscc.find_in_text(value) if c not in found)
    return found


def credit_code(certificate: x509.Certificate) -> str | None:
    """The unified social credit code of the subject, or None.

    The rule: look in the subject's organizationIdentifier (2.5.4.97, with or
    without a prefix such as ``NTRCN-``), then serialNumber (2.5.4.5), then
    the OUs, then the CN; in each, take any 18-character run of the code
    alphabet; the first whose GB 32100 check character is right wins.
    """
    for candidate in credit_code_candidates(certificate):
        if uscc.is_valid(candidate):
            return candidate
    return None


#: A certificate's public key: a ``cryptography`` key, or an SM2 key (which ``cryptography`` cannot load).
PublicKey = CertificatePublicKeyTypes | Sm2PublicKey


def public_key(certificate: x509.Certificate) -> PublicKey:
    """The certificate's public key; an :class:`~bidcrypt.gm.Sm2PublicKey` on the SM2 curve.

    Raises :class:`~bidcrypt.errors.CertificateError` for a key neither can read.
    """
    try:
        return certificate.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        failure = exc
    try:
        spki = asn1_x509.TbsCertificate.load(certificate.tbs_certificate_bytes)["subject_public_key_info"]
        if is_sm2_public_key_info(spki):
            return Sm2PublicKey.from_spki_der(spki.dump())
    except (Sm2Error, ValueError, TypeError, KeyError):
        pass
    raise CertificateError(
        subject=display_name(certificate),
        detail=Text(
            "its public key cannot be read ({reason})",
            "其公钥无法读取（{reason}）",
            reason=str(failure),
        ),
    )


def public_key_from_spki(der: bytes) -> PublicKey:
    """The public key of a DER SubjectPublicKeyInfo; an :class:`~bidcrypt.gm.Sm2PublicKey` on the SM2 curve.

    Raises ``ValueError`` (or ``cryptography``'s ``UnsupportedAlgorithm``) for bytes neither can read.
    """
    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm:
        return Sm2PublicKey.from_spki_der(der)
    if not isinstance(key, get_args(CertificatePublicKeyTypes)):
        raise UnsupportedAlgorithm("a key-agreement key cannot be a certificate's or signer's key")
    return cast(CertificatePublicKeyTypes, key)


def is_sm2(certificate: x509.Certificate) -> bool:
    """True when the certificate's key is an SM2 key."""
    return isinstance(public_key(certificate), Sm2PublicKey)


def public_key_der(certificate: x509.Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo of the certificate."""
    key = public_key(certificate)
    if isinstance(key, Sm2PublicKey):
        return key.spki_der()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the SubjectPublicKeyInfo, hex: the identity of the key across renewals."""
    return hashlib.sha256(public_key_der(certificate)).hexdigest()


def subject_key_identifier(certificate: x509.Certificate) -> bytes:
    """The certificate's SubjectKeyIdentifier, or the RFC 5280 method-1 value computed from its key."""
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        key = public_key(certificate)
        if isinstance(key, Sm2PublicKey):  # RFC 5280 method 1: SHA-1 of the subjectPublicKey bits
            return hashlib.sha1(key.point, usedforsecurity=False).digest()
        return x509.SubjectKeyIdentifier.from_public_key(key).digest


def same_public_key(first: x509.Certificate, second: x509.Certificate) -> bool:
    """True when both certificates certify the same public key."""
    return public_key_der(first) == public_key_der(second)


def key_description(certificate: x509.Certificate) -> str:
    """The key's algorithm and size, e.g. ``RSA-2048`` or ``EC P-256``."""
    key = public_key(certificate)
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, Sm2PublicKey):
        return "SM2"
    return type(key).__name__


def encryption_method(certificate: x509.Certificate) -> Text:
    """How a content key reaches the certificate's key, in words: RSA key transport, EC key agreement
    or SM2 encryption (for reports that say why a recipient has no RSA key transport)."""
    key = public_key(certificate)
    if isinstance(key, Sm2PublicKey):
        return Text("SM2 encryption", "SM2 加密")
    if isinstance(key, ec.EllipticCurvePublicKey):
        return Text("EC key agreement", "EC 密钥协商")
    return Text("RSA key transport", "RSA 密钥传输")


_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class CertificateSummary:
    """What a user needs to know about one certificate, ready for a report."""

    subject: str
    company: str | None
    credit_code: str | None
    issuer: str
    serial: str
    not_before: str
    not_after: str
    purposes: tuple[str, ...]
    key_usage: tuple[str, ...]
    key: str
    key_fingerprint: str

    @classmethod
    def of(cls, certificate: x509.Certificate) -> CertificateSummary:
        """Summarise *certificate*."""
        return cls(
            subject=display_name(certificate),
            company=company_name(certificate),
            credit_code=credit_code(certificate),
            issuer=display_name_of(certificate.issuer),
            serial=format(certificate.serial_number, "x"),
            not_before=format_time(certificate.not_valid_before_utc),
            not_after=format_time(certificate.not_valid_after_utc),
            purposes=tuple(sorted(p.value for p in purposes(certificate))),
            key_usage=tuple(key_usage_names(certificate)),
            key=key_description(certificate),
            key_fingerprint=key_fingerprint(certificate),
        )


def display_name_of(name: x509.Name) -> str:
    """CN, else O, else the RFC 4514 form of a distinguished name."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        values = _attribute_values(name, oid)
        if values:
            return values[0]
    return name.rfc4514_string()


def unique(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates without repeats, in order."""
    seen: set[bytes] = set()
    result = []
    for certificate in certificates:
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.add(fingerprint)
            result.append(certificate)
    return result
