"""The SM2 fixture hierarchy (fixtures/pki/sm2) checked by a peer nobody here wrote, the openssl 3 CLI,
and then read by bidcrypt's own SM2 engine (every signature, every PKCS#12 and PKCS#8 key).

Two openssl 3.0 limits shape these checks (both in fixtures/README.md):

- ``openssl verify -vfyopt distid:…`` gives the ID to the target certificate only; the
  intermediate's signature is then checked with an empty ID and fails (openssl issue #23471).
  So each link is verified on its own: the issuing CA against the root, each leaf against the
  issuing CA (``-partial_chain``), which together check every signature with the GM default ID.
- ``openssl crl -verify`` has no way to take an ID and always uses an empty one, so the CRL's
  SM2-with-SM3 signature is checked with ``openssl pkeyutl -verify -rawin -digest sm3`` over its
  tbsCertList.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sm2_math  # fixtures/ is on sys.path (tests/conftest.py)
from asn1crypto import algos, core, keys, pem
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt import certs, gm, uscc
from tests.conftest import PKI, require_tool

pytestmark = pytest.mark.openssl

INDEX: dict[str, Any] = json.loads((PKI / "index.json").read_text())
DISTID = "1234567812345678"
SM2 = {name: e for name, e in INDEX["certificates"].items() if e.get("key_algorithm") == "sm2"}
LEAVES = [name for name in SM2 if not name.startswith("sm2/ca/")]
OUT_OF_DATE = {"sm2/bidder-a/enc-expired", "sm2/bidder-a/enc-not-yet-valid"}
SIGNING = [n for n in LEAVES if n.rsplit("/", 1)[1].startswith(("sign", "legal"))]
ENCRYPTION = [n for n in LEAVES if n.rsplit("/", 1)[1].startswith("enc")]
ROOT, VENDOR = PKI / "sm2/ca/root.pem", PKI / "sm2/ca/vendor.pem"
#: the moment the validity checks are made at (openssl -attime), never the wall clock
AT = int(dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp())


def openssl(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_tool("openssl"), *map(str, args)], input=stdin, capture_output=True, check=False
    )


def verify_leaf(leaf: Path, *, at: int = AT, distid: str = DISTID) -> subprocess.CompletedProcess[bytes]:
    return openssl("verify", "-vfyopt", f"distid:{distid}", "-partial_chain", "-CAfile", VENDOR,
                   "-attime", str(at), leaf)  # fmt: skip


def public_key_pem(certificate: Path) -> bytes:
    result = openssl("x509", "-in", certificate, "-noout", "-pubkey")
    assert result.returncode == 0, result.stderr
    return result.stdout


def verify_sm3_signature(tmp_path: Path, data: bytes, signature: bytes, signer: Path) -> bool:
    """openssl's SM2-with-SM3 verification (Z over the default ID) of *signature* on *data*."""
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(signature)
    result = openssl("pkeyutl", "-verify", "-certin", "-inkey", signer, "-rawin", "-digest", "sm3",
                     "-pkeyopt", f"distid:{DISTID}", "-in", tmp_path / "data",
                     "-sigfile", tmp_path / "sig")  # fmt: skip
    return result.returncode == 0 and b"Signature Verified Successfully" in result.stdout


def pem_der(path: Path) -> bytes:
    """The DER inside a one-block PEM file."""
    return bytes(pem.unarmor(path.read_bytes())[2])


def tbs_and_signature(der: bytes) -> tuple[bytes, bytes]:
    """The signed part and the signature of a certificate or CRL (SEQUENCE {tbs, algorithm, BIT STRING})."""
    outer = core.Sequence.load(der)
    return outer[0].dump(), bytes(outer[2].cast(core.OctetBitString).native)


def test_index_lists_the_whole_sm2_hierarchy() -> None:
    bidders = [f"sm2/bidder-{x}/{role}" for x in "abc" for role in ("sign", "enc", "legal")]
    variants = ("enc-renewed", "enc-replaced", "sign-changed", "enc-changed",
                "enc-expired", "enc-not-yet-valid", "enc-revoked", "sign-revoked")  # fmt: skip
    lifecycle = [f"sm2/bidder-a/{v}" for v in variants]
    assert sorted(SM2) == sorted(["sm2/ca/root", "sm2/ca/vendor", *bidders, *lifecycle, "sm2/authority/enc"])
    for name, entry in SM2.items():
        assert (PKI / entry["certificate"]).is_file() and (PKI / entry["key"]).is_file()
        assert ("p12" in entry) == (name in LEAVES)
        assert name in LEAVES or not (PKI / f"{name}.p12").exists()
        issuer = {"sm2/ca/root": None, "sm2/ca/vendor": "sm2/ca/root"}.get(name, "sm2/ca/vendor")
        assert entry["issuer"] == issuer
    assert INDEX["trust"]["sm2_roots"] == "trust/sm2-roots.pem"
    assert (PKI / INDEX["trust"]["sm2_roots"]).read_bytes() == ROOT.read_bytes()
    assert (PKI / INDEX["trust"]["sm2_intermediates"]).read_bytes() == VENDOR.read_bytes()
    assert INDEX["crls"]["sm2/ca/vendor"] == "sm2/ca/vendor.crl"
    assert INDEX["sm2_distid"] == DISTID
    sm2_companies = {slug: c for slug, c in INDEX["companies"].items() if slug.startswith("sm2/")}
    assert sorted(sm2_companies) == ["sm2/authority", "sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c"]
    codes = [c["credit_code"] for c in INDEX["companies"].values()]
    assert len(set(codes)) == len(codes) and all(uscc.is_valid(code) for code in codes)


@pytest.mark.parametrize("name", sorted(SM2))
def test_openssl_reads_each_certificate(name: str) -> None:
    text = openssl("x509", "-in", PKI / SM2[name]["certificate"], "-noout", "-text", "-serial")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode()
    assert out.count("Signature Algorithm: SM2-with-SM3") == 2 and "ASN1 OID: SM2" in out
    serial = next(line for line in out.splitlines() if line.startswith("serial="))
    assert int(serial.removeprefix("serial="), 16) == int(SM2[name]["serial"], 16)
    role = name.rsplit("/", 1)[1]
    usage = (
        "Digital Signature, Certificate Sign, CRL Sign" if name.startswith("sm2/ca/")
        else "Digital Signature, Non Repudiation" if role.startswith(("sign", "legal"))
        else "Key Encipherment, Data Encipherment, Key Agreement"
    )  # fmt: skip
    assert f"X509v3 Key Usage: critical\n                {usage}\n" in out


@pytest.mark.parametrize("slug", ["sm2/bidder-a", "sm2/bidder-b", "sm2/bidder-c", "sm2/authority"])
def test_the_credit_code_sits_where_the_vendor_puts_it(slug: str) -> None:
    company = INDEX["companies"][slug]
    name = f"{slug}/enc" if slug.endswith("authority") else f"{slug}/sign"
    subject = x509.load_pem_x509_certificate((PKI / SM2[name]["certificate"]).read_bytes()).subject
    oid = {
        "ou": x509.NameOID.ORGANIZATIONAL_UNIT_NAME,
        "organization-identifier": x509.NameOID.ORGANIZATION_IDENTIFIER,
        "serial-number": x509.NameOID.SERIAL_NUMBER,
    }[company["credit_code_in"]]
    prefix = "NTRCN-" if oid == x509.NameOID.ORGANIZATION_IDENTIFIER else ""
    assert [a.value for a in subject.get_attributes_for_oid(oid)] == [prefix + company["credit_code"]]
    organisation = subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    assert [a.value for a in organisation] == [company["name"]]


def test_the_issuing_ca_chains_to_the_root(tmp_path: Path) -> None:
    result = openssl("verify", "-vfyopt", f"distid:{DISTID}", "-CAfile", ROOT, "-attime", str(AT), VENDOR)
    assert result.returncode == 0 and result.stdout.strip().endswith(b"OK"), result.stderr
    # the root's self-signature, which `openssl verify` does not check on a trust anchor
    assert verify_sm3_signature(tmp_path, *tbs_and_signature(pem_der(ROOT)), ROOT)


@pytest.mark.parametrize("name", [n for n in LEAVES if n not in OUT_OF_DATE])
def test_openssl_verifies_each_leaf_with_the_default_id(name: str) -> None:
    leaf = PKI / SM2[name]["certificate"]
    result = verify_leaf(leaf)
    assert result.returncode == 0 and result.stdout.strip().endswith(b"OK"), result.stdout + result.stderr
    wrong_id = verify_leaf(leaf, distid="8765432187654321")
    assert wrong_id.returncode != 0 and b"error 7 " in wrong_id.stdout + wrong_id.stderr
    other_ca = openssl("verify", "-vfyopt", f"distid:{DISTID}", "-partial_chain", "-CAfile",
                       PKI / "ca/vendor-ec.pem", "-attime", str(AT), leaf)  # fmt: skip
    assert other_ca.returncode != 0


def test_openssl_refuses_the_out_of_date_leaves_with_the_right_error() -> None:
    expired, not_yet = PKI / "sm2/bidder-a/enc-expired.pem", PKI / "sm2/bidder-a/enc-not-yet-valid.pem"
    assert b"error 10 at 0 depth lookup: certificate has expired" in verify_leaf(expired).stderr
    assert b"error 9 at 0 depth lookup: certificate is not yet valid" in verify_leaf(not_yet).stderr
    in_2024 = int(dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp())
    in_2051 = int(dt.datetime(2051, 6, 1, tzinfo=dt.UTC).timestamp())
    assert verify_leaf(expired, at=in_2024).returncode == 0
    assert verify_leaf(not_yet, at=in_2051).returncode == 0


def test_the_crl_is_signed_by_the_issuing_ca_and_lists_the_revoked(tmp_path: Path) -> None:
    crl_path = PKI / INDEX["crls"]["sm2/ca/vendor"]
    text = openssl("crl", "-in", crl_path, "-inform", "DER", "-noout", "-text")
    assert text.returncode == 0, text.stderr
    out = text.stdout.decode()
    assert out.count("Signature Algorithm: SM2-with-SM3") == 2 and out.count("Key Compromise") == 2
    listed = {line.split(":")[1].strip().lower() for line in out.splitlines() if "Serial Number:" in line}
    assert listed == {SM2[f"sm2/bidder-a/{n}"]["serial"] for n in ("enc-revoked", "sign-revoked")}
    pem_form = openssl("crl", "-in", PKI / "sm2/ca/vendor.crl.pem", "-outform", "DER")
    assert pem_form.stdout == crl_path.read_bytes()
    tbs, signature = tbs_and_signature(crl_path.read_bytes())
    assert verify_sm3_signature(tmp_path, tbs, signature, VENDOR)
    tampered = tbs[:-1] + bytes([tbs[-1] ^ 1])
    assert not verify_sm3_signature(tmp_path, tampered, signature, VENDOR)
    assert not verify_sm3_signature(tmp_path, tbs, signature, ROOT)


@pytest.mark.parametrize("name", LEAVES)
def test_openssl_reads_each_pkcs12_and_its_key_matches_the_certificate(name: str, tmp_path: Path) -> None:
    entry = SM2[name]
    (tmp_path / "password").write_text(INDEX["p12_password"] + "\n")
    result = openssl(
        "pkcs12", "-in", PKI / entry["p12"], "-nodes", "-passin", f"file:{tmp_path / 'password'}"
    )
    assert result.returncode == 0, result.stderr
    blocks = list(pem.unarmor(result.stdout, multiple=True))
    key_ders = [der for label, _, der in blocks if label == "PRIVATE KEY"]
    cert_ders = sorted(der for label, _, der in blocks if label == "CERTIFICATE")
    assert key_ders == [pem_der(PKI / entry["key"])]
    chain = [der for _, _, der in pem.unarmor((PKI / f"{name}.chain.pem").read_bytes(), multiple=True)]
    assert cert_ders == sorted([pem_der(PKI / entry["certificate"]), *chain])
    (tmp_path / "key.pem").write_bytes(result.stdout)
    public = openssl("pkey", "-in", tmp_path / "key.pem", "-pubout")
    assert public.returncode == 0 and public.stdout == public_key_pem(PKI / entry["certificate"])


@pytest.mark.parametrize("name", sorted(SM2))
def test_openssl_reads_each_pkcs8_key_as_it_would_write_it(name: str) -> None:
    key = PKI / SM2[name]["key"]
    rewritten = openssl("pkey", "-in", key)
    assert rewritten.returncode == 0 and rewritten.stdout == key.read_bytes(), rewritten.stderr
    public = openssl("pkey", "-in", key, "-pubout")
    assert public.stdout == public_key_pem(PKI / SM2[name]["certificate"])


@pytest.mark.parametrize("name", SIGNING)
def test_signing_keys_sign_what_openssl_verifies_with_the_certificate(name: str, tmp_path: Path) -> None:
    (tmp_path / "message").write_text("投标文件摘要 " + name)
    signed = openssl("pkeyutl", "-sign", "-inkey", PKI / SM2[name]["key"], "-rawin", "-digest", "sm3",
                     "-pkeyopt", f"distid:{DISTID}", "-in", tmp_path / "message")  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    message = (tmp_path / "message").read_bytes()
    assert verify_sm3_signature(tmp_path, message, signed.stdout, PKI / SM2[name]["certificate"])
    assert not verify_sm3_signature(tmp_path, message + b"!", signed.stdout, PKI / SM2[name]["certificate"])


@pytest.mark.parametrize("name", ENCRYPTION)
def test_encryption_keys_decrypt_what_openssl_encrypts_to_the_certificate(name: str, tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(bytes(range(16)))
    wrapped = openssl("pkeyutl", "-encrypt", "-certin", "-inkey", PKI / SM2[name]["certificate"],
                      "-in", tmp_path / "key")  # fmt: skip
    assert wrapped.returncode == 0, wrapped.stderr
    (tmp_path / "wrapped").write_bytes(wrapped.stdout)
    unwrapped = openssl("pkeyutl", "-decrypt", "-inkey", PKI / SM2[name]["key"], "-in", tmp_path / "wrapped")
    assert unwrapped.returncode == 0 and unwrapped.stdout == bytes(range(16)), unwrapped.stderr


def _scalar(name: str) -> int:
    info = keys.PrivateKeyInfo.load(pem_der(PKI / SM2[name]["key"]))
    return int(keys.ECPrivateKey.load(info["private_key"].contents)["private_key"].native)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.binary(max_size=300))
def test_the_fixture_signer_and_openssl_agree_both_ways(message: bytes, tmp_path: Path) -> None:
    name = "sm2/bidder-b/sign"
    certificate, d = PKI / SM2[name]["certificate"], _scalar(name)
    assert sm2_math.sign(d, message) == sm2_math.sign(d, message)  # deterministic nonces
    assert verify_sm3_signature(tmp_path, message, sm2_math.sign(d, message), certificate)
    (tmp_path / "message").write_bytes(message)
    signed = openssl("pkeyutl", "-sign", "-inkey", PKI / SM2[name]["key"], "-rawin", "-digest", "sm3",
                     "-pkeyopt", f"distid:{DISTID}", "-in", tmp_path / "message")  # fmt: skip
    r_s = algos.DSASignature.load(signed.stdout)
    point = sm2_math.public_point(d)
    assert sm2_math.verify(point, message, r_s["r"].native, r_s["s"].native)
    assert not sm2_math.verify(point, message + b"x", r_s["r"].native, r_s["s"].native)


# --- the same files through bidcrypt's SM2 engine (libcrypto through cffi) ------------------


def _issuer_key(name: str) -> gm.Sm2PublicKey:
    issuer = SM2[name]["issuer"] or name
    return _public_key(issuer)


def _public_key(name: str) -> gm.Sm2PublicKey:
    key = certs.public_key(x509.load_pem_x509_certificate((PKI / SM2[name]["certificate"]).read_bytes()))
    assert isinstance(key, gm.Sm2PublicKey)
    return key


@pytest.mark.parametrize("name", sorted(SM2))
def test_bidcrypt_verifies_every_certificate_signature_with_the_default_id(name: str) -> None:
    tbs, signature = tbs_and_signature(pem_der(PKI / SM2[name]["certificate"]))
    _issuer_key(name).verify(signature, tbs)
    with pytest.raises(gm.InvalidSignature):
        _issuer_key(name).verify(signature, tbs, distid=b"8765432187654321")


def test_bidcrypt_verifies_the_crl_signature() -> None:
    tbs, signature = tbs_and_signature((PKI / INDEX["crls"]["sm2/ca/vendor"]).read_bytes())
    _public_key("sm2/ca/vendor").verify(signature, tbs)
    with pytest.raises(gm.InvalidSignature):
        _public_key("sm2/ca/root").verify(signature, tbs)


@pytest.mark.parametrize("name", LEAVES)
def test_bidcrypt_opens_each_pkcs12_and_pkcs8_key(name: str) -> None:
    entry = SM2[name]
    contents = gm.load_pkcs12((PKI / entry["p12"]).read_bytes(), INDEX["p12_password"].encode())
    assert contents.key is not None and contents.certificate == pem_der(PKI / entry["certificate"])
    chain = [der for _, _, der in pem.unarmor((PKI / f"{name}.chain.pem").read_bytes(), multiple=True)]
    assert sorted(contents.additional_certificates) == sorted(chain)
    from_pem = gm.Sm2PrivateKey.from_pem((PKI / entry["key"]).read_bytes())
    assert from_pem.pkcs8_der() == pem_der(PKI / entry["key"])
    assert contents.key.public_key() == from_pem.public_key() == _public_key(name)
    _public_key(name).verify(contents.key.sign(b"bid"), b"bid")
    if "/enc" in name:
        assert from_pem.decrypt(_public_key(name).encrypt(bytes(16))) == bytes(16)
