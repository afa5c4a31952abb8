"""SM2 chains and CRLs: the same RFC 5280 verdicts as RSA and EC, and the same as openssl's."""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import algos, keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bidcrypt import gm
from bidcrypt.certs import load_certificate
from bidcrypt.errors import (
    BidcryptError,
    CertificateExpiredError,
    CertificateRevokedError,
    CertificateUntrustedError,
)
from bidcrypt.trust import TrustStore
from bidcrypt.x509_signatures import Sm2AwareSignatureValidator

from ..conftest import PKI, Pki, require_tool
from ..interop.peers import BouncyCastle, Sm2Chain
from . import pki as sm2pki

VECTORS = Path(__file__).parent / "vectors" / "pki"
#: The GmSSL vectors' certificates are valid from 2026-11-30T02:59Z for five (root: ten) years.
VECTORS_VALID = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
AT = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
CA_USAGE = ("key_cert_sign", "crl_sign")


def _vector(name: str) -> x509.Certificate:
    return load_certificate(VECTORS / f"{name}.pem")


def _refusal(store: TrustStore, certificate: x509.Certificate, at: dt.datetime) -> type[BidcryptError] | None:
    try:
        store.validate(certificate, at=at)
    except BidcryptError as error:
        return type(error)
    return None


@pytest.fixture(scope="module")
def hierarchy() -> dict[str, sm2pki.Sm2Identity]:
    root = sm2pki.issue("SM2 Root", ca=True, key_usage=CA_USAGE, crl_url=None)
    ca = sm2pki.issue("SM2 Issuing CA", issuer=root, serial=2, ca=True, key_usage=CA_USAGE)
    return {
        "root": root,
        "ca": ca,
        "sign": sm2pki.issue("Bidder sign", issuer=ca, serial=10),
        "revoked": sm2pki.issue("Bidder revoked", issuer=ca, serial=11),
        "other-root": sm2pki.issue("SM2 Root", ca=True, key_usage=CA_USAGE, crl_url=None),
    }


@pytest.fixture(scope="module")
def store(hierarchy: dict[str, sm2pki.Sm2Identity]) -> TrustStore:
    revoked_on = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    crl = sm2pki.revocation_list(hierarchy["ca"], [(11, revoked_on)])
    return TrustStore((hierarchy["root"].certificate,), (hierarchy["ca"].certificate,), (crl,))


@pytest.mark.parametrize("name", ["bidder-sign", "bidder-enc"])
def test_the_gmssl_vectors_pki_validates(name: str) -> None:
    store = TrustStore.load([VECTORS / "root-ca.pem"])
    chain = store.validate(_vector(name), at=VECTORS_VALID)
    assert chain == [_vector(name), _vector("root-ca")]


def test_the_gmssl_vectors_pki_refuses_like_rsa(pki: Pki) -> None:
    """Tampered signature, wrong root, expired, not yet valid: each the error RSA gets."""
    sm2_store = TrustStore.load([VECTORS / "root-ca.pem"])
    rsa_store = TrustStore.load([pki.roots, pki.intermediates])
    sm2_leaf, rsa_leaf = _vector("bidder-sign"), load_certificate(pki.cert("bidder-a/enc"))
    rsa_at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

    def both(
        sm2: tuple[TrustStore, x509.Certificate, dt.datetime],
        rsa: tuple[TrustStore, x509.Certificate, dt.datetime],
    ) -> tuple[type[BidcryptError] | None, type[BidcryptError] | None]:
        return _refusal(*sm2), _refusal(*rsa)

    tampered = both(
        (sm2_store, sm2pki.flip_signature_bit(sm2_leaf), VECTORS_VALID),
        (rsa_store, sm2pki.flip_signature_bit(rsa_leaf), rsa_at),
    )
    assert tampered == (CertificateUntrustedError, CertificateUntrustedError)
    wrong_root = both(
        (TrustStore.load([pki.roots]), sm2_leaf, VECTORS_VALID),
        (TrustStore.load([VECTORS / "root-ca.pem"]), rsa_leaf, rsa_at),
    )
    assert wrong_root == (CertificateUntrustedError, CertificateUntrustedError)
    expired = both(
        (sm2_store, sm2_leaf, sm2_leaf.not_valid_after_utc + dt.timedelta(days=1)),
        (rsa_store, rsa_leaf, rsa_leaf.not_valid_after_utc + dt.timedelta(days=1)),
    )
    assert expired[0] is CertificateExpiredError
    assert expired[0] is expired[1]
    not_yet = both(
        (sm2_store, sm2_leaf, sm2_leaf.not_valid_before_utc - dt.timedelta(minutes=1)),
        (rsa_store, rsa_leaf, rsa_leaf.not_valid_before_utc - dt.timedelta(minutes=1)),
    )
    assert not_yet[0] is not None
    assert not_yet[0] is not_yet[1]


# --- the SM2 fixture PKI (fixtures/pki/sm2, its SM2-signed CRL) ------------------------------------

FIXTURE_AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fixture_store() -> TrustStore:
    trust = PKI / "trust"
    return TrustStore.load(
        [trust / "sm2-roots.pem", trust / "sm2-intermediates.pem"], [PKI / "sm2/ca/vendor.crl"]
    )


def _fixture(name: str) -> x509.Certificate:
    return load_certificate(PKI / "sm2" / f"{name}.pem")


@pytest.mark.parametrize(
    "name",
    [
        "bidder-a/sign",
        "bidder-a/enc",
        "bidder-a/enc-renewed",
        "bidder-b/legal",
        "bidder-c/enc",
        "authority/enc",
    ],
)
def test_sm2_fixture_certificates_chain_to_the_sm2_root(fixture_store: TrustStore, name: str) -> None:
    chain = fixture_store.validate(_fixture(name), at=FIXTURE_AT)
    assert chain == [_fixture(name), _fixture("ca/vendor"), _fixture("ca/root")]
    assert fixture_store.revocation_status(_fixture(name), at=FIXTURE_AT).state == "good"


@pytest.mark.parametrize("name", ["bidder-a/enc-revoked", "bidder-a/sign-revoked"])
def test_sm2_fixture_revoked_certificates_are_refused(fixture_store: TrustStore, name: str) -> None:
    with pytest.raises(CertificateRevokedError, match="2025-09-01"):
        fixture_store.validate(_fixture(name), at=FIXTURE_AT)
    status = fixture_store.revocation_status(_fixture(name), at=FIXTURE_AT)
    assert (status.state, status.reason) == ("revoked", "keyCompromise")
    without_crl = TrustStore(fixture_store.anchors, fixture_store.intermediates)
    assert without_crl.validate(_fixture(name), at=FIXTURE_AT)


def test_sm2_fixture_refusals_are_rsas(fixture_store: TrustStore, pki: Pki) -> None:
    """Expired, not yet valid, wrong root: the errors the RSA fixtures' twins get."""
    rsa_store = TrustStore.load([pki.roots, pki.intermediates], [pki.crl])
    for variant in ("enc-expired", "enc-not-yet-valid"):
        sm2 = _refusal(fixture_store, _fixture(f"bidder-a/{variant}"), FIXTURE_AT)
        rsa = _refusal(rsa_store, load_certificate(pki.cert(f"bidder-a/{variant}")), FIXTURE_AT)
        assert sm2 is not None
        assert sm2 is rsa, variant
    assert _refusal(rsa_store, _fixture("bidder-a/enc"), FIXTURE_AT) is CertificateUntrustedError
    assert _refusal(fixture_store, load_certificate(pki.cert("bidder-a/enc")), FIXTURE_AT) is (
        CertificateUntrustedError
    )


def test_a_forged_crl_for_the_sm2_fixture_ca_does_not_count(fixture_store: TrustStore) -> None:
    """Named for the vendor CA, signed by another key: as for RSA, no status and no trust."""
    vendor = sm2pki.Sm2Identity(_fixture("ca/vendor"), gm.Sm2PrivateKey.generate())
    revoked = _fixture("bidder-a/enc")
    crl = sm2pki.revocation_list(vendor, [(revoked.serial_number, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))])
    forged = TrustStore(fixture_store.anchors, fixture_store.intermediates, (crl,))
    assert forged.revocation_status(revoked, at=FIXTURE_AT).state == "unknown"
    with pytest.raises(CertificateUntrustedError, match="CRL signature could not be verified"):
        forged.validate(revoked, at=FIXTURE_AT)


# --- asn1crypto-made SM2 hierarchies -------------------------------------------------------------


def test_an_sm2_hierarchy_with_a_crl(store: TrustStore, hierarchy: dict[str, sm2pki.Sm2Identity]) -> None:
    chain = store.validate(hierarchy["sign"].certificate, at=AT)
    assert [c.subject for c in chain] == [hierarchy[n].certificate.subject for n in ("sign", "ca", "root")]
    assert store.revocation_status(hierarchy["sign"].certificate, at=AT).state == "good"
    with pytest.raises(CertificateRevokedError, match="2026-06-01"):
        store.validate(hierarchy["revoked"].certificate, at=AT)
    status = store.revocation_status(hierarchy["revoked"].certificate, at=AT)
    assert (status.state, status.revoked_at) == ("revoked", dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    # before the revocation date the certificate was good (the CRL counts retroactively)
    assert store.validate(hierarchy["revoked"].certificate, at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize("forgery", ["other key", "other ID", "ecdsa OID"])
def test_a_crl_its_issuer_did_not_sign_does_not_count(
    store: TrustStore, hierarchy: dict[str, sm2pki.Sm2Identity], forgery: str
) -> None:
    """As for RSA (tests/test_trust.py): no status in the report, and the chain is refused for it."""
    revoked = hierarchy["revoked"].certificate
    ca = hierarchy["ca"]
    entries = [(revoked.serial_number, dt.datetime(2026, 6, 1, tzinfo=dt.UTC))]
    if forgery == "other key":
        crl = sm2pki.revocation_list(ca, entries, signer=gm.Sm2PrivateKey.generate())
    elif forgery == "other ID":
        crl = sm2pki.revocation_list(ca, entries, distid=b"another-id")
    else:
        crl = sm2pki.revocation_list(ca, entries, algorithm="1.2.840.10045.4.3.2")
    forged = TrustStore(store.anchors, store.intermediates, (crl,))
    assert forged.revocation_status(revoked, at=AT).state == "unknown"
    with pytest.raises(CertificateUntrustedError, match="CRL signature could not be verified"):
        forged.validate(revoked, at=AT)


def test_a_crl_signed_with_the_sm2_sign_oid_counts(hierarchy: dict[str, sm2pki.Sm2Identity]) -> None:
    revoked = hierarchy["revoked"].certificate
    crl = sm2pki.revocation_list(
        hierarchy["ca"], [(revoked.serial_number, AT - dt.timedelta(days=1))], algorithm=gm.oids.SM2_SIGN
    )
    store = TrustStore((hierarchy["root"].certificate,), (hierarchy["ca"].certificate,), (crl,))
    assert store.revocation_status(revoked, at=AT).state == "revoked"
    with pytest.raises(CertificateRevokedError):
        store.validate(revoked, at=AT)


def test_the_wrong_root_is_refused(hierarchy: dict[str, sm2pki.Sm2Identity]) -> None:
    """Same subject, another key: the path does not verify."""
    store = TrustStore((hierarchy["other-root"].certificate,), (hierarchy["ca"].certificate,))
    with pytest.raises(CertificateUntrustedError):
        store.validate(hierarchy["sign"].certificate, at=AT)


def _issue_under(hierarchy: dict[str, sm2pki.Sm2Identity], case: str) -> tuple[TrustStore, x509.Certificate]:
    root, ca = hierarchy["root"], hierarchy["ca"]
    intermediates = [ca.certificate]
    if case == "issuer not a CA":
        issuer = sm2pki.issue("Not a CA", issuer=ca, serial=20, key_usage=CA_USAGE)
        intermediates.append(issuer.certificate)
    elif case == "issuer without keyCertSign":
        issuer = sm2pki.issue("No keyCertSign", issuer=ca, serial=21, ca=True, key_usage=("crl_sign",))
        intermediates.append(issuer.certificate)
    elif case == "path length exceeded":
        limited = sm2pki.issue("Limited", issuer=root, serial=22, ca=True, path_length=0, key_usage=CA_USAGE)
        issuer = sm2pki.issue("Below limited", issuer=limited, serial=23, ca=True, key_usage=CA_USAGE)
        intermediates += [limited.certificate, issuer.certificate]
    else:
        raise AssertionError(case)
    leaf = sm2pki.issue(f"Leaf of {case}", issuer=issuer, serial=30)
    return TrustStore((root.certificate,), tuple(intermediates)), leaf.certificate


@pytest.mark.parametrize("case", ["issuer not a CA", "issuer without keyCertSign", "path length exceeded"])
def test_rfc_5280_rules_hold_for_sm2(hierarchy: dict[str, sm2pki.Sm2Identity], case: str) -> None:
    store, leaf = _issue_under(hierarchy, case)
    with pytest.raises(CertificateUntrustedError):
        store.validate(leaf, at=AT)


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ({}, False),
        ({"algorithm": gm.oids.SM2_SIGN}, False),
        ({"distid": b"another-id"}, True),
        ({"signer": "fresh"}, True),
        ({"algorithm": "1.2.840.10045.4.3.2"}, True),  # ecdsa-with-SHA256 over an SM2 key
    ],
)
def test_the_certificate_signature_is_sm2_with_sm3_and_the_default_id(
    store: TrustStore, hierarchy: dict[str, sm2pki.Sm2Identity], options: dict[str, object], refused: bool
) -> None:
    if options.get("signer") == "fresh":
        options = {"signer": gm.Sm2PrivateKey.generate()}
    leaf = sm2pki.issue("Signed leaf", issuer=hierarchy["ca"], serial=40, **options)  # type: ignore[arg-type]
    if refused:
        with pytest.raises(CertificateUntrustedError):
            store.validate(leaf.certificate, at=AT)
    else:
        assert store.validate(leaf.certificate, at=AT)


def test_the_validator_leaves_other_algorithms_to_the_default() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    spki = keys.PublicKeyInfo.load(
        key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    signature = key.sign(b"tbs", ec.ECDSA(hashes.SHA256()))
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    validator = Sm2AwareSignatureValidator()
    validator.validate_signature(signature, b"tbs", spki, algorithm)
    with pytest.raises(InvalidSignature):
        validator.validate_signature(signature, b"tbx", spki, algorithm)
    sm2 = algos.SignedDigestAlgorithm({"algorithm": gm.oids.SM2_WITH_SM3})
    with pytest.raises(InvalidSignature):  # an SM2 algorithm over a P-256 key
        validator.validate_signature(signature, b"tbs", spki, sm2)


# --- interop: an SM2 PKI made by the openssl command line -------------------------------------------

DISTID = "distid:" + gm.DEFAULT_ID.decode()
_OPENSSL_CNF = """\
[ca]
default_ca = sm2ca
[sm2ca]
database = index.txt
new_certs_dir = .
default_md = sm3
default_crl_days = 4000
crlnumber = crlnumber
policy = anything
[anything]
commonName = supplied
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.sm2.test/openssl.crl
"""


@dataclass(frozen=True)
class OpensslPki:
    """Files an openssl-made SM2 PKI consists of, in one folder."""

    folder: Path
    openssl: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.openssl, *args], cwd=self.folder, capture_output=True, text=True, check=False
        )

    def must(self, *args: str) -> None:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr

    def path(self, name: str) -> Path:
        return self.folder / name


@pytest.fixture(scope="module")
def openssl_pki(tmp_path_factory: pytest.TempPathFactory) -> OpensslPki:
    """A root (``req -x509``), two leaves (``x509 -req``), one revoked, and CRLs (``ca -gencrl``).

    ``crl-distid.pem`` is signed with Z of the default ID (``-sigopt distid:…``);
    ``crl-noid.pem`` without ``-sigopt``, so openssl 3.0 signs with Z of an empty ID.
    """
    made = OpensslPki(tmp_path_factory.mktemp("openssl-sm2"), require_tool("openssl"))
    made.path("ca.cnf").write_text(_OPENSSL_CNF)
    made.path("index.txt").write_text("")
    made.path("crlnumber").write_text("01\n")
    made.must("genpkey", "-algorithm", "SM2", "-out", "root.key")
    made.must(
        "req", "-new", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca", "-key", "root.key",
        "-sm3", "-sigopt", DISTID, "-days", "3650", "-subj", "/CN=OpenSSL SM2 Root", "-out", "root.pem",
    )  # fmt: skip
    for serial, name in ((0x1001, "good"), (0x1002, "revoked")):
        made.must("genpkey", "-algorithm", "SM2", "-out", f"{name}.key")
        made.must(
            "req", "-new", "-config", "ca.cnf", "-key", f"{name}.key", "-sm3", "-sigopt", DISTID,
            "-subj", f"/CN=OpenSSL leaf {name}", "-out", f"{name}.csr",
        )  # fmt: skip
        made.must(
            "x509", "-req", "-in", f"{name}.csr", "-vfyopt", DISTID, "-CA", "root.pem", "-CAkey", "root.key",
            "-set_serial", str(serial), "-days", "365", "-sm3", "-sigopt", DISTID,
            "-extfile", "ca.cnf", "-extensions", "v3_leaf", "-out", f"{name}.pem",
        )  # fmt: skip
    ca = ("ca", "-config", "ca.cnf", "-keyfile", "root.key", "-cert", "root.pem", "-md", "sm3")
    made.must(*ca, "-revoke", "revoked.pem")
    made.must(*ca, "-gencrl", "-sigopt", DISTID, "-out", "crl-distid.pem")
    made.must(*ca, "-gencrl", "-out", "crl-noid.pem")
    tampered = sm2pki.flip_signature_bit(load_certificate(made.path("good.pem")))
    made.path("tampered.pem").write_bytes(tampered.public_bytes(Encoding.PEM))
    made.must("genpkey", "-algorithm", "SM2", "-out", "other.key")
    made.must(
        "req", "-new", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca", "-key", "other.key",
        "-sm3", "-sigopt", DISTID, "-days", "3650", "-subj", "/CN=OpenSSL SM2 Root", "-out", "other-root.pem",
    )  # fmt: skip
    return made


def _openssl_accepts(made: OpensslPki, leaf: str, root: str, at: dt.datetime, crl: str | None = None) -> bool:
    checks = ["-crl_check", "-CRLfile", crl] if crl else []
    when = str(int(at.timestamp()))
    return (
        made.run("verify", "-vfyopt", DISTID, "-CAfile", root, "-attime", when, *checks, leaf).returncode == 0
    )


def _bidcrypt_accepts(
    made: OpensslPki, leaf: str, root: str, at: dt.datetime, crl: str | None = None
) -> bool:
    store = TrustStore.load([made.path(root)], [made.path(crl)] if crl else [])
    return _refusal(store, load_certificate(made.path(leaf)), at) is None


def _moments(made: OpensslPki) -> dict[str, dt.datetime]:
    leaf = load_certificate(made.path("good.pem"))
    crl = x509.load_pem_x509_crl(made.path("crl-noid.pem").read_bytes())
    return {
        "valid": max(leaf.not_valid_before_utc, crl.last_update_utc) + dt.timedelta(hours=1),
        "not yet valid": leaf.not_valid_before_utc - dt.timedelta(days=1),
        "expired": leaf.not_valid_after_utc + dt.timedelta(days=1),
    }


@pytest.mark.parametrize(
    ("leaf", "root", "moment", "accepted"),
    [
        ("good.pem", "root.pem", "valid", True),
        ("revoked.pem", "root.pem", "valid", True),  # no CRL given: not known to be revoked
        ("good.pem", "root.pem", "expired", False),
        ("good.pem", "root.pem", "not yet valid", False),
        ("tampered.pem", "root.pem", "valid", False),
        ("good.pem", "other-root.pem", "valid", False),
        ("root.pem", "root.pem", "valid", True),
    ],
)
def test_openssl_made_chains_get_openssls_verdict(
    openssl_pki: OpensslPki, leaf: str, root: str, moment: str, accepted: bool
) -> None:
    at = _moments(openssl_pki)[moment]
    assert _openssl_accepts(openssl_pki, leaf, root, at) is accepted
    assert _bidcrypt_accepts(openssl_pki, leaf, root, at) is accepted


def test_an_openssl_crl_revokes_in_bidcrypt_as_in_openssl(openssl_pki: OpensslPki) -> None:
    """The same revocation, each tool reading the CRL form it can check (see the next test)."""
    at = _moments(openssl_pki)["valid"]
    store = TrustStore.load([openssl_pki.path("root.pem")], [openssl_pki.path("crl-distid.pem")])
    assert store.validate(load_certificate(openssl_pki.path("good.pem")), at=at)
    with pytest.raises(CertificateRevokedError):
        store.validate(load_certificate(openssl_pki.path("revoked.pem")), at=at)
    assert _openssl_accepts(openssl_pki, "good.pem", "root.pem", at, "crl-noid.pem")
    refused = openssl_pki.run(
        "verify", "-vfyopt", DISTID, "-CAfile", "root.pem", "-attime", str(int(at.timestamp())),
        "-crl_check", "-CRLfile", "crl-noid.pem", "revoked.pem",
    )  # fmt: skip
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr


def test_the_crl_signature_needs_the_default_id(openssl_pki: OpensslPki) -> None:
    """openssl 3.0's ``verify`` checks a CRL's SM2 signature without the distinguishing ID.

    So it accepts only a CRL signed without ``-sigopt distid:`` (Z of an empty
    ID) and refuses one signed as the standard says; bidcrypt checks CRLs as
    certificates, with the default ID, and refuses the other form like any
    CRL whose signature does not verify.
    """
    at = _moments(openssl_pki)["valid"]
    assert not _openssl_accepts(openssl_pki, "good.pem", "root.pem", at, "crl-distid.pem")
    assert _bidcrypt_accepts(openssl_pki, "good.pem", "root.pem", at, "crl-distid.pem")
    store = TrustStore.load([openssl_pki.path("root.pem")], [openssl_pki.path("crl-noid.pem")])
    with pytest.raises(CertificateUntrustedError, match="CRL signature could not be verified"):
        store.validate(load_certificate(openssl_pki.path("good.pem")), at=at)
    assert (
        store.revocation_status(load_certificate(openssl_pki.path("revoked.pem")), at=at).state == "unknown"
    )


def test_an_openssl_three_level_chain_gets_bouncycastles_verdict(
    bouncycastle: BouncyCastle, sm2_chain: Sm2Chain, tmp_path: Path
) -> None:
    """Root, issuing CA, leaf (tests/interop/peers.py): openssl 3.0's ``verify`` gives the ID to the
    target only (openssl issue #23471), so BouncyCastle's PKIX validator is the peer for this one."""
    leaf = load_certificate(sm2_chain.leaf)
    at = leaf.not_valid_before_utc + dt.timedelta(minutes=1)
    store = TrustStore.load([sm2_chain.root, sm2_chain.intermediate])
    assert len(store.validate(leaf, at=at)) == 3
    broken = tmp_path / "broken.pem"
    broken.write_bytes(sm2pki.flip_signature_bit(leaf).public_bytes(Encoding.PEM))
    with pytest.raises(CertificateUntrustedError):
        store.validate(load_certificate(broken), at=at)
    expired_at = leaf.not_valid_after_utc + dt.timedelta(minutes=1)
    with pytest.raises(CertificateExpiredError):
        store.validate(leaf, at=expired_at)
    when, later = str(int(at.timestamp())), str(int(expired_at.timestamp()))
    answers = bouncycastle.batch(
        [
            ("chain", when, sm2_chain.root, sm2_chain.leaf, sm2_chain.intermediate),
            ("chain", when, sm2_chain.root, broken, sm2_chain.intermediate),
            ("chain", later, sm2_chain.root, sm2_chain.leaf, sm2_chain.intermediate),
        ]
    )
    verdicts = [answer.result() for answer in answers]
    assert verdicts[0] == "valid"
    assert verdicts[1].startswith("invalid") and verdicts[2].startswith("invalid")
