"""Chain validation against a trust store, with CRLs, offline."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bidcrypt.certs import load_certificate
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateRevokedError,
    CertificateUntrustedError,
    InputError,
)
from bidcrypt.trust import TrustStore

from .conftest import Pki


@pytest.fixture
def store(pki: Pki) -> TrustStore:
    return TrustStore.load([pki.roots, pki.intermediates], [pki.crl])


@pytest.mark.parametrize("name", ["bidder-a/enc", "bidder-b/sign", "bidder-c/enc", "authority/enc"])
def test_fixture_certificates_chain_to_the_root(store: TrustStore, pki: Pki, name: str) -> None:
    chain = store.validate(load_certificate(pki.cert(name)))
    assert chain[0] == load_certificate(pki.cert(name))
    assert chain[-1] == load_certificate(pki.roots)


def test_untrusted_ca(store: TrustStore, pki: Pki) -> None:
    with pytest.raises(CertificateUntrustedError):
        store.validate(load_certificate(pki.cert("rogue/sign")))


def test_revoked_by_crl(store: TrustStore, pki: Pki) -> None:
    with pytest.raises(CertificateRevokedError, match="2025-09-01"):
        store.validate(load_certificate(pki.cert("bidder-a/sign-revoked")))


def test_revocation_is_not_known_without_the_crl(pki: Pki) -> None:
    store = TrustStore.load([pki.roots, pki.intermediates])
    assert store.validate(load_certificate(pki.cert("bidder-a/enc-revoked")))


def test_expired(store: TrustStore, pki: Pki) -> None:
    with pytest.raises(CertificateExpiredError):
        store.validate(load_certificate(pki.cert("bidder-a/enc-expired")))
    # valid in the past (checked without the CRL, which was only issued in 2026)
    without_crl = TrustStore.load([pki.roots, pki.intermediates])
    expired = load_certificate(pki.cert("bidder-a/enc-expired"))
    assert without_crl.validate(expired, at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))


def test_intermediates_can_come_with_the_signature(pki: Pki) -> None:
    store = TrustStore.load([pki.roots])
    certificate = load_certificate(pki.cert("bidder-b/enc"))
    with pytest.raises(CertificateUntrustedError):
        store.validate(certificate)
    vendor = load_certificate(pki.cert("ca/vendor-ec"))
    assert store.with_intermediates([vendor]).validate(certificate)
    assert store.validate(certificate, extra_certificates=[vendor])


def test_needs_an_anchor(pki: Pki, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        TrustStore.load([pki.intermediates])
    bad = tmp_path / "x.crl"
    bad.write_bytes(b"junk")
    with pytest.raises(InputError):
        TrustStore.load([pki.roots], [bad])


def test_revocation_status_says_what_the_crls_say(store: TrustStore, pki: Pki) -> None:
    revoked = store.revocation_status(load_certificate(pki.cert("bidder-a/sign-revoked")))
    assert (revoked.state, revoked.reason) == ("revoked", "keyCompromise")
    assert revoked.revoked_at == dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    good = store.revocation_status(load_certificate(pki.cert("bidder-a/enc")))
    assert (good.state, good.stale) == ("good", False)
    # bidder-b's CA (vendor-ec) has no CRL here
    assert store.revocation_status(load_certificate(pki.cert("bidder-b/enc"))).state == "unknown"
    without_crl = TrustStore.load([pki.roots, pki.intermediates])
    assert without_crl.revocation_status(load_certificate(pki.cert("bidder-a/enc"))).state == "not-checked"


def test_a_crl_past_its_next_update_is_stale(store: TrustStore, pki: Pki) -> None:
    later = dt.datetime(2060, 1, 1, tzinfo=dt.UTC)
    status = store.revocation_status(load_certificate(pki.cert("bidder-a/enc")), at=later)
    assert (status.state, status.stale) == ("good", True)


def test_a_crl_its_issuer_did_not_sign_does_not_count(store: TrustStore, pki: Pki) -> None:
    certificate = load_certificate(pki.cert("bidder-a/enc"))
    rogue_key = serialization.load_pem_private_key(pki.key("rogue/sign").read_bytes(), None)
    assert isinstance(rogue_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(certificate.issuer)
        .last_update(now)
        .next_update(now + dt.timedelta(days=30))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(certificate.serial_number)
            .revocation_date(now)
            .build()
        )
        .sign(rogue_key, hashes.SHA256())
    )
    forged_store = TrustStore(
        store.anchors, store.intermediates, (forged.public_bytes(serialization.Encoding.DER),)
    )
    assert forged_store.revocation_status(certificate).state == "unknown"
