"""The seal engine: company seals (公章) and legal-person seals (法人章) on PDF documents.

A seal is a PAdES signature (baseline B-B, or B-T with a timestamp
authority) with a visible seal image, made with a certificate of the UKey::

    from bidcrypt.keys import open_key_source
    from bidcrypt.seal import Placement, SealKind, apply_seal, choose_entry

    with open_key_source("pkcs11:token=bidder-a?module-path=...") as source:
        entry = choose_entry(source, SealKind.COMPANY)
        apply_seal(Path("bid.pdf"), Path("bid-sealed.pdf"), entry,
                   kind=SealKind.COMPANY, image=Path("company.png"),
                   placement=Placement(pages="all"))

Verifying, e.g. that a bid file carries valid company seals of the bidder::

    trust = TrustStore.load([Path("roots.pem")], [Path("vendor.crl")])  # bidcrypt.trust
    report = verify_seals(Path("bid-sealed.pdf"), trust=trust,
                          expect_uscc="91420100MA4KXB7Q09")
    report.valid              # the verdict
    report.company_seals      # per-seal results (SealCheck)
    report.raise_for_problems()

The kind of each seal is recorded in its signed attributes (see
:mod:`bidcrypt.seal.kind`), so verification tells company seals from
legal-person seals.
"""

from bidcrypt.seal.apply import AppliedSeal, SealResult, apply_seal, check_certificate, choose_entry
from bidcrypt.seal.image import SealImage
from bidcrypt.seal.kind import Holder, SealKind, holder_of
from bidcrypt.seal.placement import Box, Placement, default_box
from bidcrypt.seal.report import Finding, SealCheck, SealReport, Timestamp
from bidcrypt.seal.revocation import RevocationStatus
from bidcrypt.seal.verify import verify_seals

__all__ = [
    "AppliedSeal",
    "Box",
    "Finding",
    "Holder",
    "Placement",
    "RevocationStatus",
    "SealCheck",
    "SealImage",
    "SealKind",
    "SealReport",
    "SealResult",
    "Timestamp",
    "apply_seal",
    "check_certificate",
    "choose_entry",
    "default_box",
    "holder_of",
    "verify_seals",
]
