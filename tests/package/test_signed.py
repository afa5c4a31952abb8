"""The signed manifest: CMS SignedData made with a key source, checked by bidcrypt and by openssl."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import algos, cms, tsp

from bidcrypt.errors import ManifestError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import signed

from ..conftest import Pki, SoftHsm, require_tool

CONTENT = '{"tender":"HBGP-2026-001","bidder":"湖北楚天"}'.encode()


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b"])
def test_sign_on_the_ukey_verify_here_and_with_openssl(
    softhsm: SoftHsm, pki: Pki, pin_env: str, tmp_path: Path, bidder: str
) -> None:
    with open_key_source(softhsm.uri(bidder, "sign")) as source:
        entry = source.entry()
        der = signed.sign(CONTENT, entry)
    result = signed.verify(der)
    assert result.content == CONTENT
    assert result.signer == entry.certificate
    assert result.signing_time is not None
    openssl = require_tool("openssl")
    path = tmp_path / "manifest.p7s"
    path.write_bytes(der)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki.roots.read_bytes() + pki.intermediates.read_bytes())
    checked = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(path),
            "-CAfile",
            str(ca_file),
            "-purpose",
            "any",
        ],
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == CONTENT


def _signed(pki: Pki) -> bytes:
    with open_key_source(str(pki.p12("bidder-c/sign")), PinSource.of_value(pki.pin)) as source:
        return signed.sign(CONTENT, source.entry())


def test_changed_content_fails(pki: Pki) -> None:
    der = bytearray(_signed(pki))
    position = bytes(der).index(b"HBGP")
    der[position] ^= 0x01
    with pytest.raises(ManifestError, match="does not match its digest"):
        signed.verify(bytes(der))


def test_changed_signature_fails(pki: Pki) -> None:
    der = bytearray(_signed(pki))
    der[-5] ^= 0x01  # the signature value is the last element
    with pytest.raises(ManifestError, match="signature invalid"):
        signed.verify(bytes(der))


def test_garbage(pki: Pki) -> None:
    for data in (b"", b"\x30\x03\x02\x01\x01", _signed(pki)[:-10], b"\x00" * 100):
        with pytest.raises(ManifestError):
            signed.verify(data)


def test_a_signer_key_that_cannot_be_read_is_malformed(pki: Pki) -> None:
    """A crafted signer certificate (an unsupported curve) is the bidder's ManifestError, not a crash."""
    with open_key_source(str(pki.p12("bidder-b/sign")), PinSource.of_value(pki.pin)) as source:
        der = signed.sign(CONTENT, source.entry())
    p256 = bytes.fromhex("06082a8648ce3d030107")
    assert p256 in der
    crafted = der.replace(p256, bytes.fromhex("06082a8648ce3d030106"))
    with pytest.raises(ManifestError, match="malformed"):
        signed.verify(crafted)


def _resigned(pki: Pki, change: Callable[[cms.SignerInfo], None]) -> bytes:
    """bidder-c's signed CONTENT with *change* made to its SignerInfo, then signed again by the same key."""
    info = cms.ContentInfo.load(_signed(pki))
    signer_info = info["content"]["signer_infos"][0]
    change(signer_info)
    with open_key_source(str(pki.p12("bidder-c/sign")), PinSource.of_value(pki.pin)) as source:
        signed_attributes = signer_info["signed_attrs"].untag().dump(force=True)
        signer_info["signature"] = source.entry().sign(signed_attributes, "sha256")
    return bytes(info.dump(force=True))


def test_a_resigned_manifest_is_still_good(pki: Pki) -> None:
    """The control for the two below: re-signing alone changes nothing."""
    assert signed.verify(_resigned(pki, lambda signer_info: None)).content == CONTENT


def test_an_ess_attribute_naming_another_certificate_fails(pki: Pki) -> None:
    def other_certificate(signer_info: cms.SignerInfo) -> None:
        other = hashlib.sha256(pki.cert("bidder-a/sign").read_bytes()).digest()
        for attribute in signer_info["signed_attrs"]:
            if attribute["type"].native == "signing_certificate_v2":
                attribute["values"] = [tsp.SigningCertificateV2({"certs": [{"cert_hash": other}]})]

    with pytest.raises(ManifestError, match="manifest signature invalid"):
        signed.verify(_resigned(pki, other_certificate))


def test_algorithms_that_disagree_with_their_protection_fail(pki: Pki) -> None:
    """RFC 6211: the signed algorithm-protection attribute names sha256WithRSA; the identifier says rsa."""

    def unprotected(signer_info: cms.SignerInfo) -> None:
        signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})

    with pytest.raises(ManifestError, match="manifest signature invalid"):
        signed.verify(_resigned(pki, unprotected))


def test_a_signature_algorithm_without_a_scheme_is_unsupported(pki: Pki) -> None:
    def pss(signer_info: cms.SignerInfo) -> None:
        signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm(
            {"algorithm": "rsassa_pss", "parameters": {"hash_algorithm": {"algorithm": "sha256"}}}
        )

    with pytest.raises(ManifestError, match="unsupported signature algorithm rsassa_pss"):
        signed.verify(_resigned(pki, pss))


def test_an_ec_signature_on_an_rsa_certificate_is_unsupported(pki: Pki) -> None:
    def ecdsa(signer_info: cms.SignerInfo) -> None:
        signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})

    with pytest.raises(ManifestError, match="unsupported signature algorithm ecdsa"):
        signed.verify(_resigned(pki, ecdsa))


def test_a_signer_named_by_key_identifier_whose_certificate_has_none_is_found(tmp_path: Path) -> None:
    """A SignerInfo naming its signer by subject key identifier: a certificate without that extension
    is matched by the identifier computed from its key (RFC 5280 method 1), never a crash."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from bidcrypt import certs
    from bidcrypt.keys.software import SoftwareEntry

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no key identifier")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    content = b'{"manifest": 1}'
    info = cms.ContentInfo.load(signed.sign(content, SoftwareEntry("t", certificate, key, "test")))
    signer_info = info["content"]["signer_infos"][0]
    signer_info["sid"] = cms.SignerIdentifier(
        {"subject_key_identifier": certs.subject_key_identifier(certificate)}
    )
    # The signature covers the signed attributes only, so renaming the signer keeps it valid.
    assert signed.verify(info.dump(force=True)).content == content
    signer_info["sid"] = cms.SignerIdentifier({"subject_key_identifier": b"\x01" * 20})
    with pytest.raises(ManifestError):
        signed.verify(info.dump(force=True))


def test_an_embedded_certificate_of_an_unknown_version_is_refused_not_a_crash(pki: Pki) -> None:
    """A certificate version of v4 (INTEGER 3) makes ``cryptography`` raise InvalidVersion, not ValueError."""
    der = _signed(pki)
    version_v3 = b"\xa0\x03\x02\x01\x02"
    assert version_v3 in der
    with pytest.raises(ManifestError, match="malformed"):
        signed.verify(der.replace(version_v3, b"\xa0\x03\x02\x01\x03", 1))


def test_a_manifest_digest_other_than_the_one_bidcrypt_signs_with_is_refused(pki: Pki) -> None:
    """A SignedData over SHA-384, correctly signed: the shared verifier accepts it, the manifest's
    check does not (bidcrypt signs manifests with SHA-256, SM3 for SM2)."""
    from asn1crypto import core

    from bidcrypt.keys import verify_signed_data

    info = cms.ContentInfo.load(_signed(pki))
    signer_info = info["content"]["signer_infos"][0]
    sha384 = algos.DigestAlgorithm({"algorithm": "sha384"})
    signer_info["digest_algorithm"] = sha384
    for attribute in signer_info["signed_attrs"]:
        if attribute["type"].native == "message_digest":
            attribute["values"] = [core.OctetString(hashlib.sha384(CONTENT).digest())]
        elif attribute["type"].native == "cms_algorithm_protection":
            protection = attribute["values"][0]
            protection["digest_algorithm"] = sha384
            protection["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha384_rsa"})
    signer_info["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha384_rsa"})
    with open_key_source(str(pki.p12("bidder-c/sign")), PinSource.of_value(pki.pin)) as source:
        signed_attributes = signer_info["signed_attrs"].untag().dump(force=True)
        signer_info["signature"] = source.entry().sign(signed_attributes, "sha384")
    der = bytes(info.dump(force=True))
    assert verify_signed_data(der).content == CONTENT
    with pytest.raises(ManifestError, match="manifest signature invalid: digest must be SHA256"):
        signed.verify(der)
