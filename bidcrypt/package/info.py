"""What a package says without a key: its readable attributes, recipients and their certificates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from bidcrypt import certs
from bidcrypt.envelope import EnvelopeHeader, EnvelopeRecipient, interrupted_in_place, read_header_file
from bidcrypt.errors import PackageError
from bidcrypt.i18n import pick
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES, PackageAttributes


@dataclass(frozen=True)
class PackageInfo:
    """The readable face of a package."""

    path: Path
    header: EnvelopeHeader
    attributes: PackageAttributes
    #: True when the attributes are authenticated (AES-GCM), False when only readable (AES-CBC).
    authenticated: bool
    #: The recipients' certificates as the package lists them (checked against the RecipientInfos).
    recipient_certificates: tuple[x509.Certificate, ...]

    def recipient_of(self, certificate: x509.Certificate) -> EnvelopeRecipient | None:
        """The RecipientInfo that names *certificate* (or its key), if any."""
        return next(
            (r for r in self.header.recipients if r.rid is not None and r.rid.matches(certificate)), None
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``bidcrypt inspect --json`` prints."""
        return {
            "package": str(self.path),
            "attributes": self.attributes.to_json(),
            "attributes_authenticated": self.authenticated,
            "cipher": self.header.cipher.cipher.value,
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


def read_package_info(path: Path) -> PackageInfo:
    """Read a package's header (no key); raise :class:`PackageError` for an envelope that is no package."""
    if interrupted_in_place(path):
        raise PackageError(
            pick(
                "an in-place re-encryption of this package was interrupted: run `bidcrypt reencrypt "
                "--in-place` on it again (it puts the old bytes back first)",
                "此投标文件的原地重新加密被中断：请再次对其运行 `bidcrypt reencrypt --in-place`"
                "（会先恢复原内容）",
            )
        )
    header = read_header_file(path)
    source = header.authenticated_attributes if header.is_authenticated else header.unauthenticated_attributes
    attributes = PackageAttributes.decode((a.oid, a.values) for a in source)
    listed = next((a for a in header.unauthenticated_attributes if a.oid == RECIPIENT_CERTIFICATES), None)
    certificates: list[x509.Certificate] = []
    for value in listed.values if listed else ():
        try:
            certificate = x509.load_der_x509_certificate(value)
            certificate.public_key()  # read now: a key that cannot be read is as malformed as bad DER
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise PackageError(
                pick("a listed recipient certificate is malformed", "所列收件人证书格式错误")
            ) from exc
        if any(r.rid is not None and r.rid.matches(certificate) for r in header.recipients):
            certificates.append(certificate)
    return PackageInfo(path, header, attributes, header.is_authenticated, tuple(certificates))
