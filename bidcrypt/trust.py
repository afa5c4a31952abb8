"""Trust: does a certificate chain to the trusted CAs, and is it revoked?

A trust store is made of certificate files (self-signed certificates are
anchors, the others are intermediates available for path building) and,
optionally, CRLs. Validation is offline (nothing is fetched) and uses
pyhanko-certvalidator, the RFC 5280 path validator pyHanko is built on.
Revocation is checked against the CRLs given; a certificate whose issuer
published no CRL here is not treated as revoked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as validation_errors

from bidcrypt import certs
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateRevokedError,
    CertificateUntrustedError,
    InputError,
)
from bidcrypt.i18n import pick

#: CRLs larger than this are refused before being read.
MAX_CRL_SIZE = 64 << 20


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors, intermediates for path building, and CRLs (DER)."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()

    @classmethod
    def load(cls, certificate_files: Iterable[Path], crl_files: Iterable[Path] = ()) -> TrustStore:
        """Read PEM/DER certificate files (anchors = the self-signed ones) and DER/PEM CRLs."""
        found: list[x509.Certificate] = []
        for path in certificate_files:
            found.extend(certs.load_certificates(path))
        found = certs.unique(found)
        anchors = tuple(c for c in found if _self_signed(c))
        if not anchors:
            raise InputError(
                pick("no self-signed CA certificate to trust", "没有可信任的自签名 CA 证书"),
                path=", ".join(str(p) for p in certificate_files),
            )
        return cls(
            anchors,
            tuple(c for c in found if not _self_signed(c)),
            tuple(_load_crl(path) for path in crl_files),
        )

    def with_intermediates(self, extra: Sequence[x509.Certificate]) -> TrustStore:
        """The same store with more intermediates (e.g. those shipped in a signature)."""
        return TrustStore(self.anchors, tuple(certs.unique([*self.intermediates, *extra])), self.crls)

    def validate(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> list[x509.Certificate]:
        """Check that *certificate* chains to an anchor and is not revoked at *at*.

        Returns the chain (end entity first). Raises
        :class:`CertificateUntrustedError`, :class:`CertificateRevokedError` or
        :class:`CertificateExpiredError`.
        """
        moment = at or dt.datetime.now(dt.UTC)
        context = ValidationContext(
            trust_roots=[_asn1(c) for c in self.anchors],
            other_certs=[_asn1(c) for c in (*self.intermediates, *extra_certificates)],
            crls=list(self.crls),
            moment=moment,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        validator = CertificateValidator(_asn1(certificate), validation_context=context)
        subject = certs.display_name(certificate)
        try:
            path = asyncio.run(validator.async_validate_path())
        except validation_errors.RevokedError as exc:
            revoked_at = getattr(exc, "revocation_dt", None)
            raise CertificateRevokedError(
                subject=subject, revoked_at=certs.format_time(revoked_at) if revoked_at else "-"
            ) from exc
        except validation_errors.ExpiredError as exc:
            raise CertificateExpiredError(
                subject=subject, not_after=certs.format_time(certificate.not_valid_after_utc)
            ) from exc
        except (
            validation_errors.PathBuildingError,
            validation_errors.PathValidationError,
            validation_errors.InvalidCertificateError,
        ) as exc:
            raise CertificateUntrustedError(str(exc).split("\n")[0][:200], subject=subject) from exc
        return [x509.load_der_x509_certificate(c.dump()) for c in reversed(list(path))]


def _load_crl(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_CRL_SIZE:
            raise InputError(pick("too large for a CRL", "文件过大，不是 CRL"), path=path)
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror, path=path) from exc
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise InputError(pick("not a CRL", "不是证书吊销列表"), path=path) from exc
    return crl.public_bytes(serialization.Encoding.DER)
