"""One seal's signature, by pyHanko: intact, valid, covering its revision, and its timestamp.

pyHanko checks what only it can (the message digest over the document's
byte range, the coverage of the revision, the RFC 3161 timestamp and its
authority's chain). The signature value is checked by bidcrypt's signature
schemes (:class:`~bidcrypt.keys.SchemeSignatureValidator`), since pyHanko's
own check goes through ``cryptography``, which has no SM2: so SM2 seals
(SM2-with-SM3, Z of the default ID) are checked like RSA and ECDSA ones.
The signer's certificate chain is not validated here:
bidcrypt's trust store judges it once, at the right time and through a
:class:`~bidcrypt.trust.ValidationCache` (see :mod:`bidcrypt.seal.verify`).
Validating it here as well, as pyHanko's ``validate_pdf_signature`` does,
was the same work twice for each seal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import CMSStructuralError
from pyhanko.sign.validation.generic_cms import collect_timing_info, validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel, TimestampSignatureStatus
from pyhanko_certvalidator.sig_validate import (
    DefaultSignatureValidator,
)

from bidcrypt.aio import blocking
from bidcrypt.keys import SchemeSignatureValidator
from bidcrypt.trust import TrustStore

# A seal's /Contents may wrap its SignedData in GM/T 0010's signedData content type
# (1.2.156.10197.6.1.4.2.2, named by bidcrypt.gm) instead of PKCS#7's: parse it as the SignedData
# it is, so pyHanko reads such seals (setdefault: whoever registers it first, the same spec).
cms.ContentInfo._oid_specs.setdefault("gm_signed_data", cms.SignedData)

#: The PDF signature sub-filters a seal may use (those pyHanko validates as /Sig).
_SUBFILTERS = (SigSeedSubFilter.ADOBE_PKCS7_DETACHED, SigSeedSubFilter.PADES, SigSeedSubFilter.PBAD_PADES)


@dataclass(frozen=True)
class SignatureFacts:
    """What pyHanko found about one seal's signature (its certificate not yet judged)."""

    intact: bool
    valid: bool
    coverage: SignatureCoverageLevel | None
    signing_cert: asn1_x509.Certificate
    signer_reported_dt: dt.datetime | None
    timestamp_validity: TimestampSignatureStatus | None


async def check_signature(
    embedded: EmbeddedPdfSignature,
    trust: TrustStore,
    moment: dt.datetime,
    embedded_certificates: list[x509.Certificate],
) -> SignatureFacts:
    """The integrity of *embedded* and its timestamp (judged against *trust* at *moment*).

    Raises what pyHanko, asn1crypto or cryptography raise for a malformed
    signature (the caller reports it).
    """
    subfilter = embedded.sig_object.get("/SubFilter", None)
    try:
        known = SigSeedSubFilter(subfilter) in _SUBFILTERS
    except ValueError:
        known = False
    if not known:
        raise ValueError(f"{subfilter} is not a recognized SubFilter type in signatures.")
    # Hashing the signed byte ranges reads the whole document: off an async caller's loop.
    await blocking(embedded.compute_integrity_info, skip_diff=True)
    content = embedded.signed_data["encap_content_info"]
    if content["content"] is not core.VOID:
        raise ValueError("CMS structural error: detached signatures should not have encapsulated data")
    try:
        intact, valid = validate_sig_integrity(
            embedded.signer_info,
            embedded.signer_cert,
            expected_content_type=content["content_type"].native,
            actual_digest=embedded.compute_digest(),
            sig_validator=_SEAL_SIGNATURES,
        )
    except CMSStructuralError as exc:  # worded as pyHanko's validate_pdf_signature words it
        raise ValueError("CMS structural error: " + exc.failure_message) from exc
    timestamp_context = (
        trust.validation_context(moment, embedded_certificates)
        if _has_timestamps(embedded.signer_info)
        else None
    )
    timing = await collect_timing_info(
        embedded.signer_info, timestamp_context, raw_digest=embedded.compute_digest
    )
    reported = timing.get("signer_reported_dt") or embedded.self_reported_timestamp
    return SignatureFacts(
        intact=bool(intact),
        valid=bool(valid),
        coverage=embedded.coverage,
        signing_cert=embedded.signer_cert,
        signer_reported_dt=reported,
        timestamp_validity=timing.get("timestamp_validity"),
    )


#: bidcrypt's schemes (RSA PKCS#1 v1.5, ECDSA, SM2 with SM3), then pyHanko's own check for the rest:
#: seals made by other software may use what bidcrypt never writes (RSASSA-PSS, EdDSA).
_SEAL_SIGNATURES = SchemeSignatureValidator(fallback=DefaultSignatureValidator())


def _has_timestamps(signer_info: cms.SignerInfo) -> bool:
    """Whether the signature carries a signature or content timestamp (which needs a trust context)."""
    unsigned = signer_info["unsigned_attrs"]
    signed = signer_info["signed_attrs"]
    return any(a["type"].native == "signature_time_stamp_token" for a in (unsigned or ())) or any(
        a["type"].native == "content_time_stamp" for a in (signed or ())
    )
