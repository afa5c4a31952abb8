"""PEM key files as key sources (SM2, RSA, EC): every form, the certificate beside, and every refusal."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos, core, pem
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt import certs, gm
from bidcrypt.errors import (
    BidcryptError,
    InputError,
    KeyCertificateMismatchError,
    KeyNotFoundError,
    PinIncorrectError,
    PinUnavailableError,
)
from bidcrypt.keys import (
    KeySource,
    PinSource,
    open_key_source,
    sm2_signature_der,
    sm2_signing_digest,
)
from bidcrypt.keys.pem_file import PemSource, certificate_files
from bidcrypt.keys.pem_keys import MAX_ITERATIONS

from ..conftest import Pki, require_tool, run_cli

VECTORS = Path(__file__).parent / "vectors"
PKI = VECTORS / "pki"
PASSWORD = "gm-vectors"


def _open(path: Path, password: str | None = PASSWORD) -> KeySource:
    pins = PinSource.of_value(password) if password is not None else PinSource(interactive=False)
    return open_key_source(path, pins)


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run([require_tool("openssl"), *map(str, args)], cwd=cwd, check=True, capture_output=True)


# --- the GM vectors' PKI -------------------------------------------------------------------------


@pytest.mark.parametrize("key_file", ["bidder-enc.key.pem", "bidder-enc.gmssl.key.pem"])
def test_the_vectors_encryption_key_unwraps_gmssl_ciphertexts(key_file: str) -> None:
    with _open(PKI / key_file) as source:
        entry = source.entry(certs.Purpose.ENCRYPTION)
        assert certs.key_description(entry.certificate) == "SM2"
        assert entry.certificate == x509.load_pem_x509_certificate((PKI / "bidder-enc.pem").read_bytes())
        for index in (1, 2, 3):
            wrapped = (VECTORS / "sm2" / f"cipher-key32-{index}.der").read_bytes()
            assert entry.sm2_decrypt(wrapped) == bytes(range(32))
        assert entry.claimed_rsa_schemes() == ()
        assert entry.probe_rsa_schemes() == ()


@pytest.mark.parametrize("key_file", ["bidder-sign.key.pem", "bidder-sign.gmssl.key.pem"])
def test_the_vectors_signing_key_signs_sm2_with_sm3(key_file: str) -> None:
    with _open(PKI / key_file) as source:
        entry = source.entry(certs.Purpose.SIGNING)
        public = certs.public_key(entry.certificate)
        assert isinstance(public, gm.Sm2PublicKey)
        data = (VECTORS / "data" / "short.txt").read_bytes()
        public.verify(entry.sign(data, "sm3"), data)
        # the precomputed-e path a token that signs only e (SKF) takes gives a standard signature too
        public.verify(entry.sm2_sign_digest(sm2_signing_digest(entry.certificate, data)), data)
        # and GmSSL's own signature of the same data is over the same e
        public.verify_digest(
            (VECTORS / "sm2" / "sig-short.der").read_bytes(), sm2_signing_digest(public, data)
        )


def test_a_wrong_password_for_a_gmssl_key_is_a_wrong_pin_and_never_shown() -> None:
    secret = "not-the-password-é"
    with (
        pytest.raises(PinIncorrectError) as caught,
        _open(PKI / "bidder-enc.gmssl.key.pem", secret) as source,
    ):
        source.entries()
    for language in ("en", "zh"):
        assert secret not in caught.value.message(language)
    assert secret not in repr(caught.value.to_json())


def test_an_encrypted_key_without_a_password_is_pin_unavailable() -> None:
    with pytest.raises(PinUnavailableError), _open(PKI / "bidder-enc.gmssl.key.pem", None) as source:
        source.entries()


def test_key_certificate_and_chain_in_one_file(tmp_path: Path) -> None:
    combined = tmp_path / "bidder.pem"
    combined.write_bytes(
        b"".join(
            (PKI / n).read_bytes() for n in ("root-ca.pem", "bidder-enc.gmssl.key.pem", "bidder-enc.pem")
        )
    )
    with _open(combined) as source:
        assert isinstance(source, PemSource)
        entry = source.entry()
        assert certs.common_name(entry.certificate) == "杭州钱江测试建设有限公司"
        assert [certs.common_name(c) for c in source.chain] == ["GM Test Root CA"]


def test_the_certificate_beside_the_key_is_found_by_name(tmp_path: Path) -> None:
    assert [p.name for p in certificate_files(tmp_path / "bidder-enc.gmssl.key.pem")] == [
        "bidder-enc.pem",
        "bidder-enc.crt",
        "bidder-enc.cer",
    ]
    assert [p.name for p in certificate_files(tmp_path / "key.pem")] == ["cert.pem", "key.crt", "key.cer"]
    (tmp_path / "key.pem").write_bytes((PKI / "bidder-sign.key.pem").read_bytes())
    (tmp_path / "cert.pem").write_bytes((PKI / "bidder-sign.pem").read_bytes())
    with _open(tmp_path / "key.pem", None) as source:  # unencrypted: no password is asked
        assert certs.purposes(source.entry().certificate) == {certs.Purpose.SIGNING}


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "bidder-enc.key.pem"
    wrong.write_bytes((PKI / "bidder-sign.key.pem").read_bytes())
    (tmp_path / "bidder-enc.pem").write_bytes((PKI / "bidder-enc.pem").read_bytes())
    with pytest.raises(KeyCertificateMismatchError), _open(wrong) as source:
        source.entries()
    combined = tmp_path / "combined.pem"
    combined.write_bytes((PKI / "root-ca.key.pem").read_bytes() + (PKI / "bidder-enc.pem").read_bytes())
    with pytest.raises(KeyCertificateMismatchError, match="does not match"), _open(combined) as source:
        source.entries()


def test_a_key_without_any_certificate_or_a_certificate_without_a_key(tmp_path: Path) -> None:
    alone = tmp_path / "lonely.key.pem"
    alone.write_bytes((PKI / "bidder-enc.key.pem").read_bytes())
    with pytest.raises(KeyNotFoundError, match="certificate"), _open(alone) as source:
        source.entries()
    only_certificate = tmp_path / "only.pem"
    only_certificate.write_bytes((PKI / "bidder-enc.pem").read_bytes())
    with pytest.raises(KeyNotFoundError, match="certificates only: name the file of the private key"):
        _open(only_certificate).entries()


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"\x00junk" * 50, "not a PKCS#12 file"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "key cannot be read"),
        (b"-----BEGIN PRIVATE KEY-----\nMIIB\n", "not a PEM key file"),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAMCAQE=\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "cannot be read",
        ),
        (
            b"-----BEGIN EC PRIVATE KEY-----\n" + b"QUJD" * 20 + b"\n-----END EC PRIVATE KEY-----\n",
            "cannot be read",
        ),
    ],
)
def test_junk_is_an_input_error(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "junk.pem"
    path.write_bytes(content)
    (tmp_path / "junk.crt").write_bytes((PKI / "bidder-enc.pem").read_bytes())  # the certificate beside
    with pytest.raises(InputError, match=phrase), _open(path) as source:
        source.entries()


def test_two_private_keys_in_one_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.pem"
    path.write_bytes(
        b"".join(
            (PKI / n).read_bytes() for n in ("bidder-enc.key.pem", "bidder-sign.key.pem", "bidder-enc.pem")
        )
    )
    with pytest.raises(InputError, match="more than one private key"), _open(path) as source:
        source.entries()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_device_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        _open(fifo)
    with pytest.raises(InputError, match="character device"):
        _open(Path("/dev/zero"))
    # a FIFO where the certificate beside the key should be is refused the same way
    key = tmp_path / "bidder.key.pem"
    key.write_bytes((PKI / "bidder-enc.key.pem").read_bytes())
    os.mkfifo(tmp_path / "bidder.pem")
    with pytest.raises(InputError, match="FIFO"), _open(key) as source:
        source.entries()


def test_a_stalling_iteration_count_is_refused(tmp_path: Path) -> None:
    key = gm.Sm2PrivateKey.generate()
    path = tmp_path / "slow.pem"
    path.write_bytes(
        _gmssl_form(key.pkcs8_der(), b"pw", iterations=MAX_ITERATIONS + 1) + _self_signed_sm2(key)
    )
    with pytest.raises(InputError, match="iterations"), _open(path, "pw") as source:
        source.entries()


# --- GmSSL's form, written here as GmSSL writes it -------------------------------------------------


def _gmssl_form(pkcs8: bytes, password: bytes, *, iterations: int = 1000, salt: bytes = b"s" * 16) -> bytes:
    """PEM EncryptedPrivateKeyInfo: PBES2, PBKDF2-HMAC-SM3, SM4-CBC (tests/gm/vectors/README.md)."""
    iv = os.urandom(16)
    key = PBKDF2HMAC(hashes.SM3(), 16, salt, iterations).derive(password)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(pkcs8) + padder.finalize()) + encryptor.finalize()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": ("specified", salt),
                            "iteration_count": iterations,
                            "key_length": 16,
                            "prf": {"algorithm": "hmac_sm3"},  # no parameters, as GmSSL writes it
                        },
                    },
                    "encryption_scheme": {"algorithm": "sm4_cbc", "parameters": core.OctetString(iv)},
                },
            },
            "encrypted_data": encrypted,
        }
    )
    return bytes(pem.armor("ENCRYPTED PRIVATE KEY", info.dump()))


def _self_signed_sm2(key: gm.Sm2PrivateKey) -> bytes:
    """A PEM certificate of *key*: the vectors' one with its key replaced (only the key is read)."""
    template = x509.load_pem_x509_certificate((PKI / "bidder-enc.pem").read_bytes())
    return bytes(pem.armor("CERTIFICATE", _with_public_key(template, key.public_key())))


def _with_public_key(template: x509.Certificate, public_key: gm.Sm2PublicKey) -> bytes:
    """*template* with its public key replaced by *public_key* (its signature no longer verifies)."""
    from asn1crypto import x509 as asn1_x509

    certificate = asn1_x509.Certificate.load(template.public_bytes(serialization.Encoding.DER))
    tbs = certificate["tbs_certificate"]
    tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(public_key.spki_der())
    return bytes(
        asn1_x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": certificate["signature_algorithm"],
                "signature_value": certificate["signature_value"],
            }
        ).dump(force=True)
    )


@settings(max_examples=12, deadline=None)
@given(
    password=st.text(min_size=0, max_size=24),
    iterations=st.integers(1, 64),
    salt=st.binary(min_size=8, max_size=32),
)
def test_gmssl_form_round_trip(password: str, iterations: int, salt: bytes) -> None:
    key = gm.Sm2PrivateKey.generate()
    data = _gmssl_form(
        key.pkcs8_der(), password.encode(), iterations=iterations, salt=salt
    ) + _self_signed_sm2(key)
    source = PemSource("k.pem", PinSource.of_value(password), data)
    assert certs.public_key(source.entry().certificate) == key.public_key()
    wrong = PemSource("k.pem", PinSource.of_value(password + "x"), data)
    with pytest.raises(PinIncorrectError):
        wrong.entries()


@settings(max_examples=60, deadline=None)
@given(
    label=st.sampled_from(
        ["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY", "RSA PRIVATE KEY"]
    ),
    body=st.binary(max_size=300),
    flip=st.integers(0, 400),
)
def test_hostile_key_blocks_are_clean_refusals(label: str, body: bytes, flip: int) -> None:
    """Random bodies, and bit flips of a real GmSSL key: never anything but a bidcrypt error."""
    real = pem.unarmor((PKI / "bidder-enc.gmssl.key.pem").read_bytes())[2]
    if flip < len(real) and label == "ENCRYPTED PRIVATE KEY":
        body = real[:flip] + bytes([real[flip] ^ 0x01]) + real[flip + 1 :]
    data = bytes(pem.armor(label, body)) + (PKI / "bidder-enc.pem").read_bytes()
    try:
        PemSource("h.pem", PinSource.of_value(PASSWORD), data).entries()
    except BidcryptError as error:
        assert isinstance(
            error, InputError | PinIncorrectError | KeyCertificateMismatchError | KeyNotFoundError
        )


# --- keys written by the openssl command line --------------------------------------------------


@pytest.fixture
def openssl_sm2(tmp_path: Path) -> Path:
    """A directory with an SM2 key from ``openssl genpkey`` and its self-signed certificate."""
    _openssl("genpkey", "-algorithm", "SM2", "-out", "plain.key.pem", cwd=tmp_path)
    _openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        "plain.key.pem",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-days",
        "30",
        "-subj",
        "/C=CN/O=Openssl SM2/CN=openssl-sm2",
        "-addext",
        "keyUsage=critical,digitalSignature,nonRepudiation",
        "-out",
        "plain.pem",
        cwd=tmp_path,
    )
    (tmp_path / "password").write_text("open sesame")
    return tmp_path


@pytest.mark.parametrize(
    "convert",
    [
        [],
        ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "plain.key.pem", "-passout", "file:password"],
        ["pkcs8", "-topk8", "-v2", "sm4-cbc", "-in", "plain.key.pem", "-passout", "file:password"],
        ["ec", "-in", "plain.key.pem"],
        ["ec", "-aes256", "-in", "plain.key.pem", "-passout", "file:password"],
    ],
    ids=["pkcs8", "pkcs8-aes256", "pkcs8-sm4", "sec1", "sec1-legacy-aes256"],
)
def test_an_openssl_sm2_key_signs_what_openssl_verifies(openssl_sm2: Path, convert: list[str]) -> None:
    key_file = openssl_sm2 / "plain.key.pem"
    if convert:
        key_file = openssl_sm2 / "converted.key.pem"
        _openssl(*convert, "-out", key_file.name, cwd=openssl_sm2)
    (openssl_sm2 / "converted.pem").write_bytes((openssl_sm2 / "plain.pem").read_bytes())
    with _open(key_file, "open sesame") as source:
        entry = source.entry(certs.Purpose.SIGNING)
        data = "投标文件清单".encode() * 100
        (openssl_sm2 / "data").write_bytes(data)
        (openssl_sm2 / "sig").write_bytes(entry.sign(data, "sm3"))
    _openssl("x509", "-in", "plain.pem", "-pubkey", "-noout", "-out", "pub.pem", cwd=openssl_sm2)
    _openssl(
        "dgst",
        "-sm3",
        "-verify",
        "pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        "sig",
        "data",
        cwd=openssl_sm2,
    )
    if convert and "-passout" in convert:
        with pytest.raises(PinIncorrectError), _open(key_file, "open sesame!") as source:
            source.entries()


# --- RSA and EC keys in PEM -------------------------------------------------------------------


def _certificate_for(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, usage: dict[str, bool]
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pem-bidder")])
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    flags = (
        dict.fromkeys(
            [
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ],
            False,
        )
        | usage
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.KeyUsage(**flags), critical=True)
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("form", ["pkcs8", "pkcs8-encrypted", "traditional", "traditional-encrypted"])
def test_rsa_and_ec_pem_keys(tmp_path: Path, form: str) -> None:
    rsa_key = rsa.generate_private_key(65537, 2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(b"pw") if "encrypted" in form else serialization.NoEncryption()
    )
    layout = (
        serialization.PrivateFormat.PKCS8
        if form.startswith("pkcs8")
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    for name, key, usage in (
        ("rsa", rsa_key, {"key_encipherment": True}),
        ("ec", ec_key, {"digital_signature": True}),
    ):
        path = tmp_path / f"{name}.pem"
        certificate = _certificate_for(key, usage)
        path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, layout, encryption)
            + certificate.public_bytes(serialization.Encoding.PEM)
        )
        with _open(path, "pw") as source:
            entry = source.entry()
            assert entry.certificate == certificate
            if isinstance(key, rsa.RSAPrivateKey):
                wrapped = key.public_key().encrypt(b"k" * 32, asym_padding.PKCS1v15())
                assert entry.rsa_decrypt(wrapped, "pkcs1v15") == b"k" * 32
                assert entry.probe_rsa_schemes() == ("oaep-sha256", "oaep-sha1", "pkcs1v15")
            else:
                key.public_key().verify(entry.sign(b"data", "sha256"), b"data", ec.ECDSA(hashes.SHA256()))
        if "encrypted" in form:
            with pytest.raises(PinIncorrectError), _open(path, "not pw") as source:
                source.entries()


def test_an_ed25519_key_is_refused_by_name(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "ed.pem"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + (PKI / "bidder-enc.pem").read_bytes()
    )
    with pytest.raises(InputError, match="not an RSA, EC or SM2 key"), _open(path) as source:
        source.entries()


# --- the helpers a token that signs only e uses ------------------------------------------------


def test_sm2_signature_der_reads_a_tokens_fixed_size_fields() -> None:
    key = gm.Sm2PrivateKey.generate()
    data = b"manifest"
    der = key.sign_digest(sm2_signing_digest(key.public_key(), data))
    signature = algos.DSASignature.load(der)
    r, s = signature["r"].native, signature["s"].native
    # SKF's ECCSIGNATUREBLOB: 64-byte fields with the 32-byte values right-aligned
    blob_r, blob_s = r.to_bytes(64, "big"), s.to_bytes(64, "big")
    key.public_key().verify(sm2_signature_der(blob_r, blob_s), data)
    assert sm2_signature_der(r, s) == der
    for bad in (0, gm.ORDER):
        with pytest.raises(ValueError):
            sm2_signature_der(bad, s)
    with pytest.raises(ValueError):
        sm2_signing_digest(_certificate_for(ec.generate_private_key(ec.SECP256R1()), {}), data)


# --- SM2 entries where the rest of bidcrypt uses them ------------------------------------------


def test_an_openings_counting_entry_passes_sm2_decryption_on_and_counts_it() -> None:
    from bidcrypt.opening.counting import CountingEntry

    counter = [0]
    with _open(PKI / "bidder-enc.gmssl.key.pem") as source:
        entry = CountingEntry(source.entry(), counter)
        for index in (1, 2, 3):
            assert entry.sm2_decrypt((VECTORS / "sm2" / f"cipher-key32-{index}.der").read_bytes()) == bytes(
                range(32)
            )
    assert counter == [3]


def test_the_encryption_method_of_a_certificate_is_named() -> None:
    enc = x509.load_pem_x509_certificate((PKI / "bidder-enc.pem").read_bytes())
    assert certs.encryption_method(enc).render("en") == "SM2 encryption"
    assert certs.encryption_method(enc).render("zh") == "SM2 加密"
    ec_certificate = _certificate_for(ec.generate_private_key(ec.SECP256R1()), {"key_agreement": True})
    assert certs.encryption_method(ec_certificate).render("en") == "EC key agreement"


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b"])  # an RSA and an EC bidder
def test_the_fixture_pems_key_opens_an_envelope_on_the_command_line(
    pki: Pki, tmp_path: Path, bidder: str
) -> None:
    """The fixture PKI keeps ``enc.key.pem`` beside ``enc.pem``: ``--key enc.key.pem`` is enough."""
    plaintext = "投标文件".encode() * 1000
    (tmp_path / "bid.pdf").write_bytes(plaintext)
    sealed = tmp_path / "bid.p7m"
    result = run_cli(
        "envelope", "encrypt", tmp_path / "bid.pdf", "-o", sealed, "--recipient", pki.cert(f"{bidder}/enc")
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "bid.out"
    result = run_cli("envelope", "decrypt", sealed, "-o", out, "--key", pki.key(f"{bidder}/enc"))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == plaintext
    with open_key_source(pki.key(f"{bidder}/enc"), PinSource(interactive=False)) as source:
        assert source.entry().certificate == x509.load_pem_x509_certificate(
            pki.cert(f"{bidder}/enc").read_bytes()
        )


# --- the SM2 fixture PKI (fixtures/pki/sm2) ----------------------------------------------------

SM2_END_ENTITIES = [
    "sm2/bidder-a/sign",
    "sm2/bidder-a/enc",
    "sm2/bidder-a/legal",
    "sm2/bidder-b/enc",
    "sm2/bidder-c/sign",
    "sm2/bidder-a/enc-renewed",
    "sm2/bidder-a/enc-expired",
    "sm2/authority/enc",
]


@pytest.mark.parametrize("name", SM2_END_ENTITIES)
def test_every_sm2_fixture_key_file_opens_and_works(pki: Pki, tmp_path: Path, name: str) -> None:
    certificate = x509.load_pem_x509_certificate(pki.cert(name).read_bytes())
    combined = tmp_path / "all.pem"  # key, certificate and chain in one file, as a CA may hand them out
    combined.write_bytes(
        pki.key(name).read_bytes() + pki.cert(name).read_bytes() + pki.chain(name).read_bytes()
    )
    for reference in (pki.key(name), pki.p12(name), combined):
        with open_key_source(reference, PinSource.of_value(pki.index["p12_password"])) as source:
            entry = source.entry()
            assert entry.certificate == certificate
            public = certs.public_key(certificate)
            assert isinstance(public, gm.Sm2PublicKey)
            if certs.Purpose.ENCRYPTION in certs.purposes(certificate):
                assert entry.sm2_decrypt(public.encrypt(b"content key 32 bytes long.......")) == (
                    b"content key 32 bytes long......."
                )
            else:
                public.verify(entry.sign(b"manifest", "sm3"), b"manifest")
            if isinstance(source, PemSource) and reference == combined:
                assert [certs.common_name(c) for c in source.chain] == [
                    certs.common_name(c) for c in certs.load_certificates(pki.chain(name))
                ]


@settings(max_examples=80, deadline=None)
@given(
    sm2=st.booleans(),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), min_size=1, max_size=3),
)
def test_bit_flips_in_the_certificate_are_clean_refusals(
    pki: Pki, sm2: bool, flips: list[tuple[int, int]]
) -> None:
    """A damaged certificate beside a good key: a bidcrypt error or a working entry, never a crash."""
    name = "sm2/bidder-a/enc" if sm2 else "bidder-a/enc"
    certificate = bytearray(pem.unarmor(pki.cert(name).read_bytes())[2])
    for position, bit in flips:
        certificate[position % len(certificate)] ^= 1 << bit
    data = pki.key(name).read_bytes() + bytes(pem.armor("CERTIFICATE", bytes(certificate)))
    try:
        entry = PemSource("flipped.pem", PinSource(interactive=False), data).entry()
    except BidcryptError as error:
        assert (
            isinstance(error, InputError | KeyCertificateMismatchError | KeyNotFoundError)
            or error.code == "certificate"
        )
    else:
        assert certs.CertificateSummary.of(entry.certificate).key == ("SM2" if sm2 else "RSA-2048")


def test_bad_key_files_on_the_command_line_exit_with_their_codes(tmp_path: Path) -> None:
    """Each refusal has its documented exit code, never the internal error's (70), and no traceback."""
    from bidcrypt.cli.exit_codes import EXIT_CODES, INTERNAL_ERROR

    mismatched = tmp_path / "mismatched.pem"
    mismatched.write_bytes((PKI / "bidder-sign.key.pem").read_bytes() + (PKI / "bidder-enc.pem").read_bytes())
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (tmp_path / "junk.crt").write_bytes((PKI / "bidder-enc.pem").read_bytes())
    cases = {
        mismatched: KeyCertificateMismatchError,
        junk: InputError,
        PKI / "bidder-enc.gmssl.key.pem": PinIncorrectError,
        PKI / "bidder-enc.pem": KeyNotFoundError,
    }
    for path, error in cases.items():
        result = run_cli("doctor", "--key", path, env={"BIDCRYPT_PIN": "not the password"})
        assert result.exit_code == EXIT_CODES[error] != INTERNAL_ERROR, (path, result.output)
        assert "not the password" not in result.output
