"""The one SignedData path: pyHanko builds it, a key source signs, bidcrypt's schemes name and check it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko_certvalidator.errors import AlgorithmNotSupported

from bidcrypt import certs
from bidcrypt.errors import KeyCertificateMismatchError, MechanismUnsupportedError
from bidcrypt.keys import KeyEntry, PinSource, open_key_source
from bidcrypt.keys.pyhanko_signer import (
    KeyEntrySigner,
    SchemeSignatureValidator,
    async_sign_data,
    sign_data,
)
from bidcrypt.keys.schemes import SCHEMES, Ecdsa, RsaPkcs1v15, Sm2WithSm3, scheme_for_key, scheme_named

from ..conftest import Pki, require_tool

CONTENT = "投标文件清单 bid manifest".encode()
MOMENT = dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def entries(pki: Pki) -> Iterator[dict[str, KeyEntry]]:
    """The signing entries of the three bidders' PKCS#12 files (bidder-b's key is EC P-256)."""
    with contextlib.ExitStack() as stack:
        opened = {}
        for bidder in ("bidder-a", "bidder-b", "bidder-c"):
            source = open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin))
            opened[bidder] = stack.enter_context(source).entry()
        yield opened


def _openssl_verify(pki: Pki, tmp_path: Path, der: bytes, detached: bool) -> bytes:
    openssl = require_tool("openssl")
    (tmp_path / "sig.p7s").write_bytes(der)
    (tmp_path / "content").write_bytes(CONTENT)
    (tmp_path / "ca.pem").write_bytes(pki.roots.read_bytes() + pki.intermediates.read_bytes())
    command = [openssl, "cms", "-verify", "-inform", "DER", "-in", tmp_path / "sig.p7s", "-binary"]
    command += ["-CAfile", tmp_path / "ca.pem", "-purpose", "any"]
    if detached:
        command += ["-content", tmp_path / "content"]
    checked = subprocess.run(command, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr
    return checked.stdout


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b"])
@pytest.mark.parametrize("detached", [False, True])
def test_rsa_and_ec_signatures_verify_with_openssl(
    pki: Pki, entries: dict[str, KeyEntry], tmp_path: Path, bidder: str, detached: bool
) -> None:
    entry = entries[bidder]
    der = sign_data(CONTENT, entry, signing_time=MOMENT, detached=detached)
    assert _openssl_verify(pki, tmp_path, der, detached) == CONTENT
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    scheme = scheme_for_key(entry.certificate.public_key())
    assert scheme is not None and scheme_named(signer_info["signature_algorithm"]) is scheme
    attributes = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    assert attributes["signing_time"] == MOMENT
    assert {"content_type", "message_digest", "signing_certificate_v2", "cms_algorithm_protection"} <= set(
        attributes
    )


def test_the_chain_goes_in_without_the_root(pki: Pki, entries: dict[str, KeyEntry]) -> None:
    entry = entries["bidder-a"]
    vendor = x509.load_pem_x509_certificate((pki.root / "ca" / "vendor-rsa.pem").read_bytes())
    root = x509.load_pem_x509_certificate((pki.root / "ca" / "root.pem").read_bytes())
    der = sign_data(CONTENT, entry, chain=[vendor, root])
    included = {c.chosen.subject.dump() for c in cms.ContentInfo.load(der)["content"]["certificates"]}
    assert included == {entry.certificate.subject.public_bytes(), vendor.subject.public_bytes()}


def test_signing_inside_a_running_event_loop(entries: dict[str, KeyEntry]) -> None:
    """The async form is the primary one; the sync one also works where a loop runs."""
    entry = entries["bidder-b"]

    async def both() -> tuple[bytes, bytes]:
        return await async_sign_data(CONTENT, entry), sign_data(CONTENT, entry)

    awaited, wrapped = asyncio.run(both())
    for der in (awaited, wrapped):
        assert cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native == CONTENT


class _WrongKey(KeyEntry):
    """The certificate of one entry with the key of another: signatures that do not match it."""

    def __init__(self, certificate: x509.Certificate, key: KeyEntry) -> None:
        super().__init__("wrong", b"", certificate, "test")
        self.key = key

    @property
    def has_private_key(self) -> bool:
        return True

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        raise NotImplementedError

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        raise NotImplementedError

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        return self.key.sign(data, hash_name)

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        return ()


def test_a_key_that_is_not_the_certificates_is_caught(entries: dict[str, KeyEntry]) -> None:
    mismatched = _WrongKey(entries["bidder-a"].certificate, entries["bidder-c"])
    with pytest.raises(KeyCertificateMismatchError):
        sign_data(CONTENT, mismatched)


def test_a_key_without_a_scheme_is_refused(entries: dict[str, KeyEntry]) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ed25519")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2055, 1, 1, tzinfo=dt.UTC))
        .sign(key, None)
    )
    with pytest.raises(MechanismUnsupportedError):
        sign_data(CONTENT, _WrongKey(certificate, entries["bidder-a"]))


def test_the_validator_knows_only_the_schemes(entries: dict[str, KeyEntry]) -> None:
    entry = entries["bidder-a"]
    info = cms.ContentInfo.load(sign_data(CONTENT, entry))["content"]["signer_infos"][0]
    public_key = certs.to_asn1(entry.certificate).public_key
    signed = info["signed_attrs"].untag().dump()
    validator = SchemeSignatureValidator()
    validator.validate_signature(info["signature"].native, signed, public_key, info["signature_algorithm"])
    with pytest.raises(InvalidSignature):
        validator.validate_signature(
            info["signature"].native, signed + b"x", public_key, info["signature_algorithm"]
        )
    pss = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"})
    with pytest.raises(AlgorithmNotSupported):
        validator.validate_signature(info["signature"].native, signed, public_key, pss)
    ecdsa = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    with pytest.raises(AlgorithmNotSupported):  # an ECDSA identifier on an RSA key
        validator.validate_signature(info["signature"].native, signed, public_key, ecdsa)


def test_the_schemes_name_what_pyhanko_would() -> None:
    """For RSA and EC, the identifiers are pyHanko's own defaults (nothing changes for seals)."""
    assert RsaPkcs1v15().identifier("sha256")["algorithm"].native == "sha256_rsa"
    assert RsaPkcs1v15().identifier(None)["algorithm"].native == "rsassa_pkcs1v15"
    assert Ecdsa().identifier("sha384")["algorithm"].native == "sha384_ecdsa"
    with pytest.raises(ValueError, match="names its hash"):
        Ecdsa().identifier(None)
    assert [type(s) for s in SCHEMES] == [RsaPkcs1v15, Ecdsa, Sm2WithSm3]
    assert Sm2WithSm3().identifier("sm3")["algorithm"].dotted == "1.2.156.10197.1.501"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["bidder-a", "bidder-b", "bidder-c"]), st.binary(max_size=200))
def test_the_placeholder_is_never_shorter_than_a_signature(
    entries: dict[str, KeyEntry], bidder: str, data: bytes
) -> None:
    entry = entries[bidder]
    signer = KeyEntrySigner(entry)
    public_key = entry.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    placeholder = asyncio.run(signer.async_sign_raw(data, "sha256", dry_run=True))
    signature = asyncio.run(signer.async_sign_raw(data, "sha256"))
    assert len(placeholder) >= len(signature) and signer.signatures == 1
