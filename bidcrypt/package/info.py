"""What a package says without a key: its readable attributes, recipients and their certificates.

The recipient certificates (``ARC.2.1``) sit in the unauthenticated
attributes: anyone can change them without breaking the envelope. They are
read as untrusted input: every field a report or rule looks at is parsed
here (a certificate that does not parse makes the package malformed), and a
listed certificate is kept only when the key identifier *computed from its
public key* is a recipient's SubjectKeyIdentifier. Its own
SubjectKeyIdentifier extension, issuer and serial number prove nothing, so
a certificate that matches only by those is ignored, and nothing decides
on a listed certificate's word (see :mod:`bidcrypt.package.rule`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from bidcrypt import certs
from bidcrypt.envelope import (
    EnvelopeHeader,
    EnvelopeRecipient,
    RecipientKind,
    interrupted_in_place,
    read_header_file,
)
from bidcrypt.errors import CertificateError, PackageError
from bidcrypt.files import PathArg, as_path
from bidcrypt.i18n import Text
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES, PackageAttributes


@dataclass(frozen=True)
class PackageInfo:
    """The readable face of a package."""

    path: Path
    header: EnvelopeHeader
    attributes: PackageAttributes
    #: True when the attributes are authenticated (AES-GCM), False when only readable (AES-CBC, and
    #: SM4-CBC in a GM/T 0010 envelope): bound then by the signed manifest, checked at the opening.
    authenticated: bool
    #: The recipients' certificates as the package lists them (checked against the RecipientInfos).
    recipient_certificates: tuple[x509.Certificate, ...]

    def listed_for(self, recipient: EnvelopeRecipient) -> x509.Certificate | None:
        """The listed certificate whose computed key identifier names *recipient*, if any."""
        return next((c for c in self.recipient_certificates if _names(recipient, c)), None)

    def recipient_of(self, certificate: x509.Certificate) -> EnvelopeRecipient | None:
        """The RecipientInfo that names *certificate* (or its key), if any."""
        return next(
            (r for r in self.header.recipients if r.rid is not None and r.rid.matches(certificate)), None
        )

    @property
    def is_gm(self) -> bool:
        """True for a GM/T 0010 package (SM2 recipients, SM4-CBC)."""
        return self.header.cipher.cipher.is_gm

    @property
    def key_algorithms(self) -> tuple[str, ...]:
        """The recipients' key algorithms, each once, in words: ``SM2``, ``RSA``, ``EC``."""
        found = (_key_algorithm(r) for r in self.header.recipients)
        return tuple(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        """What ``bidcrypt inspect --json`` prints."""
        return {
            "package": str(self.path),
            "attributes": self.attributes.to_json(),
            "attributes_authenticated": self.authenticated,
            "suite": self.header.suite,
            "gm": self.is_gm,
            "cipher": self.header.cipher.cipher.value,
            "key_algorithms": list(self.key_algorithms),
            "size": self.header.size,
            "recipients": [r.to_dict() for r in self.header.recipients],
            "recipient_certificates": [
                {
                    **certs.CertificateSummary.of(c).__dict__,
                    "purposes": list(certs.CertificateSummary.of(c).purposes),
                }
                for c in self.recipient_certificates
            ],
        }


def _key_algorithm(recipient: EnvelopeRecipient) -> str:
    """SM2, RSA or EC: the kind of key a RecipientInfo is for (else its algorithm in words)."""
    if recipient.sm2_encryption is not None:
        return "SM2"
    if recipient.key_transport is not None:
        return "RSA"
    if recipient.kind is RecipientKind.KEY_AGREEMENT:
        return "EC"
    return recipient.algorithm_name


def read_package_info(path: PathArg) -> PackageInfo:
    """Read a package's header (no key); raise :class:`PackageError` for an envelope that is no package.

    Raises only :class:`~bidcrypt.errors.BidcryptError`, whatever the bytes.
    """
    path = as_path(path)
    if interrupted_in_place(path):
        raise PackageError(
            Text(
                "an in-place re-encryption of this package was interrupted: run `bidcrypt reencrypt "
                "--in-place` on it again (it puts the old bytes back first)",
                "此投标文件的原地重新加密被中断：请再次对其运行 `bidcrypt reencrypt --in-place`"
                "（会先恢复原内容）",
            )
        )
    header = read_header_file(path)
    attributes = PackageAttributes.decode((a.oid, a.values) for a in header.readable_attributes)
    listed = [a for a in header.unauthenticated_attributes if a.oid == RECIPIENT_CERTIFICATES]
    if len(listed) > 1:
        raise PackageError(Text("the recipient certificates are listed twice", "收件人证书列出两次"))
    certificates = [_untrusted_certificate(value) for value in (listed[0].values if listed else ())]
    matching = tuple(c for c in certificates if any(_names(r, c) for r in header.recipients))
    return PackageInfo(path, header, attributes, header.is_authenticated, matching)


#: What ``cryptography`` raises for a certificate whose DER parses but whose fields do not (and
#: :func:`bidcrypt.certs.public_key` for a key neither ``cryptography`` nor the SM2 engine reads).
_UNREADABLE = (
    CertificateError,
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)


@functools.lru_cache(maxsize=64)
def _untrusted_certificate(der: bytes) -> x509.Certificate:
    """A listed certificate, every field that reports and rules read parsed now (fields load lazily).

    Kept by its bytes: a bulk opening reads the same bidders' certificates in every package.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        list(certificate.extensions)
        certificate.issuer.rfc4514_string()
        certs.CertificateSummary.of(certificate)
        computed_key_identifiers(certificate)
    except (*_UNREADABLE, CertificateError) as exc:
        raise PackageError(
            Text("a listed recipient certificate is malformed", "所列收件人证书格式错误")
        ) from exc
    return certificate


@functools.lru_cache(maxsize=256)
def computed_key_identifiers(certificate: x509.Certificate) -> frozenset[bytes]:
    """The key identifiers computed from the certificate's public key, never read from it.

    RFC 5280 section 4.2.1.2 methods 1 and 2 (SHA-1 of the subjectPublicKey
    bits, or its last 60 bits after the type 0100) and RFC 7093 methods 1-3
    (SHA-256/384/512 of the bits, leftmost 160 bits).
    """
    bits = bytes(keys.PublicKeyInfo.load(certs.public_key_der(certificate))["public_key"].contents[1:])
    sha1 = hashlib.sha1(bits).digest()  # noqa: S324 - RFC 5280 key identifier, not a security hash
    return frozenset(
        {
            sha1,
            bytes([0x40 | (sha1[12] & 0x0F)]) + sha1[13:],
            hashlib.sha256(bits).digest()[:20],
            hashlib.sha384(bits).digest()[:20],
            hashlib.sha512(bits).digest()[:20],
        }
    )


def _names(recipient: EnvelopeRecipient, certificate: x509.Certificate) -> bool:
    """True when *recipient*'s SubjectKeyIdentifier is one computed from *certificate*'s key."""
    rid = recipient.rid
    if rid is None or rid.subject_key_identifier is None:
        return False
    return rid.subject_key_identifier in computed_key_identifiers(certificate)
