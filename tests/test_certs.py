"""Certificates: purposes by key usage, credit codes wherever a CA vendor puts them, validity."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    InputError,
    WrongKeyUsageError,
)

from .conftest import Pki


def test_purposes_follow_key_usage(pki: Pki) -> None:
    assert certs.purposes(certs.load_certificate(pki.cert("bidder-a/sign"))) == {Purpose.SIGNING}
    assert certs.purposes(certs.load_certificate(pki.cert("bidder-a/enc"))) == {Purpose.ENCRYPTION}
    assert certs.purposes(certs.load_certificate(pki.cert("bidder-b/enc"))) == {Purpose.ENCRYPTION}
    assert certs.purposes(certs.load_certificate(pki.cert("bidder-c/legal"))) == {Purpose.SIGNING}


def test_signing_certificate_refused_for_encryption(pki: Pki) -> None:
    with pytest.raises(WrongKeyUsageError) as caught:
        certs.require_purpose(certs.load_certificate(pki.cert("bidder-a/sign")), Purpose.ENCRYPTION)
    assert "digitalSignature" in str(caught.value)
    assert "encryption" in str(caught.value)


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b", "bidder-c", "authority"])
def test_credit_code_found_wherever_the_vendor_put_it(pki: Pki, bidder: str) -> None:
    certificate = certs.load_certificate(pki.cert(f"{bidder}/enc"))
    assert certs.credit_code(certificate) == pki.company(bidder)["credit_code"]


def _certificate_with(subject: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )


def test_credit_code_in_common_name_and_invalid_codes_skipped() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "91350100M000100Y44"),  # wrong check character
            x509.NameAttribute(NameOID.COMMON_NAME, "某某公司@91350100M000100Y43"),
        ]
    )
    certificate = _certificate_with(subject)
    assert certs.credit_code(certificate) == "91350100M000100Y43"
    assert certs.credit_code_candidates(certificate) == ["91350100M000100Y44", "91350100M000100Y43"]


def test_no_credit_code() -> None:
    certificate = _certificate_with(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "张伟")]))
    assert certs.credit_code(certificate) is None


def test_validity(pki: Pki) -> None:
    expired = certs.load_certificate(pki.cert("bidder-a/enc-expired"))
    with pytest.raises(CertificateExpiredError, match="2024-12-31"):
        certs.require_valid_at(expired)
    not_yet = certs.load_certificate(pki.cert("bidder-a/enc-not-yet-valid"))
    with pytest.raises(CertificateNotYetValidError, match="2050-01-01"):
        certs.require_valid_at(not_yet)
    certs.require_valid_at(not_yet, dt.datetime(2051, 1, 1, tzinfo=dt.UTC))


def test_renewal_keeps_the_key_replacement_does_not(pki: Pki) -> None:
    original = certs.load_certificate(pki.cert("bidder-a/enc"))
    renewed = certs.load_certificate(pki.cert("bidder-a/enc-renewed"))
    replaced = certs.load_certificate(pki.cert("bidder-a/enc-replaced"))
    assert original.serial_number != renewed.serial_number
    assert certs.same_public_key(original, renewed)
    assert certs.subject_key_identifier(original) == certs.subject_key_identifier(renewed)
    assert not certs.same_public_key(original, replaced)
    assert certs.key_fingerprint(original) != certs.key_fingerprint(replaced)


def test_load_rejects_garbage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"\x00\x01 not a certificate")
    with pytest.raises(InputError):
        certs.load_certificates(bad)
    with pytest.raises(InputError):
        certs.load_certificates(tmp_path / "missing.pem")


def test_summary_in_chinese(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    with pytest.raises(WrongKeyUsageError) as caught:
        certs.require_purpose(certs.load_certificate(pki.cert("bidder-a/sign")), Purpose.ENCRYPTION)
    assert "不能用于加密" in str(caught.value)
    summary = certs.CertificateSummary.of(certs.load_certificate(pki.cert("bidder-b/sign")))
    assert summary.company == "福建闽江科技股份有限公司"
    assert summary.key == "EC P-256"
