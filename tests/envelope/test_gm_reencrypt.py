"""Re-encrypting GM/T 0010 envelopes: rewrap and fresh key, SM2 to SM2 and beside RSA; the CLI round trip."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bidcrypt.envelope import (
    EnvelopeBuilder,
    decrypt_file,
    read_header_file,
    reencrypt,
    reencrypt_fresh,
)
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.gm import oids
from tests.conftest import run_cli
from tests.envelope.conftest import P12, RSA, Cert
from tests.envelope.gm_helpers import PASSWORD, SHORT_SHA256, sha256, skeleton, vector
from tests.gm.envelope_pki import Sm2Ca, vector_identity

BIDDER = vector_identity()


def test_a_gmssl_envelope_is_rewrapped_to_a_new_sm2_key_as_gm_t_0010(tmp_path: Path) -> None:
    """After a replaced UKey: the vector's content key goes to the new certificate, the content stays."""
    replacement = Sm2Ca().issue("new UKey")
    result = reencrypt(
        vector("cms/env-short.der"), tmp_path / "new.der", BIDDER.entry(), [replacement.certificate]
    )
    assert result.kept == 0 and not result.fresh_key
    header = read_header_file(tmp_path / "new.der")
    assert header.content_type == oids.GM_ENVELOPED_DATA and header.version == 1 and not header.indefinite
    old = vector("cms/env-short.der").read_bytes()
    new = (tmp_path / "new.der").read_bytes()
    assert old[-192:] == new[-192:]  # the ciphertext, untouched
    assert [s[:2] for s in skeleton(new)] == [s[:2] for s in skeleton(old)]
    decrypt_file(tmp_path / "new.der", tmp_path / "plain", replacement.entry())
    assert sha256((tmp_path / "plain").read_bytes()) == SHORT_SHA256


def test_a_gm_envelope_keeps_its_other_recipients_when_rewrapped(
    tmp_path: Path, cert: Cert, p12: P12
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"with an authority")
    EnvelopeBuilder().add_recipient(BIDDER.certificate).add_recipient(cert(RSA)).encrypt_file(
        source, tmp_path / "env.der"
    )
    replacement = Sm2Ca().issue("replacement")
    result = reencrypt(
        tmp_path / "env.der",
        tmp_path / "new.der",
        BIDDER.entry(),
        [replacement.certificate],
        keep_others=True,
    )
    assert result.kept == 1
    for keys in (replacement.entry(), p12(RSA)):
        out = tmp_path / f"out-{id(keys)}"
        decrypt_file(tmp_path / "new.der", out, keys)
        assert out.read_bytes() == b"with an authority"
    assert read_header_file(tmp_path / "new.der").version == 1


def test_a_fresh_key_re_encryption_of_a_gm_envelope(tmp_path: Path) -> None:
    replacement = Sm2Ca().issue("after a theft")
    result = reencrypt_fresh(
        vector("cms/env-bulk-100k.der"), tmp_path / "new", BIDDER.entry(), [replacement.certificate]
    )
    assert result.fresh_key
    header = read_header_file(tmp_path / "new")
    assert header.content_type == oids.GM_ENVELOPED_DATA and header.inner_content_type == oids.GM_DATA
    decrypt_file(tmp_path / "new", tmp_path / "plain", replacement.entry())
    assert (tmp_path / "plain").read_bytes() == vector("data/bulk-100k.bin").read_bytes()


def test_an_sm2_recipient_is_refused_in_an_aes_envelope(tmp_path: Path, cert: Cert, p12: P12) -> None:
    """The suite is fixed when the envelope is made: SM2 goes in GM/T 0010 only, both ways refused cleanly."""
    source = tmp_path / "in.bin"
    source.write_bytes(b"aes")
    EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_file(source, tmp_path / "aes.p7m")
    for rewrap in (reencrypt, reencrypt_fresh):
        with pytest.raises(UnsupportedAlgorithmError, match="GM/T 0010"):
            rewrap(tmp_path / "aes.p7m", tmp_path / "out", p12(RSA), [BIDDER.certificate])
        assert not (tmp_path / "out").exists()


def test_the_cli_encrypts_inspects_and_decrypts_a_gm_envelope(tmp_path: Path) -> None:
    envelope, plain = tmp_path / "e.der", tmp_path / "plain.txt"
    encrypted = run_cli(
        "envelope", "encrypt", vector("data/short.txt"), "-o", envelope,
        "--recipient", vector("pki/bidder-enc.pem"), "--sm2-oid", "301.3", "--json",
    )  # fmt: skip
    assert encrypted.exit_code == 0, encrypted.output
    report = json.loads(encrypted.stdout)
    assert report["cipher"] == "sm4-cbc" and report["suite"] == "GM/T 0010"
    assert report["recipients"][0]["key_transport"] == "sm2"
    assert "SM4-CBC has no integrity check" in encrypted.stderr
    inspected = run_cli("envelope", "inspect", envelope, "--json")
    assert inspected.exit_code == 0, inspected.output
    header = json.loads(inspected.stdout)
    assert header["suite"] == "GM/T 0010 EnvelopedData (SM2 / SM4-CBC)"
    assert header["content_type_oid"] == oids.GM_ENVELOPED_DATA and header["version"] == 1
    assert header["encoding"].startswith("DER")
    (recipient,) = header["recipients"]
    assert recipient["algorithm_oid"] == oids.SM2_ENCRYPT and recipient["sm2_encryption"] == "301.3"
    assert "serial" in recipient["identifier"]
    text = run_cli("envelope", "inspect", envelope)
    assert "suite: GM/T 0010 EnvelopedData (SM2 / SM4-CBC)" in text.stdout
    decrypted = run_cli(
        "envelope", "decrypt", envelope, "-o", plain, "--key", vector("pki/bidder-enc.p12"), "--json",
        env={"BIDCRYPT_PIN": PASSWORD},
    )  # fmt: skip
    assert decrypted.exit_code == 0, decrypted.output
    assert json.loads(decrypted.stdout)["cipher"] == "sm4-cbc"
    assert json.loads(decrypted.stdout)["suite"] == "GM/T 0010"
    assert sha256(plain.read_bytes()) == SHORT_SHA256


def test_the_cli_refuses_an_aes_cipher_for_an_sm2_recipient(tmp_path: Path) -> None:
    result = run_cli(
        "envelope", "encrypt", vector("data/short.txt"), "-o", tmp_path / "e",
        "--recipient", vector("pki/bidder-enc.pem"), "--cipher", "aes-256-gcm",
    )  # fmt: skip
    assert result.exit_code == 31, result.output
    assert "GM/T 0010" in result.output and not (tmp_path / "e").exists()


def test_a_package_like_gm_envelope_is_rewrapped_in_place(tmp_path: Path) -> None:
    """BER with room before the content and attributes in unprotectedAttrs, as a GM package is."""
    attribute = ("2.25.149577572356276075589610191221236026354.1.2", b"\x0c\x03T-1")
    envelope = tmp_path / "bid.der"
    builder = (
        EnvelopeBuilder()
        .add_recipient(BIDDER.certificate)
        .add_unauthenticated_attribute(attribute[0], attribute[1])
        .set_der(False)
        .set_reserve(1024)
        .set_chunk_size(64)
    )
    with envelope.open("wb") as sink:
        builder.encrypt(io.BytesIO(b"bundle" * 50), sink)
    before = read_header_file(envelope)
    assert before.indefinite and before.version == 1 and not before.is_authenticated
    assert before.unauthenticated_attributes[0].values == (attribute[1],)
    replacement = Sm2Ca().issue("in place")
    reencrypt(envelope, None, BIDDER.entry(), [replacement.certificate])
    after = read_header_file(envelope)
    assert after.content.end == before.content.end and after.version == 1  # the ciphertext stayed
    assert after.content_type == oids.GM_ENVELOPED_DATA
    assert after.unauthenticated_attributes == before.unauthenticated_attributes
    decrypt_file(envelope, tmp_path / "plain", replacement.entry())
    assert (tmp_path / "plain").read_bytes() == b"bundle" * 50
