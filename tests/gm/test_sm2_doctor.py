"""`bidcrypt doctor` on SM2 key sources: PKCS#12 and PEM files, and a PKCS#11 token that cannot do SM2."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bidcrypt import certs
from bidcrypt.cli.exit_codes import EXIT_CODES
from bidcrypt.doctor import SM2_TRANSPORT, examine
from bidcrypt.errors import CertificateMissingError, KeyNotFoundError, PinIncorrectError, WrongKeyUsageError
from bidcrypt.keys import PinSource

from ..conftest import Pki, require_tool, run_bidcrypt

VECTORS = Path(__file__).parent / "vectors"
PKI = VECTORS / "pki"
PASSWORD = "gm-vectors"
CODE = (PKI / "bidder.uscc").read_text().strip()
#: Inside the vectors' validity (2026-11-30 to 2031-11-29): the CLI runs see their clock set here.
WHEN = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


def _examine(name: str, login: bool = True, password: str = PASSWORD) -> dict:  # type: ignore[type-arg]
    report = examine(
        PKI / name, pin_source=PinSource.of_value(password), expect_uscc=CODE, at=WHEN, login=login
    )
    return json.loads(json.dumps(report.to_dict(), default=str))  # as --json prints it


def _problems(report: dict) -> list[str]:  # type: ignore[type-arg]
    return [f["code"] for f in report["findings"] if f["level"] == "problem"]


@pytest.mark.parametrize("name", ["bidder-enc.p12", "bidder-enc.gmssl.key.pem", "bidder-enc.key.pem"])
def test_an_sm2_encryption_key_file(name: str) -> None:
    report = _examine(name)
    [check] = report["certificates"]
    summary = check["summary"]
    assert summary["key"] == "SM2"
    assert summary["purposes"] == ["encryption"]
    assert summary["key_usage"] == ["keyEncipherment", "dataEncipherment", "keyAgreement"]
    assert summary["credit_code"] == CODE
    assert summary["company"] == "杭州钱江测试建设有限公司"
    assert summary["issuer"] == "GM Test Root CA"
    assert (summary["not_before"], summary["not_after"]) == ("2026-11-30 02:59:11Z", "2031-11-29 02:59:11Z")
    assert check["valid_now"] and check["private_key"]
    assert check["key_transports"] == [SM2_TRANSPORT]  # the SM2 round trip worked
    codes = [f["code"] for f in report["findings"]]
    assert "key-file" in codes and "identity" in codes and "encryption-certificate" in codes
    # one file holds one certificate: the signing one is missing, and nothing else is wrong
    assert _problems(report) == [CertificateMissingError.code]


@pytest.mark.parametrize("name", ["bidder-sign.p12", "bidder-sign.gmssl.key.pem"])
def test_an_sm2_signing_key_file(name: str) -> None:
    report = _examine(name)
    [check] = report["certificates"]
    assert check["summary"]["purposes"] == ["signing"]
    assert check["summary"]["key_usage"] == ["digitalSignature", "nonRepudiation"]
    assert check["private_key"] and check["key_transports"] == []
    assert _problems(report) == [CertificateMissingError.code]


def test_outside_the_validity_the_certificate_is_named() -> None:
    report = examine(
        PKI / "bidder-enc.p12",
        pin_source=PinSource.of_value(PASSWORD),
        at=dt.datetime(2032, 1, 1, tzinfo=dt.UTC),
    ).to_dict()
    assert report["certificates"][0]["valid_now"] is False
    assert "certificate-expired" in _problems(report)


def test_a_wrong_password_is_one_problem_and_never_shown() -> None:
    report = _examine("bidder-enc.gmssl.key.pem", password="wrong-secret")
    assert _problems(report) == [PinIncorrectError.code]
    assert "wrong-secret" not in json.dumps(report, ensure_ascii=False)


def _cli(
    *args: str, language: str = "en", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    variables = {"BIDCRYPT_PIN": PASSWORD, "BIDCRYPT_LANG": language, **(env or {})}
    return run_bidcrypt("doctor", *args, env=variables, clock_at=WHEN)


def test_the_text_report_in_english() -> None:
    result = _cli("--key", str(PKI / "bidder-enc.gmssl.key.pem"), "--expect-uscc", CODE, "--login")
    assert result.returncode == EXIT_CODES[CertificateMissingError], result.stderr
    out = result.stdout
    assert "key file bidder-enc.gmssl.key.pem read" in out
    assert "[bidder-enc] encryption: 杭州钱江测试建设有限公司" in out
    assert f"credit code: {CODE}" in out and "issuer: GM Test Root CA" in out
    assert "2026-11-30 02:59:11Z — 2031-11-29 02:59:11Z (valid)   SM2" in out
    assert "private key present   decrypts: sm2" in out
    assert f"credit code {CODE} matches" in out
    assert "holds no valid signing certificate" in result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stdout + result.stderr


def test_the_text_report_in_chinese() -> None:
    result = _cli("--key", str(PKI / "bidder-sign.p12"), "--expect-uscc", CODE, language="zh")
    assert result.returncode == EXIT_CODES[CertificateMissingError], result.stderr
    out = result.stdout
    assert "[bidder-sign] 签名: 杭州钱江测试建设有限公司" in out
    assert f"信用代码: {CODE}" in out and "颁发者: GM Test Root CA" in out
    assert "(有效)   SM2" in out
    assert f"统一社会信用代码 {CODE} 一致" in out
    assert "中没有有效的加密证书" in result.stderr


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_json_report(language: str) -> None:
    result = _cli("--key", str(PKI / "bidder-enc.key.pem"), "--login", "--json", language=language)
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    [check] = report["certificates"]
    assert check["summary"]["key"] == "SM2" and check["summary"]["credit_code"] == CODE
    assert check["key_transports"] == [SM2_TRANSPORT]
    [missing] = [f for f in report["findings"] if f["level"] == "problem"]
    assert missing["code"] == "certificate-missing"
    assert ("signing certificate" if language == "en" else "签名证书") in missing["message"]


def test_a_wrong_password_on_the_command_line() -> None:
    result = _cli("--key", str(PKI / "bidder-enc.gmssl.key.pem"), env={"BIDCRYPT_PIN": "wrong-secret"})
    assert result.returncode == EXIT_CODES[PinIncorrectError]
    assert "refused by bidder-enc.gmssl.key.pem" in result.stderr
    assert "wrong-secret" not in result.stdout + result.stderr


# --- a PKCS#11 token carrying an SM2 certificate --------------------------------------------------


@pytest.fixture(scope="module")
def sm2_token(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SoftHSM2 token of its own holding the vectors' SM2 encryption certificate.

    SoftHSM2 has no SM2, and ``pkcs11-tool`` cannot even import an SM2
    private key ("Unsupported key type"): the token holds the certificate only.
    """
    if not Path(SOFTHSM).exists():
        require_tool("softhsm2-util-is-missing")
    directory = tmp_path_factory.mktemp("sm2-token")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    subprocess.run(
        [require_tool("softhsm2-util"), "--init-token", "--free", "--label", "sm2-bidder", "--pin", "123456",
         "--so-pin", "12345678"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [require_tool("pkcs11-tool"), "--module", SOFTHSM, "--token-label", "sm2-bidder", "--login",
         "--pin", "123456", "--write-object", str(PKI / "bidder-enc.der"), "--type", "cert",
         "--label", "enc", "--id", "01"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return config


def test_doctor_lists_the_sm2_certificate_on_a_pkcs11_token(sm2_token: Path) -> None:
    uri = f"pkcs11:token=sm2-bidder?module-path={SOFTHSM}"
    env = {"SOFTHSM2_CONF": str(sm2_token), "BIDCRYPT_PIN": "123456"}
    result = run_bidcrypt("doctor", "--key", uri, "--json", env=env, clock_at=WHEN)
    report = json.loads(result.stdout)
    [check] = report["certificates"]
    assert check["label"] == "enc" and check["summary"]["key"] == "SM2"
    assert check["summary"]["credit_code"] == CODE
    login = run_bidcrypt("doctor", "--key", uri, "--login", "--json", env=env, clock_at=WHEN)
    assert "Traceback" not in login.stderr
    assert KeyNotFoundError.code in _problems(json.loads(login.stdout))  # no SM2 key could be put there


def test_a_pkcs11_entry_refuses_sm2_clearly(sm2_token: Path) -> None:
    """Signing or decrypting with an SM2 certificate's key on PKCS#11: a clear refusal, never a crash."""
    script = (
        "import sys\n"
        "from bidcrypt.errors import MechanismUnsupportedError\n"
        "from bidcrypt.keys import PinSource, open_key_source\n"
        f"uri = 'pkcs11:token=sm2-bidder?module-path={SOFTHSM}'\n"
        "source = open_key_source(uri, PinSource.of_value('123456'))\n"
        "entry = source.entry()\n"
        "for operation in (lambda: entry.sign(b'x', 'sm3'), lambda: entry.sm2_decrypt(b'0' * 120),\n"
        "                  lambda: entry.sm2_sign_digest(bytes(32))):\n"
        "    try:\n"
        "        operation()\n"
        "    except MechanismUnsupportedError as error:\n"
        "        print(error.code, error.message('en'))\n"
        "print(entry.claimed_rsa_schemes(), entry.probe_rsa_schemes())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "SOFTHSM2_CONF": str(sm2_token)},
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout + result.stderr
    for line in lines[:3]:
        assert line.startswith("mechanism-unsupported ")
        assert "holds an SM2 key, and PKCS#11" in line and "has no SM2 mechanism" in line
    assert lines[3] == "() ()"


# --- purposes of SM2 certificates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "purposes"),
    [
        ("digitalSignature,nonRepudiation", {"signing"}),
        ("nonRepudiation", {"signing"}),
        ("keyEncipherment,dataEncipherment,keyAgreement", {"encryption"}),
        ("dataEncipherment", {"encryption"}),
        ("keyAgreement", {"encryption"}),
        ("digitalSignature,keyEncipherment", {"signing", "encryption"}),
        ("cRLSign", set()),
    ],
)
def test_the_purposes_of_an_openssl_sm2_certificate(tmp_path: Path, usage: str, purposes: set[str]) -> None:
    openssl = require_tool("openssl")
    subprocess.run([openssl, "genpkey", "-algorithm", "SM2", "-out", "k.pem"], cwd=tmp_path, check=True)
    subprocess.run(
        [openssl, "req", "-new", "-x509", "-key", "k.pem", "-sm3", "-sigopt", "distid:1234567812345678",
         "-days", "30", "-subj", f"/C=CN/O=Purpose Test/OU={CODE}/CN=purpose-test",
         "-addext", f"keyUsage=critical,{usage}", "-out", "c.pem"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    certificate = certs.load_certificate(tmp_path / "c.pem")
    assert {p.value for p in certs.purposes(certificate)} == purposes
    assert certs.credit_code(certificate) == CODE and certs.key_description(certificate) == "SM2"
    for purpose in certs.Purpose:
        if purpose.value in purposes:
            certs.require_purpose(certificate, purpose)
        else:
            with pytest.raises(WrongKeyUsageError) as caught:
                certs.require_purpose(certificate, purpose)
            assert caught.value.params["usage"] == ", ".join(certs.key_usage_names(certificate)) or "-"


# --- the SM2 fixture PKI (fixtures/pki/sm2): credit codes wherever the CA put them ------------------

FIXTURE_TIME = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "bidder", ["sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c"]
)  # OU, orgId, serialNumber
@pytest.mark.parametrize("kind", ["sign", "enc"])
def test_the_sm2_fixture_bidders_identity(pki: Pki, bidder: str, kind: str) -> None:
    code = pki.company(bidder)["credit_code"]
    for reference in (pki.key(f"{bidder}/{kind}"), pki.p12(f"{bidder}/{kind}")):
        report = examine(
            reference,
            pin_source=PinSource.of_value(pki.index["p12_password"]),
            expect_uscc=code,
            at=FIXTURE_TIME,
            login=True,
        ).to_dict()
        report = json.loads(json.dumps(report, default=str))  # as --json prints it
        [check] = report["certificates"]
        assert check["summary"]["credit_code"] == code and check["summary"]["key"] == "SM2"
        assert check["summary"]["company"] == pki.company(bidder)["name"]
        assert check["key_transports"] == ([SM2_TRANSPORT] if kind == "enc" else [])
        assert "identity" in [f["code"] for f in report["findings"] if f["level"] == "ok"]
        assert _problems(report) == [CertificateMissingError.code]  # the other of the pair


def test_a_wrong_expected_credit_code_is_named(pki: Pki) -> None:
    report = examine(
        pki.key("sm2/bidder-a/enc"), expect_uscc=pki.company("sm2/bidder-b")["credit_code"], at=FIXTURE_TIME
    ).to_dict()
    assert "identity-mismatch" in _problems(report)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("sm2/bidder-a/enc-expired", "certificate-expired"),
        ("sm2/bidder-a/enc-not-yet-valid", "certificate-not-yet-valid"),
    ],
)
def test_an_sm2_certificate_outside_its_validity(pki: Pki, name: str, problem: str) -> None:
    report = examine(pki.key(name), at=FIXTURE_TIME).to_dict()
    assert report["certificates"][0]["valid_now"] is False
    assert problem in _problems(report)
