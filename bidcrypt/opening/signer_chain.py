"""A statement signer's chain, validated at each arrival time, and not again while the answer cannot change.

Releases and sign-ins are judged at their arrival time (docs/remote.md). A
bidder's releases arrive minutes apart, and validating the same chain each
time (pyhanko-certvalidator's path building, in Python) is most of a
release's checks. The answer at a later time is the same as at an earlier
one when every certificate of the chain found then is valid at the later
time and no CRL of the store lists any of them (then no time can make them
revoked). Only such answers are kept, per process, by the store's
fingerprint, the signer and the certificates the statement carried; any
other question (a chain a CRL lists, a time outside a certificate's
validity, a refusal) is validated anew.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bidcrypt.trust import TrustStore

__all__ = ["validate_signer"]

_Key = tuple[bytes, bytes, frozenset[bytes]]
#: Chains that no CRL of their store lists, by (store, signer, certificates carried).
_CHAINS: OrderedDict[_Key, tuple[x509.Certificate, ...]] = OrderedDict()
_GUARD = threading.Lock()
_MAX_CHAINS = 1024


def _fingerprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


def _valid_at(chain: Sequence[x509.Certificate], at: dt.datetime) -> bool:
    return all(c.not_valid_before_utc <= at <= c.not_valid_after_utc for c in chain)


def _listed(store: TrustStore, chain: Sequence[x509.Certificate]) -> bool:
    """Whether any CRL of *store* names a certificate of *chain* (its issuer and serial number)."""
    for data in store.crls:
        crl = x509.load_der_x509_crl(data)
        for certificate in chain:
            if crl.issuer == certificate.issuer and (
                crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
            ):
                return True
    return False


def validate_signer(
    store: TrustStore, signer: x509.Certificate, certificates: Sequence[x509.Certificate], at: dt.datetime
) -> None:
    """Validate *signer*'s chain with *store* at *at* (:meth:`TrustStore.validate`'s errors), or know
    the answer from an earlier validation that no time inside the chain's validity can change."""
    key = (store.fingerprint, _fingerprint(signer), frozenset(_fingerprint(c) for c in certificates))
    with _GUARD:
        known = _CHAINS.get(key)
    if known is not None and _valid_at(known, at):
        return
    chain = store.validate(signer, at, certificates)
    if _listed(store, chain):
        return
    with _GUARD:
        _CHAINS[key] = tuple(chain)
        _CHAINS.move_to_end(key)
        while len(_CHAINS) > _MAX_CHAINS:
            _CHAINS.popitem(last=False)
