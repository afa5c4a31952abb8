"""`bidcrypt envelope encrypt|decrypt|inspect`: what a user sees, exit codes, and nothing left behind."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.envelope import read_header_file
from bidcrypt.errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    CertificateUntrustedError,
    IntegrityError,
    MalformedEnvelopeError,
    OutputExistsError,
    WrongKeyError,
    WrongKeyUsageError,
)
from tests.conftest import Pki, SoftHsm, run_bidcrypt, run_cli

from .conftest import leftovers

BID = "投标文件：报价 1,234,567.89 元\n".encode() * 2000


@pytest.fixture
def bid(tmp_path: Path) -> Path:
    path = tmp_path / "投标文件.pdf"
    path.write_bytes(BID)
    return path


def encrypt(pki: Pki, bid: Path, *extra: str, recipients: tuple[str, ...] = ("bidder-a/enc",)) -> Path:
    out = bid.with_suffix(".p7m")
    args = [a for name in recipients for a in ("--recipient", str(pki.cert(name)))]
    result = run_cli("envelope", "encrypt", bid, "-o", out, *args, *extra)
    assert result.exit_code == 0, result.output
    return out


def test_encrypt_inspect_decrypt(pki: Pki, bid: Path, pin_env: str) -> None:
    sealed = encrypt(pki, bid, recipients=("bidder-a/enc", "authority/enc"))
    inspected = run_cli("envelope", "inspect", sealed)
    assert inspected.exit_code == 0, inspected.output
    assert "authEnvelopedData" in inspected.stdout and "aes-256-gcm" in inspected.stdout
    assert inspected.stdout.count("KeyTransRecipientInfo") == 2
    for key in ("bidder-a/enc", "authority/enc"):
        out = bid.parent / f"{key.replace('/', '-')}.out"
        result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12(key))
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == BID
    assert leftovers(bid.parent) == []


def test_inspect_json(pki: Pki, bid: Path) -> None:
    sealed = encrypt(
        pki,
        bid,
        "--cipher",
        "aes-128-cbc",
        "--key-transport",
        "pkcs1v15",
        "--rid",
        "issuer-serial",
        "--der",
        recipients=("bidder-a/enc", "bidder-b/enc"),
    )
    result = run_cli("envelope", "inspect", sealed, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["content_type"] == "envelopedData"
    assert report["cipher"] == "aes-128-cbc"
    assert report["encoding"].startswith("DER")
    kinds = sorted(r["type"] for r in report["recipients"])
    assert kinds == ["KeyAgreeRecipientInfo", "KeyTransRecipientInfo"]
    rsa = next(r for r in report["recipients"] if r["type"] == "KeyTransRecipientInfo")
    assert rsa["key_transport"] == "pkcs1v15"
    assert rsa["identifier"]["serial"] == pki.index["certificates"]["bidder-a/enc"]["serial"]
    assert "楚天" in rsa["identifier"]["issuer"]
    assert report["sizes"]["encrypted_content"] == (len(BID) // 16 + 1) * 16


@pytest.mark.parametrize(
    ("certificate", "error", "text"),
    [
        ("bidder-a/sign", WrongKeyUsageError, "not allowed for encryption"),
        ("bidder-a/enc-expired", CertificateExpiredError, "expired"),
        ("bidder-a/enc-not-yet-valid", CertificateNotYetValidError, "not valid before"),
        ("rogue/enc", CertificateUntrustedError, "does not chain to a trusted CA"),
        ("bidder-a/enc-revoked", CertificateRevokedError, "revoked"),
    ],
)
def test_refused_recipients(pki: Pki, bid: Path, certificate: str, error: type[Exception], text: str) -> None:
    out = bid.parent / "out.p7m"
    trust = ["--trust", pki.roots, "--trust", pki.intermediates, "--crl", pki.crl]
    result = run_cli("envelope", "encrypt", bid, "-o", out, "--recipient", pki.cert(certificate), *trust)
    assert result.exit_code == exit_code_for(error)  # type: ignore[arg-type]
    assert text in result.stderr
    assert not out.exists() and leftovers(bid.parent) == []


def test_refusals_in_chinese(pki: Pki, bid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = run_cli(
        "envelope", "encrypt", bid, "-o", bid.parent / "x", "--recipient", pki.cert("bidder-a/sign")
    )
    assert result.exit_code == exit_code_for(WrongKeyUsageError)
    assert "不能用于加密" in result.stderr and "错误" in result.stderr


def test_the_wrong_key(pki: Pki, bid: Path, pin_env: str) -> None:
    sealed = encrypt(pki, bid)
    out = bid.parent / "out"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-a/enc-replaced"))
    assert result.exit_code == exit_code_for(WrongKeyError)
    assert "cannot be opened with this key" in result.stderr
    assert not out.exists() and leftovers(bid.parent) == []


def _tampered(sealed: Path, how: str) -> None:
    data = bytearray(sealed.read_bytes())
    header = read_header_file(sealed)
    if how == "ciphertext":
        data[header.content.offset + 1000] ^= 0x01
    elif how == "tag":
        data[header.fields_end - 1] ^= 0x80
    else:
        del data[len(data) // 2 :]
    sealed.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "error", "text"),
    [
        ("ciphertext", IntegrityError, "altered or damaged"),
        ("tag", IntegrityError, "altered or damaged"),
        ("truncated", MalformedEnvelopeError, "truncated"),
    ],
)
@pytest.mark.parametrize("framing", [(), ("--der",)])
def test_tampered_files_leave_nothing_behind(
    pki: Pki, bid: Path, pin_env: str, how: str, error: type[Exception], text: str, framing: tuple[str, ...]
) -> None:
    sealed = encrypt(pki, bid, *framing)
    _tampered(sealed, how)
    out = bid.parent / "opened.pdf"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-a/enc"))
    assert result.exit_code == exit_code_for(error)  # type: ignore[arg-type]
    assert result.exit_code != 0
    assert text in result.stderr
    assert not out.exists()
    assert leftovers(bid.parent) == []


def test_tampered_in_chinese(pki: Pki, bid: Path, pin_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = encrypt(pki, bid)
    _tampered(sealed, "ciphertext")
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    result = run_cli("envelope", "decrypt", sealed, "-o", bid.parent / "o", "--key", pki.p12("bidder-a/enc"))
    assert result.exit_code == exit_code_for(IntegrityError)
    assert "已被篡改或损坏" in result.stderr


def test_output_exists_unless_force(pki: Pki, bid: Path, pin_env: str) -> None:
    sealed = encrypt(pki, bid)
    result = run_cli("envelope", "encrypt", bid, "-o", sealed, "--recipient", pki.cert("bidder-a/enc"))
    assert result.exit_code == exit_code_for(OutputExistsError)
    (bid.parent / "out").write_text("keep me")
    result = run_cli(
        "envelope", "decrypt", sealed, "-o", bid.parent / "out", "--key", pki.p12("bidder-a/enc")
    )
    assert result.exit_code == exit_code_for(OutputExistsError)
    assert (bid.parent / "out").read_text() == "keep me"
    result = run_cli(
        "envelope", "decrypt", sealed, "-o", bid.parent / "out", "--key", pki.p12("bidder-a/enc"), "--force"
    )
    assert result.exit_code == 0 and (bid.parent / "out").read_bytes() == BID


def test_pem_input(pki: Pki, bid: Path, pin_env: str) -> None:
    sealed = encrypt(pki, bid, recipients=("bidder-b/enc",))
    pem = bid.parent / "bid.pem"
    pem.write_text(
        "-----BEGIN CMS-----\n" + base64.encodebytes(sealed.read_bytes()).decode() + "-----END CMS-----\n"
    )
    assert run_cli("envelope", "inspect", pem).exit_code == 0
    result = run_cli("envelope", "decrypt", pem, "-o", bid.parent / "out", "--key", pki.p12("bidder-b/enc"))
    assert result.exit_code == 0, result.output
    assert (bid.parent / "out").read_bytes() == BID


def test_inspect_garbage(bid: Path) -> None:
    result = run_cli("envelope", "inspect", bid)
    assert result.exit_code == exit_code_for(MalformedEnvelopeError)
    assert "not a CMS" in result.stderr


@pytest.mark.softhsm
def test_decrypt_on_the_ukey_in_a_subprocess(pki: Pki, softhsm: SoftHsm, bid: Path, pin_env: str) -> None:
    """As a user runs it: the command, the key on the (SoftHSM) UKey, the PIN from the environment."""
    sealed = encrypt(pki, bid, "--key-transport", "pkcs1v15")
    out = bid.parent / "opened.pdf"
    result = run_bidcrypt("envelope", "decrypt", sealed, "-o", out, "--key", softhsm.uri("bidder-a", "enc"))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == BID
    assert softhsm.pin not in result.stdout + result.stderr


@pytest.mark.softhsm
def test_a_transport_the_ukey_cannot_undo_says_so(
    pki: Pki, softhsm: SoftHsm, bid: Path, pin_env: str
) -> None:
    sealed = encrypt(pki, bid)  # OAEP with SHA-256, which SoftHSM2 cannot do
    result = run_cli(
        "envelope", "decrypt", sealed, "-o", bid.parent / "o", "--key", softhsm.uri("bidder-a", "enc")
    )
    # The file's key transport is the problem (a bid's outcome in a bulk opening), not the token: exit 31.
    assert result.exit_code == 31, result.output
    assert "error[key-transport-unsupported]" in result.stderr
    assert "RSAES-OAEP (SHA-256)" in result.stderr and "bidder-a cannot undo" in result.stderr
    assert not (bid.parent / "o").exists()
