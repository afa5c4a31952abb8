"""Validating each distinct certificate once per batch: a trust store that remembers its verdicts.

One opening validates the same few certificates again and again: every bid
of a bidder is signed, and its documents sealed, with the same signing
certificate, under the same CAs. :class:`MemoTrustStore` is the session's
trust store for one batch in one worker process: a chain validated for a
certificate, at a validation time, with a set of extra certificates (those
shipped in a signature), is remembered, and so are the revocation status
and pyHanko's validation context for that time and set; asking again gives
the same answer without doing the work again. Validation is offline and
deterministic for those inputs (the anchors, intermediates and CRLs are
the store's, fixed for the batch), so the answer is the one a new
validation would give. Failures are not remembered: they are rare, and a
failing certificate is validated again each time, with its full error.

Only calls at an explicit time are remembered (a call at "now" has a
different time each time); the batch passes one validation time for the
whole run.

This is a stop-gap in the opening layer until :mod:`bidcrypt.trust` offers a
validation cache of its own; swap it for that when it lands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bidcrypt.trust import RevocationStatus, TrustStore

if TYPE_CHECKING:
    from pyhanko_certvalidator import ValidationContext

#: (the certificate's SHA-256, the validation time, the SHA-256s of the extra certificates).
_Key = tuple[bytes, dt.datetime, frozenset[bytes]]


def _fingerprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


def _extras(extra_certificates: Sequence[x509.Certificate]) -> frozenset[bytes]:
    return frozenset(_fingerprint(c) for c in extra_certificates)


@dataclass(frozen=True)
class MemoTrustStore(TrustStore):
    """A :class:`~bidcrypt.trust.TrustStore` that validates each (certificate, time, extras) once."""

    _chains: dict[_Key, tuple[x509.Certificate, ...]] = field(default_factory=dict, repr=False, compare=False)
    _revocations: dict[_Key, RevocationStatus] = field(default_factory=dict, repr=False, compare=False)
    _contexts: dict[tuple[dt.datetime, frozenset[bytes]], ValidationContext] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, store: TrustStore) -> MemoTrustStore:
        """A copy of *store* (same anchors, intermediates and CRLs) that remembers, from now on."""
        return cls(store.anchors, store.intermediates, store.crls)

    def validate(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> list[x509.Certificate]:
        """:meth:`TrustStore.validate`, remembered when *at* is given and the chain validates."""
        if at is None:
            return super().validate(certificate, at, extra_certificates)
        key = (_fingerprint(certificate), at, _extras(extra_certificates))
        chain = self._chains.get(key)
        if chain is None:
            chain = tuple(super().validate(certificate, at, extra_certificates))
            self._chains[key] = chain
        return list(chain)

    def revocation_status(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> RevocationStatus:
        """:meth:`TrustStore.revocation_status`, remembered when *at* is given."""
        if at is None:
            return super().revocation_status(certificate, at, extra_certificates)
        key = (_fingerprint(certificate), at, _extras(extra_certificates))
        status = self._revocations.get(key)
        if status is None:
            status = super().revocation_status(certificate, at, extra_certificates)
            self._revocations[key] = status
        return status

    def validation_context(
        self, at: dt.datetime | None = None, extra_certificates: Sequence[x509.Certificate] = ()
    ) -> ValidationContext:
        """:meth:`TrustStore.validation_context`, one per (time, extra certificates) when *at* is given.

        pyHanko's context is meant to be shared by the validations of one
        session: what it learns (certificates met in signatures, validated
        paths, parsed CRLs) only helps the next path search, never changes
        its verdict.
        """
        if at is None:
            return super().validation_context(at, extra_certificates)
        key = (at, _extras(extra_certificates))
        context = self._contexts.get(key)
        if context is None:
            context = super().validation_context(at, extra_certificates)
            self._contexts[key] = context
        return context
