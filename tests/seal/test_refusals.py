"""Every refusal of `bidcrypt seal apply`: its own error, message and exit code, and no output left."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from click.testing import Result

from bidcrypt import certs
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import (
    CertificateExpiredError,
    EncryptedPdfError,
    InputError,
    KeyCertificateMismatchError,
    NotAPdfError,
    OutputExistsError,
    PinIncorrectError,
    SealKindMismatchError,
    TimestampError,
    WrongKeyUsageError,
)

from ..conftest import Pki, SoftHsm, run_bidcrypt, run_cli
from .conftest import document, expired_signing_p12, leftovers, seal_image


def apply(
    source: Path, output: Path, key: str | Path, kind: str = "company", *extra: str, pin: str = "12345678"
) -> Result:
    return run_cli(
        "seal", "apply", source, "-o", output, "--key", key, "--kind", kind,
        "--image", seal_image("bidder-a", kind), *extra,
        env={"BIDCRYPT_PIN": pin},
    )  # fmt: skip


def test_a_file_that_is_not_a_pdf_is_refused(pki: Pki, tmp_path: Path) -> None:
    source = tmp_path / "bid.pdf"
    shutil.copy(seal_image("bidder-a", "company"), source)  # a PNG named .pdf
    result = apply(source, tmp_path / "out.pdf", pki.p12("bidder-a/sign"))
    assert result.exit_code == exit_code_for(NotAPdfError) == 40
    assert f"error[not-a-pdf]: {source} is not a PDF document" in result.stderr
    assert leftovers(tmp_path, source) == []


def test_a_truncated_pdf_is_refused_as_not_a_pdf(pki: Pki, tmp_path: Path) -> None:
    source = tmp_path / "bid.pdf"
    source.write_bytes(document().read_bytes()[:2000])
    result = apply(source, tmp_path / "out.pdf", pki.p12("bidder-a/sign"))
    assert result.exit_code == 40, result.output
    assert "is not a PDF document: cannot be read" in result.stderr
    assert leftovers(tmp_path, source) == []


def test_an_encrypted_pdf_is_refused(pki: Pki, tmp_path: Path) -> None:
    source = tmp_path / "locked.pdf"
    writer = pypdf.PdfWriter(clone_from=document())
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    with source.open("wb") as f:
        writer.write(f)
    result = apply(source, tmp_path / "out.pdf", pki.p12("bidder-a/sign"))
    assert result.exit_code == exit_code_for(EncryptedPdfError) == 41
    assert f"error[encrypted-pdf]: {source} is an encrypted PDF" in result.stderr
    assert "remove the PDF password before sealing" in result.stderr
    assert leftovers(tmp_path, source) == []


def test_an_encryption_certificate_is_refused_for_sealing(pki: Pki, tmp_path: Path) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/enc"))
    assert result.exit_code == exit_code_for(WrongKeyUsageError) == 22
    assert (
        "error[wrong-key-usage]: certificate 湖北楚天建设工程有限公司 is not allowed for signing"
        in result.stderr
    )
    assert "key usage: keyEncipherment, dataEncipherment" in result.stderr
    assert leftovers(tmp_path) == []


def test_an_expired_signing_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    p12 = expired_signing_p12(pki, keys)
    out = tmp_path / "out"
    out.mkdir()
    result = apply(document(), out / "sealed.pdf", p12)
    assert result.exit_code == exit_code_for(CertificateExpiredError) == 20
    assert (
        "error[certificate-expired]: certificate 湖北楚天建设工程有限公司 expired on 2024-12-31"
        in result.stderr
    )
    assert leftovers(out) == []


def test_a_personal_certificate_cannot_make_the_company_seal(pki: Pki, tmp_path: Path) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/legal"), "company")
    assert result.exit_code == exit_code_for(SealKindMismatchError) == 46
    assert "a company seal cannot be made with certificate 张伟: it is a person" in result.stderr
    assert "use the company's signing certificate" in result.stderr
    assert leftovers(tmp_path) == []


def test_the_company_certificate_cannot_make_the_legal_person_seal(pki: Pki, tmp_path: Path) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), "legal-person")
    assert result.exit_code == 46
    assert "a legal-person seal cannot be made with certificate 湖北楚天建设工程有限公司" in result.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.softhsm
def test_on_a_ukey_the_kind_chooses_the_certificate(softhsm: SoftHsm, pki: Pki, tmp_path: Path) -> None:
    """Without object= in the URI, the company seal takes `sign` and the legal-person seal `legal`."""
    company = apply(document(), tmp_path / "c.pdf", softhsm.uri("bidder-a"), "company", "--json")
    assert company.exit_code == 0, company.output
    assert '"signer": "湖北楚天建设工程有限公司"' in company.stdout
    legal = apply(tmp_path / "c.pdf", tmp_path / "l.pdf", softhsm.uri("bidder-a"), "legal-person", "--json")
    assert legal.exit_code == 0, legal.output
    assert '"signer": "张伟"' in legal.stdout


@pytest.mark.softhsm
def test_a_key_that_does_not_belong_to_its_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    """On a UKey whose `sign` container holds a new certificate beside the old key."""
    new, old = (
        certs.load_certificate(pki.cert("bidder-a/sign-changed")),
        certs.load_certificate(pki.cert("bidder-a/sign")),
    )
    assert not certs.same_public_key(new, old)
    tokens = tmp_path / "ukey"
    provisioning = subprocess.run(
        [sys.executable, Path(__file__).parent / "mismatched_token.py", tokens],
        capture_output=True,
        text=True,
        check=True,
    )
    config = provisioning.stdout.strip().splitlines()[-1]
    out = tmp_path / "out"
    out.mkdir()
    result = run_bidcrypt(
        "seal", "apply", document(), "-o", out / "sealed.pdf",
        "--key", "pkcs11:token=mismatched;object=sign?module-path=/usr/lib/softhsm/libsofthsm2.so",
        "--kind", "company", "--image", seal_image("bidder-a", "company"),
        env={"SOFTHSM2_CONF": config, "BIDCRYPT_PIN": pki.pin, "LANG": "C.UTF-8"},
    )  # fmt: skip
    assert result.returncode == exit_code_for(KeyCertificateMismatchError) == 42, result.stderr
    assert (
        "error[key-certificate-mismatch]: the private key does not match certificate 湖北楚天建设集团有限公司"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert leftovers(out) == []


def test_an_existing_output_is_not_overwritten(pki: Pki, tmp_path: Path) -> None:
    output = tmp_path / "out.pdf"
    output.write_bytes(b"keep me")
    result = apply(document(), output, pki.p12("bidder-a/sign"))
    assert result.exit_code == exit_code_for(OutputExistsError) == 4
    assert output.read_bytes() == b"keep me"
    assert leftovers(tmp_path, output) == []


def test_a_missing_document_is_an_input_error(pki: Pki, tmp_path: Path) -> None:
    result = apply(tmp_path / "nowhere.pdf", tmp_path / "out.pdf", pki.p12("bidder-a/sign"))
    assert result.exit_code == exit_code_for(InputError) == 3
    assert leftovers(tmp_path) == []


def test_a_page_the_document_lacks_is_refused(pki: Pki, tmp_path: Path) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), "company", "--page", "2,9")
    assert result.exit_code == 3
    assert "the document has 4 page(s); there is no page 9" in result.stderr
    assert leftovers(tmp_path) == []


def test_a_box_off_the_page_is_refused(pki: Pki, tmp_path: Path) -> None:
    result = apply(
        document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), "company", "--box", "500,700,700,800"
    )
    assert result.exit_code == 3
    assert "the box 500,700,700,800 is not inside page 4 (0,0,595,842)" in result.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("option", "value"), [("--page", "first"), ("--page", "0"), ("--box", "1,2,3"), ("--box", "9,9,1,1")]
)
def test_malformed_placement_is_a_usage_error(pki: Pki, tmp_path: Path, option: str, value: str) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), "company", option, value)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr
    assert leftovers(tmp_path) == []


def test_an_unreachable_timestamp_authority_leaves_nothing(pki: Pki, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tsa"
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), "company", "--tsa", url)
    assert result.exit_code == exit_code_for(TimestampError) == 6
    assert f"error[timestamp-failed]: the timestamp authority {url} failed" in result.stderr
    assert leftovers(tmp_path) == []


def test_refusals_are_explained_in_chinese_under_a_chinese_locale(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/enc"))
    assert result.exit_code == 22
    assert "错误[wrong-key-usage]: 证书 湖北楚天建设工程有限公司 不能用于签名" in result.stderr
    legal = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/legal"), "company")
    assert "不能用证书 张伟 加盖公章：该证书属于个人" in legal.stderr
    assert leftovers(tmp_path) == []


def test_a_wrong_pin_is_refused_once_and_never_shown(pki: Pki, tmp_path: Path) -> None:
    result = apply(document(), tmp_path / "out.pdf", pki.p12("bidder-a/sign"), pin="a-secret-pin")
    assert result.exit_code == exit_code_for(PinIncorrectError) == 13
    assert "a-secret-pin" not in result.output + result.stderr
    assert leftovers(tmp_path) == []
