"""Algorithm identifiers and parameters: encoded as the RFCs say, parsed strictly."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos, cms

from bidcrypt.envelope import KeyTransport
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope import key_transport as kt
from bidcrypt.errors import MalformedEnvelopeError, UnsupportedAlgorithmError


def parse(data: bytes) -> bytes:
    return data


@pytest.mark.parametrize("transport", list(KeyTransport))
def test_key_transports_round_trip(transport: KeyTransport) -> None:
    encoded = kt.encode_key_transport(transport)
    assert kt.parse_key_transport(parse(encoded)) is transport


def test_oaep_sha256_parameters_as_asn1crypto_reads_them() -> None:
    native = cms.KeyEncryptionAlgorithm.load(kt.encode_key_transport(KeyTransport.OAEP_SHA256)).native
    assert native["algorithm"] == "rsaes_oaep"
    assert native["parameters"]["hash_algorithm"]["algorithm"] == "sha256"
    assert native["parameters"]["mask_gen_algorithm"]["algorithm"] == "mgf1"
    assert native["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"] == "sha256"


def test_oaep_sha1_is_all_defaults() -> None:
    assert kt.encode_key_transport(KeyTransport.OAEP_SHA1) == der.algorithm(alg.RSAES_OAEP, der.sequence())


def _oaep(
    hash_oid: str | None, mgf_hash: str | None, label: bytes | None = None, null: bool = False
) -> bytes:
    fields = b""
    if hash_oid:
        fields += der.context(0, der.algorithm(hash_oid, der.null() if null else None))
    if mgf_hash:
        fields += der.context(1, der.algorithm(alg.MGF1, der.algorithm(mgf_hash)))
    if label is not None:
        fields += der.context(2, der.algorithm(alg.P_SPECIFIED, der.octet_string(label)))
    return der.algorithm(alg.RSAES_OAEP, der.sequence(fields))


def test_oaep_accepts_null_hash_parameters_and_explicit_defaults() -> None:
    assert kt.parse_key_transport(parse(_oaep(alg.SHA256, alg.SHA256, null=True))) is KeyTransport.OAEP_SHA256
    assert kt.parse_key_transport(parse(_oaep(alg.SHA1, alg.SHA1, b""))) is KeyTransport.OAEP_SHA1


@pytest.mark.parametrize(
    "encoded",
    [
        _oaep(alg.SHA256, None),  # SHA-256 digest with the default MGF1-SHA1: no fall-back, refused
        _oaep(alg.SHA384, alg.SHA384),
        _oaep(alg.SHA256, alg.SHA256, b"label"),
        der.algorithm("1.2.840.113549.1.1.10"),  # RSASSA-PSS is no key transport
    ],
)
def test_oaep_variants_bidcrypt_cannot_undo_are_unsupported(encoded: bytes) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        kt.parse_key_transport(parse(encoded))


@pytest.mark.parametrize(
    "encoded",
    [
        der.algorithm(alg.RSAES_OAEP),  # parameters missing
        der.algorithm(alg.RSAES_OAEP, der.null()),
        der.algorithm(alg.RSA_ENCRYPTION, der.octet_string(b"x")),
        der.algorithm(
            alg.RSAES_OAEP,
            der.sequence(
                der.context(1, der.algorithm(alg.MGF1, der.algorithm(alg.SHA1))),
                der.context(0, der.algorithm(alg.SHA1)),
            ),
        ),
    ],
)
def test_malformed_key_transport_parameters(encoded: bytes) -> None:
    with pytest.raises(MalformedEnvelopeError):
        kt.parse_key_transport(parse(encoded))


def test_rsa_pkcs1v15_accepts_absent_parameters() -> None:
    assert kt.parse_key_transport(parse(der.algorithm(alg.RSA_ENCRYPTION))) is KeyTransport.PKCS1V15


def test_gcm_parameters_per_rfc_5084() -> None:
    parameters = alg.CipherParameters(alg.ContentCipher.AES_256_GCM, b"n" * 12, 16)
    native = algos.EncryptionAlgorithm.load(parameters.encode())
    assert native["algorithm"].dotted == "2.16.840.1.101.3.4.1.46"
    assert alg.CipherParameters.parse(parse(parameters.encode())) == parameters
    # aes-ICVlen DEFAULT 12
    default_icv = der.algorithm(alg.ContentCipher.AES_128_GCM.oid, der.sequence(der.octet_string(b"n" * 12)))
    assert alg.CipherParameters.parse(parse(default_icv)).tag_length == 12


@pytest.mark.parametrize(
    "encoded",
    [
        der.algorithm(
            alg.ContentCipher.AES_256_GCM.oid, der.sequence(der.octet_string(b"n" * 12), der.integer(11))
        ),
        der.algorithm(alg.ContentCipher.AES_256_GCM.oid, der.sequence(der.octet_string(b"n" * 4))),
        der.algorithm(alg.ContentCipher.AES_256_GCM.oid),
        der.algorithm(alg.ContentCipher.AES_256_CBC.oid, der.octet_string(b"short")),
        der.algorithm(alg.ContentCipher.AES_256_CBC.oid),
    ],
)
def test_bad_content_parameters(encoded: bytes) -> None:
    with pytest.raises(MalformedEnvelopeError):
        alg.CipherParameters.parse(parse(encoded))


@pytest.mark.parametrize(
    ("oid", "name"), [("1.2.840.113549.3.7", "des-ede3-cbc"), ("1.2.156.10197.1.104.8", "sm4-gcm")]
)
def test_unknown_ciphers_are_unsupported_by_name(oid: str, name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match=name):
        alg.CipherParameters.parse(parse(der.algorithm(oid, der.octet_string(b"i" * 16))))


def test_cipher_properties() -> None:
    assert alg.ContentCipher.AES_256_GCM.key_size == 32
    assert alg.ContentCipher.AES_128_CBC.key_size == 16
    assert alg.ContentCipher.AES_256_GCM.content_type == alg.AUTH_ENVELOPED_DATA
    assert alg.ContentCipher.AES_256_CBC.content_type == alg.ENVELOPED_DATA
    for cipher in alg.ContentCipher:
        assert alg.ContentCipher.from_oid(cipher.oid) is cipher


def test_ecc_cms_shared_info_and_x963_kdf_by_hand() -> None:
    """RFC 5753 section 7.2 and ANSI X9.63, recomputed with hashlib only."""
    wrap = der.algorithm(alg.AES256_WRAP)
    shared_info = alg.ecc_cms_shared_info(wrap, None, 32)
    assert shared_info == bytes.fromhex("3015300b060960864801650304012da206040400000100")
    with_ukm = alg.ecc_cms_shared_info(wrap, b"\x01\x02", 32)
    assert with_ukm == bytes.fromhex("301b300b060960864801650304012da00404020102a206040400000100")

    from bidcrypt.envelope.key_agreement import derive_kek as _kek

    scheme = alg.KEY_AGREEMENT_SCHEMES["1.3.132.1.11.1"]
    shared = bytes(range(32))
    expected = b""
    counter = 1
    while len(expected) < 32:
        expected += hashlib.sha256(shared + counter.to_bytes(4, "big") + shared_info).digest()
        counter += 1
    assert _kek(scheme, shared, wrap, None, 32) == expected[:32]
