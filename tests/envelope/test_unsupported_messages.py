"""What an envelope bidcrypt does not open says: what is not supported, why, and what is instead."""

from __future__ import annotations

import io
import subprocess

import pytest
from asn1crypto import cms, keys

from bidcrypt.envelope import (
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    read_header,
    summary_lines,
    unwrap_content_key,
)
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope import key_transport as kt
from bidcrypt.errors import UnsupportedAlgorithmError

from .conftest import EC256, P12, RSA, Cert

SHA384 = "2.16.840.1.101.3.4.2.2"


def _oaep_sha384() -> bytes:
    """id-RSAES-OAEP with SHA-384 for the digest and MGF1: valid RFC 8017, not one bidcrypt opens."""
    sha384 = der.algorithm(SHA384)
    parameters = der.sequence(der.context(0, sha384), der.context(1, der.algorithm(alg.MGF1, sha384)))
    return der.algorithm(alg.RSAES_OAEP, parameters)


def test_an_unsupported_oaep_says_what_is_supported_instead_of_repeating_itself(cert: Cert, p12: P12) -> None:
    envelope = (
        EnvelopeBuilder().add_recipient(cert(RSA), key_transport=KeyTransport.OAEP_SHA256).encrypt_bytes(b"x")
    )
    ours = kt.encode_key_transport(KeyTransport.OAEP_SHA256)
    assert envelope.count(ours) == 1 and len(ours) == len(_oaep_sha384())
    header = read_header(io.BytesIO(envelope.replace(ours, _oaep_sha384())))
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        unwrap_content_key(header, p12(RSA))
    for language in ("en", "zh"):
        message = caught.value.message(language)  # type: ignore[arg-type]
        assert "RSAES-OAEP (sha384, MGF1 sha384)" in message
        assert all(alg.describe_key_transport(t) in message for t in KeyTransport)
        assert message.count("RSAES-OAEP (sha384") == 1
    assert "supported: RSAES-OAEP (SHA-256)" in caught.value.message("en")
    assert caught.value.message("en").count("unsupported algorithm") == 1
    (recipient,) = header.recipients
    assert recipient.problem_algorithm == "RSAES-OAEP (sha384, MGF1 sha384)"
    assert any("RSAES-OAEP (sha384, MGF1 sha384): supported:" in line for line in summary_lines(header))


def test_an_unknown_content_cipher_lists_the_supported_ones(cert: Cert) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"x")
    ours = read_header(io.BytesIO(envelope)).cipher.encode()
    sm4 = der.algorithm("1.2.156.10197.1.104.8", der.octet_string(b"\x00" * 16))
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        read_header(io.BytesIO(envelope.replace(ours, sm4)))
    message = caught.value.message("en")
    assert "unsupported algorithm sm4-gcm" in message
    assert all(cipher.value in message for cipher in ContentCipher)


def test_gcm_inside_enveloped_data_is_refused_with_the_reason(cert: Cert) -> None:
    cbc = EnvelopeBuilder().set_cipher(ContentCipher.AES_256_CBC).add_recipient(cert(RSA)).encrypt_bytes(b"x")
    gcm = EnvelopeBuilder().add_recipient(cert(RSA)).encrypt_bytes(b"x" * 16)
    cbc_algorithm = read_header(io.BytesIO(cbc)).cipher.encode()
    gcm_algorithm = read_header(io.BytesIO(gcm)).cipher.encode()
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        read_header(io.BytesIO(cbc.replace(cbc_algorithm, gcm_algorithm)))
    message = caught.value.message("en")
    assert "aes-256-gcm in envelopedData" in message
    assert "RFC 5084 puts AES-GCM in AuthEnvelopedData (RFC 5083)" in message
    assert "RFC 5084" in caught.value.message("zh")
    with pytest.raises(UnsupportedAlgorithmError, match="AuthEnvelopedData needs an authenticated cipher"):
        read_header(io.BytesIO(gcm.replace(gcm_algorithm, cbc_algorithm)))


def _explicit_p256() -> keys.ECDomainParameters:
    """P-256 written out as explicit parameters (SpecifiedECDomain), as ``openssl ecparam`` makes them."""
    der_parameters = subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    parameters = keys.ECDomainParameters.load(der_parameters)
    assert parameters.name == "specified"
    return parameters


def test_an_explicit_curve_originator_key_is_refused_saying_it_must_name_its_curve(
    cert: Cert, p12: P12
) -> None:
    envelope = EnvelopeBuilder().add_recipient(cert(EC256)).encrypt_bytes(b"x")
    (raw,) = read_header(io.BytesIO(envelope)).recipient_infos
    info = cms.RecipientInfo.load(raw).chosen
    key = info["originator"].chosen
    explicit = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": _explicit_p256()},
            "public_key": key["public_key"].contents[1:],
        }
    )
    hostile = cms.KeyAgreeRecipientInfo(
        {
            "version": 3,
            "originator": cms.OriginatorIdentifierOrKey({"originator_key": explicit}),
            "key_encryption_algorithm": info["key_encryption_algorithm"],
            "recipient_encrypted_keys": info["recipient_encrypted_keys"],
        }
    )
    old_set, new_set = der.set_of([raw]), der.set_of([cms.RecipientInfo({"kari": hostile}).dump()])
    assert envelope.count(old_set) == 1
    header = read_header(io.BytesIO(envelope.replace(old_set, new_set)))  # the BER frame takes any length
    (recipient,) = header.recipients
    assert recipient.problem is not None and "must name its curve" in str(recipient.problem)
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        unwrap_content_key(header, p12(EC256))
    message = caught.value.message("en")
    assert "explicit curve parameters" in message
    assert "the originator key must name its curve (RFC 5753 section 3.1.1)" in message
    assert "RFC 5753" in caught.value.message("zh")
