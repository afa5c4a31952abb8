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

The names that need pyHanko (sealing, verifying, seal images) are loaded on
first use, so importing this package, or :mod:`bidcrypt.seal.kind`, stays
cheap for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bidcrypt._lazy import loader
from bidcrypt.seal.kind import Holder, SealKind, holder_of, kind_mismatch
from bidcrypt.seal.placement import Box, Placement, default_box
from bidcrypt.seal.report import Finding, SealCheck, SealReport, Timestamp
from bidcrypt.trust import RevocationStatus

if TYPE_CHECKING:
    from bidcrypt.seal.apply import (
        AppliedSeal,
        SealResult,
        apply_seal,
        async_apply_seal,
        check_certificate,
        choose_entry,
    )
    from bidcrypt.seal.image import SealImage
    from bidcrypt.seal.verify import async_verify_seals, verify_seals

#: The names loaded on first use, and their modules (these import pyHanko).
_LAZY = {
    "AppliedSeal": "bidcrypt.seal.apply",
    "SealResult": "bidcrypt.seal.apply",
    "apply_seal": "bidcrypt.seal.apply",
    "async_apply_seal": "bidcrypt.seal.apply",
    "check_certificate": "bidcrypt.seal.apply",
    "choose_entry": "bidcrypt.seal.apply",
    "SealImage": "bidcrypt.seal.image",
    "verify_seals": "bidcrypt.seal.verify",
    "async_verify_seals": "bidcrypt.seal.verify",
}

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
    "async_apply_seal",
    "async_verify_seals",
    "check_certificate",
    "choose_entry",
    "default_box",
    "holder_of",
    "kind_mismatch",
    "verify_seals",
]


__getattr__ = loader(__name__, globals(), _LAZY)
