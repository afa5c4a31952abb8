"""Seal verdicts over time: a seal with a trusted timestamp is judged at the timestamp's time.

The validation time is injected (``at``), or the test TSA is told what time
to claim: nothing waits for a certificate to expire.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificates
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import CertificateExpiredError, CertificateRevokedError, SealInvalidError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.seal import SealKind, apply_seal, choose_entry, verify_seals

from ..conftest import Pki, run_cli
from .conftest import document, expired_signing_p12, seal_image, trust_store
from .tsa import LocalTsa, Quirks, running_tsa, tsa_identity

UTC = dt.UTC
#: bidder-a's expired certificate (expired_signing_p12) was valid from 2022-01-01 to 2024-12-31.
WHILE_VALID = dt.datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
#: After bidder-a/sign's notAfter (2045-01-01), while the TSA, vendor CA and root are still valid.
LONG_AFTER = dt.datetime(2050, 1, 1, tzinfo=UTC)


def _seal(
    pki: Pki,
    key: Path,
    output: Path,
    *,
    tsa_url: str | None = None,
    at: dt.datetime | None = None,
) -> Path:
    with open_key_source(str(key), PinSource.of_value(pki.pin)) as source:
        apply_seal(
            document(),
            output,
            choose_entry(source, SealKind.COMPANY),
            kind=SealKind.COMPANY,
            image=seal_image("bidder-a", "company"),
            chain=load_certificates(pki.chain("bidder-a/sign")),
            tsa_url=tsa_url,
            at=at,
        )
    return output


def test_an_expired_certificate_does_not_fail_a_seal_timestamped_while_it_was_valid(
    pki: Pki, tmp_path: Path
) -> None:
    expired = expired_signing_p12(pki, tmp_path)
    with running_tsa(pki.root, quirks=Quirks(gen_time=WHILE_VALID)) as authority:
        stamped = _seal(pki, expired, tmp_path / "stamped.pdf", tsa_url=authority.url, at=WHILE_VALID)
    unstamped = _seal(pki, expired, tmp_path / "unstamped.pdf", at=WHILE_VALID)

    report = verify_seals(stamped, trust=trust_store(pki))
    (check,) = report.seals
    assert report.valid, [p.message for p in report.problems]
    assert (check.judged_by, check.judged_at) == ("timestamp", WHILE_VALID)
    assert check.timestamp is not None and check.timestamp.time == WHILE_VALID

    report = verify_seals(unstamped, trust=trust_store(pki))
    (check,) = report.seals
    assert check.judged_by == "validation-time" and check.judged_at == report.checked_at
    assert [p.code for p in report.problems] == ["certificate-expired"]
    assert "expired on 2024-12-31 00:00:00Z" in report.problems[0].message

    # The command line says the same, and which time it used.
    result = run_cli("seal", "verify", stamped, "--trust", pki.roots, "--crl", pki.crl, "--json")
    assert result.exit_code == 0, result.stdout
    seal = json.loads(result.stdout)["seals"][0]
    assert (seal["judged_by"], seal["judged_at"]) == ("timestamp", "2024-06-01 08:00:00Z")
    human = run_cli("seal", "verify", stamped, "--trust", pki.roots)
    assert "certificate judged at: 2024-06-01 08:00:00Z (the timestamp)" in human.stdout
    result = run_cli("seal", "verify", unstamped, "--trust", pki.roots, "--json")
    assert result.exit_code == exit_code_for(CertificateExpiredError) == 20
    assert json.loads(result.stdout)["seals"][0]["judged_by"] == "validation-time"


def test_a_later_validation_time_judges_a_timestamped_seal_at_its_timestamp(
    pki: Pki, tsa: LocalTsa, tmp_path: Path
) -> None:
    """Validated in 2050, after bidder-a/sign's notAfter: the timestamp (checked in 2050) carries the seal."""
    stamped = _seal(pki, pki.p12("bidder-a/sign"), tmp_path / "stamped.pdf", tsa_url=tsa.url)
    unstamped = _seal(pki, pki.p12("bidder-a/sign"), tmp_path / "unstamped.pdf")

    report = verify_seals(stamped, trust=trust_store(pki), at=LONG_AFTER)
    (check,) = report.seals
    assert report.valid, [p.message for p in report.problems]
    assert report.checked_at == LONG_AFTER
    assert check.timestamp is not None and check.timestamp.trusted
    assert check.judged_by == "timestamp" and check.judged_at == check.timestamp.time < LONG_AFTER

    report = verify_seals(unstamped, trust=trust_store(pki), at=LONG_AFTER)
    assert (report.seals[0].judged_by, report.seals[0].judged_at) == ("validation-time", LONG_AFTER)
    assert [p.code for p in report.problems] == ["certificate-expired"]


def test_a_revocation_after_the_timestamp_is_a_warning_before_it_a_problem(pki: Pki, tmp_path: Path) -> None:
    """bidder-a/sign-revoked was revoked on 2025-09-01 (keyCompromise)."""
    revoked = pki.p12("bidder-a/sign-revoked")
    before = dt.datetime(2025, 6, 1, tzinfo=UTC)
    with running_tsa(pki.root, quirks=Quirks(gen_time=before)) as authority:
        early = _seal(pki, revoked, tmp_path / "early.pdf", tsa_url=authority.url, at=before)
    report = verify_seals(early, trust=trust_store(pki))
    (check,) = report.seals
    assert report.valid, [p.message for p in report.problems]
    assert check.judged_by == "timestamp" and check.revocation.state == "good"
    assert [w.code for w in report.warnings] == ["revoked-after-timestamp"]
    assert (
        "was revoked on 2025-09-01 00:00:00Z, after the seal's timestamp 2025-06-01 00:00:00Z"
        in report.warnings[0].message
    )

    after = dt.datetime(2025, 10, 1, tzinfo=UTC)
    with running_tsa(pki.root, quirks=Quirks(gen_time=after)) as authority:
        late = _seal(pki, revoked, tmp_path / "late.pdf", tsa_url=authority.url, at=before)
    result = run_cli("seal", "verify", late, "--trust", pki.roots, "--crl", pki.crl, "--json")
    assert result.exit_code == exit_code_for(CertificateRevokedError) == 24
    seal = json.loads(result.stdout)["seals"][0]
    assert seal["judged_by"] == "timestamp" and seal["revocation"]["state"] == "revoked"


@pytest.mark.parametrize(
    ("eku", "message"),
    [
        ("not-critical", "its timestamp is not usable: the extended key usage of the TSA certificate"),
        (
            "with-server-auth",
            "its timestamp is not usable: the certificate 楚天测试时间戳服务 is not a timestamping",
        ),
    ],
)
def test_a_timestamp_that_does_not_hold_up_moves_nothing(
    pki: Pki, tmp_path: Path, eku: str, message: str
) -> None:
    """A TSA certificate outside RFC 3161 §2.3: the seal fails, and is judged at the validation time."""
    expired = expired_signing_p12(pki, tmp_path)
    identity = tsa_identity(pki.root, eku=eku)  # type: ignore[arg-type]
    with running_tsa(pki.root, identity=identity, quirks=Quirks(gen_time=WHILE_VALID)) as authority:
        stamped = _seal(pki, expired, tmp_path / "stamped.pdf", tsa_url=authority.url, at=WHILE_VALID)
    report = verify_seals(stamped, trust=trust_store(pki))
    (check,) = report.seals
    assert check.timestamp is not None and check.timestamp.valid and not check.timestamp.trusted
    assert check.judged_by == "validation-time"
    assert [p.code for p in report.problems] == [SealInvalidError.code, "certificate-expired"]
    assert message in report.problems[0].message


def test_an_untrusted_timestamp_authority_moves_nothing(pki: Pki, tmp_path: Path) -> None:
    """A token from a bidder's certificate (no timeStamping EKU) proves no time."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .tsa import TsaIdentity

    certificate = x509.load_pem_x509_certificate(pki.cert("bidder-c/sign").read_bytes())
    key = serialization.load_pem_private_key(pki.key("bidder-c/sign").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    expired = expired_signing_p12(pki, tmp_path)
    with running_tsa(
        pki.root, identity=TsaIdentity(certificate, key), quirks=Quirks(gen_time=WHILE_VALID)
    ) as authority:
        stamped = _seal(pki, expired, tmp_path / "stamped.pdf", tsa_url=authority.url, at=WHILE_VALID)
    report = verify_seals(stamped, trust=trust_store(pki))
    (check,) = report.seals
    assert check.timestamp is not None and not check.timestamp.trusted
    assert check.judged_by == "validation-time"
    assert "certificate-expired" in [p.code for p in report.problems]
