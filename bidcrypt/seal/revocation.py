"""Revocation status of a seal's certificate from the CRLs the verifier was given (no network).

A CRL counts for a certificate when its issuer is the certificate's issuer and
its signature verifies with that issuer's key (the issuer certificate is
looked for among the trust anchors, the intermediates and the certificates
embedded in the seal).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

RevocationState = Literal["good", "revoked", "unknown", "not-checked"]


@dataclass(frozen=True)
class RevocationStatus:
    """What the given CRLs say about one certificate.

    ``good``: a CRL of its issuer does not list it; ``revoked``: one does;
    ``unknown``: CRLs were given but none of its issuer; ``not-checked``: no
    CRL was given.
    """

    state: RevocationState
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    crl_next_update: dt.datetime | None = None
    stale: bool = False


def check_revocation(
    certificate: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
    issuers: Iterable[x509.Certificate],
    at: dt.datetime,
) -> RevocationStatus:
    """The revocation status of *certificate* at *at* according to *crls*."""
    if not crls:
        return RevocationStatus("not-checked")
    candidates = [c for c in issuers if c.subject == certificate.issuer]
    for crl in crls:
        if crl.issuer != certificate.issuer or not any(_signed_by(crl, issuer) for issuer in candidates):
            continue
        next_update = crl.next_update_utc
        stale = next_update is not None and next_update < at
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if entry is None:
            return RevocationStatus("good", crl_next_update=next_update, stale=stale)
        reason = None
        with contextlib.suppress(x509.ExtensionNotFound):
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
        return RevocationStatus(
            "revoked",
            revoked_at=entry.revocation_date_utc,
            reason=reason,
            crl_next_update=next_update,
            stale=stale,
        )
    return RevocationStatus("unknown")


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    public_key = issuer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return False
    return crl.is_signature_valid(public_key)
