"""Each seal's chain is validated once: by the trust store (not also by pyHanko), and once per question."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bidcrypt.seal import verify_seals
from bidcrypt.trust import TrustStore, ValidationCache

from ..conftest import Pki

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def trust_store(pki: Pki) -> TrustStore:
    """The root, the vendor CAs (the fixture seals do not embed them) and the vendor CRL."""
    return TrustStore.load([pki.roots, pki.intermediates], [pki.crl])


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of the chain validations: by the trust store, and by pyHanko's own signer check."""
    from pyhanko.sign.validation import generic_cms
    from pyhanko_certvalidator import CertificateValidator

    counts = {"trust store": 0, "pyhanko": 0}
    real_validate = CertificateValidator.async_validate_path
    real_usage = generic_cms.validate_cert_usage

    async def validate(self: CertificateValidator) -> object:
        counts["trust store"] += 1
        return await real_validate(self)

    async def usage(*args: object, **kwargs: object) -> object:
        counts["pyhanko"] += 1
        return await real_usage(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CertificateValidator, "async_validate_path", validate)
    monkeypatch.setattr(generic_cms, "validate_cert_usage", usage)
    return counts


def test_one_validation_per_seal_without_a_cache(
    pki: Pki, sealed_pdfs: dict[str, Path], validations: dict[str, int]
) -> None:
    report = verify_seals(sealed_pdfs["bidder-a"], trust=trust_store(pki), at=AT)
    assert report.valid and len(report.seals) == 1
    assert validations == {"trust store": 1, "pyhanko": 0}


def test_a_cache_validates_the_same_certificate_once_across_documents(
    pki: Pki, sealed_pdfs: dict[str, Path], validations: dict[str, int]
) -> None:
    trust, cache = trust_store(pki), ValidationCache()
    for _ in range(3):
        assert verify_seals(sealed_pdfs["bidder-a"], trust=trust, at=AT, cache=cache).valid
    assert validations["trust store"] == 1
    assert verify_seals(sealed_pdfs["bidder-b"], trust=trust, at=AT, cache=cache).valid  # another bidder
    assert validations["trust store"] == 2
    later = verify_seals(sealed_pdfs["bidder-a"], trust=trust, at=AT + dt.timedelta(days=1), cache=cache)
    assert later.valid and validations["trust store"] == 3  # another time: another question
    assert (cache.misses, cache.hits) == (3, 2)


def test_a_cached_refusal_gives_the_same_findings(pki: Pki, sealed_pdfs: dict[str, Path]) -> None:
    untrusting = TrustStore.load([pki.roots])  # without the vendor CA, which the seals do not embed
    cache = ValidationCache()
    first = verify_seals(sealed_pdfs["bidder-a"], trust=untrusting, at=AT, cache=cache)
    again = verify_seals(sealed_pdfs["bidder-a"], trust=untrusting, at=AT, cache=cache)
    assert not first.valid and cache.hits == 1
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in first.findings]
    assert any(f.code == first.problems[0].code for f in again.problems)
