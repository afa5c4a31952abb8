"""Chain validation against a trust store, with CRLs, offline."""

from __future__ import annotations

import asyncio
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
from bidcrypt.trust import TrustStore, ValidationCache

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
    # the chain verdict refuses it rather than ignore it: the CRL names the issuer but its signature fails
    # (tests/gm/test_sm2_trust.py holds SM2 to the same)
    with pytest.raises(CertificateUntrustedError, match="CRL signature could not be verified"):
        forged_store.validate(certificate, at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))


@pytest.fixture
def chain_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the chain validations (pyhanko-certvalidator's path building and checking)."""
    from pyhanko_certvalidator import CertificateValidator

    calls: list[str] = []
    real = CertificateValidator.async_validate_path

    async def counted(self: CertificateValidator) -> object:
        calls.append(self._certificate.subject.human_friendly)
        return await real(self)

    monkeypatch.setattr(CertificateValidator, "async_validate_path", counted)
    return calls


AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_the_cache_answers_the_same_question_without_a_second_validation(
    store: TrustStore, pki: Pki, chain_builds: list[str]
) -> None:
    cache = ValidationCache()
    certificate = load_certificate(pki.cert("bidder-a/sign"))
    first = store.validate(certificate, at=AT, cache=cache)
    assert store.validate(certificate, at=AT, cache=cache) == first
    assert len(chain_builds) == 1 and (cache.misses, cache.hits) == (1, 1)
    # A copy of the same store, and extra certificates it already holds, ask the same question.
    copy = TrustStore.load([pki.roots, pki.intermediates], [pki.crl])
    assert copy.validate(
        certificate, at=AT, extra_certificates=[certificate, *store.intermediates], cache=cache
    )
    assert len(chain_builds) == 1


def test_a_different_time_store_or_extra_certificate_is_another_question(
    store: TrustStore, pki: Pki, chain_builds: list[str]
) -> None:
    cache = ValidationCache()
    certificate = load_certificate(pki.cert("bidder-b/enc"))
    vendor = load_certificate(pki.cert("ca/vendor-ec"))
    store.validate(certificate, at=AT, cache=cache)
    store.validate(certificate, at=AT + dt.timedelta(seconds=1), cache=cache)
    assert len(chain_builds) == 2
    without_crl = TrustStore.load([pki.roots, pki.intermediates])
    without_crl.validate(certificate, at=AT, cache=cache)
    assert len(chain_builds) == 3
    roots_only = TrustStore.load([pki.roots])
    with pytest.raises(CertificateUntrustedError):
        roots_only.validate(certificate, at=AT, cache=cache)
    assert roots_only.validate(certificate, at=AT, extra_certificates=[vendor], cache=cache)
    assert len(chain_builds) == 5
    # Without a cache, every call validates.
    store.validate(certificate, at=AT)
    store.validate(certificate, at=AT)
    assert len(chain_builds) == 7


def test_a_refusal_is_cached_too(store: TrustStore, pki: Pki, chain_builds: list[str]) -> None:
    cache = ValidationCache()
    revoked = load_certificate(pki.cert("bidder-a/sign-revoked"))
    for _ in range(3):
        with pytest.raises(CertificateRevokedError, match="2025-09-01"):
            store.validate(revoked, at=AT, cache=cache)
    assert len(chain_builds) == 1 and (cache.misses, cache.hits) == (1, 2)


def test_the_cache_forgets_the_least_recently_used(
    store: TrustStore, pki: Pki, chain_builds: list[str]
) -> None:
    cache = ValidationCache(max_entries=2)
    names = ["bidder-a/enc", "bidder-b/sign", "bidder-c/enc"]
    for name in names:
        store.validate(load_certificate(pki.cert(name)), at=AT, cache=cache)
    assert len(cache) == 2 and len(chain_builds) == 3
    store.validate(load_certificate(pki.cert(names[-1])), at=AT, cache=cache)
    assert len(chain_builds) == 3
    store.validate(load_certificate(pki.cert(names[0])), at=AT, cache=cache)  # forgotten
    assert len(chain_builds) == 4
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="at least 1"):
        ValidationCache(max_entries=0)


def test_async_validate_shares_the_cache_with_the_sync_twin(
    store: TrustStore, pki: Pki, chain_builds: list[str]
) -> None:
    cache = ValidationCache()
    certificate = load_certificate(pki.cert("bidder-a/enc"))

    async def caller() -> None:
        chain = await store.async_validate(certificate, AT, cache=cache)
        assert store.validate(certificate, AT, cache=cache) == chain  # from inside the loop

    asyncio.run(caller())
    assert len(chain_builds) == 1
