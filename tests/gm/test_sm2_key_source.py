"""SM2 certificates and PKCS#12 files behind the ordinary interfaces (certs, KeySource)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from bidcrypt import certs, gm
from bidcrypt.errors import MechanismUnsupportedError, PinIncorrectError, WrongKeyError
from bidcrypt.keys import PinSource, open_key_source

VECTORS = Path(__file__).parent / "vectors"


def _certificate(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((VECTORS / "pki" / f"{name}.pem").read_bytes())


def test_an_sm2_certificate_has_an_sm2_public_key() -> None:
    enc, sign = _certificate("bidder-enc"), _certificate("bidder-sign")
    assert isinstance(certs.public_key(enc), gm.Sm2PublicKey)
    assert certs.is_sm2(enc) and certs.key_description(enc) == "SM2"
    assert certs.purposes(enc) == {certs.Purpose.ENCRYPTION}
    assert certs.purposes(sign) == {certs.Purpose.SIGNING}
    assert (
        certs.subject_key_identifier(enc)
        == enc.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert not certs.same_public_key(enc, sign)
    assert certs.credit_code(enc) == (VECTORS / "pki" / "bidder.uscc").read_text().strip()


def test_an_sm2_pkcs12_file_unwraps_and_signs() -> None:
    with open_key_source(VECTORS / "pki" / "bidder-enc.p12", PinSource.of_value("gm-vectors")) as source:
        entry = source.entry(certs.Purpose.ENCRYPTION)
        wrapped = (VECTORS / "sm2" / "cipher-key32-1.der").read_bytes()
        assert entry.sm2_decrypt(wrapped) == bytes(range(32))
        with pytest.raises(WrongKeyError):
            entry.sm2_decrypt(gm.Sm2PrivateKey.generate().public_key().encrypt(b"x" * 16))
        with pytest.raises(MechanismUnsupportedError):
            entry.rsa_decrypt(b"\x00" * 256, "pkcs1v15")
    with open_key_source(VECTORS / "pki" / "bidder-sign.p12", PinSource.of_value("gm-vectors")) as source:
        entry = source.entry(certs.Purpose.SIGNING)
        signature = entry.sign(b"manifest", "sm3")
        public = certs.public_key(entry.certificate)
        assert isinstance(public, gm.Sm2PublicKey)
        public.verify(signature, b"manifest")
        with pytest.raises(MechanismUnsupportedError):
            entry.sign(b"manifest", "sha256")


def test_a_wrong_password_for_an_sm2_pkcs12_file_is_a_wrong_pin() -> None:
    with (
        pytest.raises(PinIncorrectError),
        open_key_source(VECTORS / "pki" / "bidder-enc.p12", PinSource.of_value("wrong")) as source,
    ):
        source.entries()


def test_without_the_system_libcrypto_sm2_is_a_clear_machine_error(tmp_path: Path) -> None:
    """No OpenSSL 3 on the machine: SM2 work stops with exit 10 and what to install, never a crash."""
    from tests.conftest import run_bidcrypt

    missing = {"BIDCRYPT_LIBCRYPTO": str(tmp_path / "no-libcrypto.so"), "BIDCRYPT_PIN": "gm-vectors"}
    doctor = run_bidcrypt("doctor", "--key", VECTORS / "pki" / "bidder-enc.p12", env=missing)
    assert doctor.returncode == 10, doctor.stderr
    shown = doctor.stdout + doctor.stderr
    assert "OpenSSL 3" in shown and "BIDCRYPT_LIBCRYPTO" in shown
    decrypt = run_bidcrypt(
        "envelope", "decrypt", VECTORS / "cms" / "env-short.der", "-o", tmp_path / "short.txt",
        "--key", VECTORS / "pki" / "bidder-enc.p12", env=missing,
    )  # fmt: skip
    assert decrypt.returncode == 10, decrypt.stderr
    assert not (tmp_path / "short.txt").exists()
    # Nothing of SM2 is touched reading a GM envelope's header: that still works.
    inspect = run_bidcrypt("envelope", "inspect", VECTORS / "cms" / "env-short.der", env=missing)
    assert inspect.returncode == 0, inspect.stderr
