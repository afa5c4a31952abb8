"""A signer's chain validated at each arrival time, reused only while no time can change the answer."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from bidcrypt import certs
from bidcrypt.errors import CertificateError
from bidcrypt.opening import signer_chain
from bidcrypt.opening.signer_chain import validate_signer
from bidcrypt.trust import TrustStore

from ..conftest import Pki


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The times the store really validated at (the cache emptied first)."""
    monkeypatch.setattr(signer_chain, "_CHAINS", signer_chain.OrderedDict())
    calls: list[dt.datetime] = []
    real = TrustStore.validate

    def validate(
        self: TrustStore, certificate: object, at: dt.datetime, *args: object, **kw: object
    ) -> object:
        calls.append(at)
        return real(self, certificate, at, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(TrustStore, "validate", validate)
    return calls


def _store(pki: Pki, crl: bool = False) -> TrustStore:
    return TrustStore.load([pki.roots, pki.intermediates], [pki.crl] if crl else [])


def test_a_chain_no_crl_lists_is_validated_once_inside_its_validity(
    pki: Pki, counted: list[dt.datetime]
) -> None:
    signer = certs.load_certificate(pki.cert("bidder-a/sign"))
    at = max(signer.not_valid_before_utc, dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC))
    store = _store(pki, crl=True)
    validate_signer(store, signer, [], at)
    validate_signer(store, signer, [], at + dt.timedelta(minutes=20))
    assert counted == [at]
    # outside the certificate's validity: validated again, and refused as the store refuses it
    late = signer.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(CertificateError):
        validate_signer(store, signer, [], late)
    assert counted == [at, late]
    # another store (no CRL): another question
    validate_signer(_store(pki), signer, [], at)
    assert counted == [at, late, at]


def test_a_chain_a_crl_lists_is_validated_every_time(pki: Pki, counted: list[dt.datetime]) -> None:
    revoked = certs.load_certificate(pki.cert("bidder-a/enc-revoked"))
    store = _store(pki, crl=True)
    assert signer_chain._listed(store, [revoked])
    at = revoked.not_valid_before_utc + dt.timedelta(seconds=1)
    for moment in (at, at + dt.timedelta(seconds=1)):
        with contextlib.suppress(CertificateError):
            validate_signer(store, revoked, [], moment)
    assert len(counted) == 2
    assert signer_chain._CHAINS == {}
