"""SM2 test certificates for the seal tests, issued by the GM vectors' root CA (tests/gm/vectors/pki).

The vectors hold a company signing certificate (``bidder-sign``) but no
legal representative's, and ``cryptography`` cannot build SM2 certificates:
these are built with asn1crypto and signed with :meth:`bidcrypt.gm.Sm2PrivateKey.sign`
(SM2-with-SM3, Z of the default ID), as the vectors' openssl did.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt import gm
from bidcrypt.gm import oids
from bidcrypt.keys.pkcs12_file import SoftwareEntry

VECTORS = Path(__file__).parents[1] / "gm" / "vectors" / "pki"
_DER = Encoding.DER
PASSWORD = "gm-vectors"
COMPANY = "杭州钱江测试建设有限公司"
CREDIT_CODE = (VECTORS / "bidder.uscc").read_text().strip()


@dataclass(frozen=True)
class Sm2Identity:
    """An SM2 key with its certificate."""

    key: gm.Sm2PrivateKey
    certificate: x509.Certificate

    def entry(self, label: str = "sm2") -> SoftwareEntry:
        """A key entry for it, as a PKCS#12 file would give."""
        return SoftwareEntry(label, self.certificate, self.key, f"test:{label}")

    def write_pkcs12(self, path: Path, password: str = PASSWORD) -> Path:
        """The identity as a PKCS#12 file (openssl 3 writes SM2 ones; the password goes through a file)."""
        directory = path.parent
        key_file, cert_file, pass_file = directory / "k.pem", directory / "c.pem", directory / "p.txt"
        key_file.write_bytes(_pem("PRIVATE KEY", self.key.pkcs8_der()))
        cert_file.write_bytes(_pem("CERTIFICATE", self.certificate.public_bytes(_DER)))
        pass_file.write_text(password)
        try:
            subprocess.run(
                ["openssl", "pkcs12", "-export", "-inkey", key_file, "-in", cert_file,
                 "-passout", f"file:{pass_file}", "-out", path],
                check=True, capture_output=True,
            )  # fmt: skip
        finally:
            for file in (key_file, cert_file, pass_file):
                file.unlink()
        return path


def root() -> Sm2Identity:
    """The vectors' root CA."""
    key = gm.Sm2PrivateKey.from_pem((VECTORS / "root-ca.key.pem").read_bytes())
    return Sm2Identity(key, x509.load_pem_x509_certificate((VECTORS / "root-ca.pem").read_bytes()))


def company_signer() -> Sm2Identity:
    """The vectors' company signing certificate (``bidder-sign``) and its key."""
    key = gm.Sm2PrivateKey.from_pem((VECTORS / "bidder-sign.key.pem").read_bytes())
    return Sm2Identity(key, x509.load_pem_x509_certificate((VECTORS / "bidder-sign.pem").read_bytes()))


def issue(
    subject: dict[str, str],
    *,
    issuer: Sm2Identity | None = None,
    key: gm.Sm2PrivateKey | None = None,
    serial: int = 0x5EA15EA1,
    key_usage: frozenset[str] = frozenset({"digital_signature", "non_repudiation"}),
    not_before: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    not_after: dt.datetime = dt.datetime(2035, 1, 1, tzinfo=dt.UTC),
) -> Sm2Identity:
    """An end-entity SM2 certificate for *subject* (asn1crypto name fields), signed by *issuer* (the root)."""
    issuer = issuer or root()
    key = key or gm.Sm2PrivateKey.generate()
    issuer_cert = asn1_x509.Certificate.load(issuer.certificate.public_bytes(_DER))
    spki = keys.PublicKeyInfo.load(key.public_key().spki_der())
    key_bits = spki["public_key"].contents[1:]  # RFC 5280 §4.2.1.2 (1): SHA-1 of the key's bits
    algorithm = {"algorithm": oids.SM2_WITH_SM3}
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algorithm,
            "issuer": issuer_cert.subject,
            "validity": {
                "not_before": asn1_x509.Time({"utc_time": not_before}),
                "not_after": asn1_x509.Time({"utc_time": not_after}),
            },
            "subject": asn1_x509.Name.build({"country_name": "CN", **subject}),
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {"extn_id": "key_usage", "critical": True, "extn_value": set(key_usage)},
                {
                    "extn_id": "key_identifier",
                    "critical": False,
                    "extn_value": hashlib.sha1(key_bits, usedforsecurity=False).digest(),
                },
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": issuer_cert.key_identifier},
                },
            ],
        }
    )
    certificate = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": algorithm,
            "signature_value": issuer.key.sign(tbs.dump()),
        }
    )
    return Sm2Identity(key, x509.load_der_x509_certificate(certificate.dump()))


def legal_representative() -> Sm2Identity:
    """The company's legal representative (法定代表人): a person's SM2 signing certificate."""
    return issue(
        {
            "organization_name": COMPANY,
            "organizational_unit_name": CREDIT_CODE,
            "common_name": "王建国",
        },
        serial=0x1E6A1,
    )


def _pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()
