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
    KeyNotFoundError,
    MalformedEnvelopeError,
    OutputExistsError,
    PaddingError,
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
@pytest.mark.parametrize("transport", ["oaep-sha1", "pkcs1v15"])
def test_tampered_files_leave_nothing_behind(
    pki: Pki,
    bid: Path,
    pin_env: str,
    how: str,
    error: type[Exception],
    text: str,
    framing: tuple[str, ...],
    transport: str,
) -> None:
    sealed = encrypt(pki, bid, *framing, "--key-transport", transport)
    _tampered(sealed, how)
    out = bid.parent / "opened.pdf"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-a/enc"))
    if transport == "pkcs1v15" and error is IntegrityError:
        # After PKCS#1 v1.5 a failed check reads exactly as a wrong key (RFC 3218, no padding oracle).
        error, text = WrongKeyError, "cannot tell a wrong key from a damaged or altered file"
    assert result.exit_code == exit_code_for(error)  # type: ignore[arg-type]
    assert result.exit_code != 0
    assert text in result.stderr
    assert not out.exists()
    assert leftovers(bid.parent) == []


def test_tampered_in_chinese(pki: Pki, bid: Path, pin_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = encrypt(pki, bid, "--key-transport", "oaep-sha1")
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
    sealed = encrypt(pki, bid, "--key-transport", "oaep")  # OAEP with SHA-256, which SoftHSM2 cannot do
    result = run_cli(
        "envelope", "decrypt", sealed, "-o", bid.parent / "o", "--key", softhsm.uri("bidder-a", "enc")
    )
    # The file's key transport is the problem (a bid's outcome in a bulk opening), not the token: exit 31.
    assert result.exit_code == 31, result.output
    assert "error[key-transport-unsupported]" in result.stderr
    assert "RSAES-OAEP (SHA-256)" in result.stderr and "bidder-a cannot undo" in result.stderr
    assert not (bid.parent / "o").exists()


# --- key transports: what the recipient's UKey decrypts ------------------------------------


def _transports(sealed: Path) -> list[str]:
    return [r.key_transport.value for r in read_header_file(sealed).recipients if r.key_transport]


def _transport_of(sealed: Path, pki: Pki, name: str) -> str:
    from bidcrypt.certs import load_certificate

    certificate = load_certificate(pki.cert(name))
    (recipient,) = [r for r in read_header_file(sealed).recipients if r.rid and r.rid.matches(certificate)]
    assert recipient.key_transport is not None
    return recipient.key_transport.value


def test_the_default_key_transport_is_the_one_every_ukey_decrypts_and_it_says_so(pki: Pki, bid: Path) -> None:
    out = bid.with_suffix(".p7m")
    result = run_cli(
        "envelope", "encrypt", bid, "-o", out,
        "--recipient", pki.cert("bidder-a/enc"), "--recipient", pki.cert("bidder-b/enc"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _transports(out) == ["pkcs1v15"]
    assert "note: RSA recipients whose UKey was not asked get PKCS#1 v1.5" in result.stderr
    assert "--key KEYREF asks the recipient's UKey" in result.stderr  # --key, formerly --for-key
    assert "pkcs1v15: the UKey could not be asked" in result.stdout
    explicit = run_cli(
        "envelope", "encrypt", bid, "-o", bid.with_suffix(".2"), "--recipient", pki.cert("bidder-a/enc"),
        "--key-transport", "oaep",
    )  # fmt: skip
    assert explicit.exit_code == 0 and _transports(bid.with_suffix(".2")) == ["oaep"]
    assert "PKCS#1 v1.5" not in explicit.stderr


@pytest.mark.softhsm
def test_for_key_asks_the_ukey_and_the_ukey_opens_the_result(
    pki: Pki, softhsm: SoftHsm, bid: Path, pin_env: str
) -> None:
    out = bid.with_suffix(".p7m")
    result = run_cli(
        "envelope", "encrypt", bid, "-o", out,
        "--recipient", pki.cert("bidder-a/enc"), "--recipient", pki.cert("authority/enc"),
        "--for-key", softhsm.uri("bidder-a", "enc"), "--key-transport", "oaep",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # SoftHSM2 decrypts OAEP with SHA-1 only: the bidder gets that, the authority what was asked.
    assert _transport_of(out, pki, "bidder-a/enc") == "oaep-sha1"
    assert _transport_of(out, pki, "authority/enc") == "oaep"
    assert "the strongest bidder-a decrypts" in result.stdout
    assert "PKCS#1 v1.5" not in result.stderr
    assert pin_env not in result.output
    opened = bid.parent / "opened"
    decrypted = run_cli("envelope", "decrypt", out, "-o", opened, "--key", softhsm.uri("bidder-a", "enc"))
    assert decrypted.exit_code == 0, decrypted.output
    assert opened.read_bytes() == BID


def test_for_key_with_a_pkcs12_key_chooses_oaep_sha256(pki: Pki, bid: Path, pin_env: str) -> None:
    out = bid.with_suffix(".p7m")
    result = run_cli(
        "envelope", "encrypt", bid, "-o", out, "--recipient", pki.cert("bidder-a/enc"),
        "--for-key", pki.p12("bidder-a/enc"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _transports(out) == ["oaep"] and result.stderr == ""


def test_for_key_that_holds_no_recipient_is_refused(pki: Pki, bid: Path, pin_env: str) -> None:
    out = bid.with_suffix(".p7m")
    result = run_cli(
        "envelope", "encrypt", bid, "-o", out, "--recipient", pki.cert("bidder-a/enc"),
        "--for-key", pki.p12("bidder-a/enc-replaced"),
    )  # fmt: skip
    assert result.exit_code == exit_code_for(KeyNotFoundError)
    assert "key of any --recipient" in result.stderr
    assert not out.exists() and leftovers(bid.parent) == []


# --- AES-CBC is not integrity-checked, and the CLI says so ---------------------------------


@pytest.mark.parametrize("recipient", ["bidder-b/enc", "bidder-a/enc"])
def test_cbc_is_said_to_be_unauthenticated(pki: Pki, bid: Path, pin_env: str, recipient: str) -> None:
    options = ("--key-transport", "oaep-sha1")
    sealed = encrypt(pki, bid, "--cipher", "aes-256-cbc", *options, recipients=(recipient,))
    inspected = json.loads(run_cli("envelope", "inspect", sealed, "--json").stdout)
    assert inspected["authenticated"] is False
    assert "integrity: none" in run_cli("envelope", "inspect", sealed).stdout
    # A flipped byte in the middle: CBC decrypts it to changed plaintext, with no error. Said so.
    data = bytearray(sealed.read_bytes())
    data[read_header_file(sealed).content.offset + 1000] ^= 0x01
    sealed.write_bytes(bytes(data))
    out = bid.parent / "opened"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12(recipient), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["authenticated"] is False
    assert "AES-CBC has no integrity check" in result.stderr
    assert out.read_bytes() != BID and len(out.read_bytes()) == len(BID)


def test_gcm_is_said_to_be_authenticated(pki: Pki, bid: Path, pin_env: str) -> None:
    sealed = encrypt(pki, bid)
    assert json.loads(run_cli("envelope", "inspect", sealed, "--json").stdout)["authenticated"] is True
    out = bid.parent / "opened"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-a/enc"))
    assert result.exit_code == 0 and "authenticated" in result.stdout and result.stderr == ""


def test_a_cbc_padding_failure_is_not_called_tampering(pki: Pki, bid: Path, pin_env: str) -> None:
    """Wrong padding: a wrong key or a damaged file, in its own words; after OAEP or ECDH, not v1.5."""
    sealed = encrypt(pki, bid, "--cipher", "aes-256-cbc", recipients=("bidder-b/enc",))
    data = bytearray(sealed.read_bytes())
    data[read_header_file(sealed).content.end - 20] ^= 0x01  # the next-to-last block: the padding
    sealed.write_bytes(bytes(data))
    out = bid.parent / "opened"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-b/enc"))
    assert result.exit_code == exit_code_for(PaddingError) == 33
    assert "error[bad-padding]" in result.stderr
    assert "content key is wrong or the file is damaged" in result.stderr
    assert "tampered" not in result.stderr and "altered" not in result.stderr
    assert not out.exists() and leftovers(bid.parent) == []


@pytest.mark.parametrize("command", ["decrypt", "encrypt"])
def test_an_interrupted_command_leaves_nothing_behind(
    pki: Pki, bid: Path, pin_env: str, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Ctrl-C (or SIGTERM, which the CLI handles like it) midway: no output, no temporary file, 130."""
    from bidcrypt.envelope import _stream

    sealed = encrypt(pki, bid, "--key-transport", "oaep-sha1")
    out = bid.parent / "out"
    calls: list[int] = []

    def interrupted(*args: object) -> int:
        calls.append(1)
        raise KeyboardInterrupt  # with the temporary output open and partly written

    if command == "encrypt":
        monkeypatch.setattr(_stream, "_read_full", interrupted)
        args = ["envelope", "encrypt", bid, "-o", out, "--recipient", pki.cert("bidder-a/enc"), "--der"]
    else:
        monkeypatch.setattr(_stream.ContentReader, "readinto", interrupted)
        args = ["envelope", "decrypt", sealed, "-o", out, "--key", pki.p12("bidder-a/enc")]
    result = run_cli(*args)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert len(calls) == 1
    assert not out.exists() and leftovers(bid.parent) == []
