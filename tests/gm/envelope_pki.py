"""SM2 test certificates made in the test: asn1crypto structures signed with SM2 with SM3.

Until the fixture PKI has its SM2 hierarchy, tests that need SM2 keys other
than the vectors' (a second recipient, a renewal, a certificate of another
CA) make them here: :class:`Sm2Ca` issues certificates signed by
:meth:`bidcrypt.gm.Sm2PrivateKey.sign` (Z of the default distinguishing ID),
and :meth:`Sm2Identity.entry` puts the key behind the key-source interface.
:func:`vectors_ca` is the vectors' own root, to issue certificates for the
vectors' keys (a renewal of ``bidder-enc`` that keeps its key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt.gm import Sm2PrivateKey, oids
from bidcrypt.keys import KeyEntry
from bidcrypt.keys.pkcs12_file import SoftwareEntry

VECTORS = Path(__file__).parent / "vectors"
#: Validity of the certificates made here (fixed: tests pass a validation time inside it when they check).
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
ENCRYPTION = frozenset({"key_encipherment", "data_encipherment"})
_serials = itertools.count(0x5EED_0001)


@dataclass(frozen=True)
class Sm2Identity:
    """An SM2 key with its certificate."""

    key: Sm2PrivateKey
    certificate: x509.Certificate

    def entry(self, label: str = "sm2-test") -> KeyEntry:
        """A key entry holding the key in memory (as a PKCS#12 file's would)."""
        return SoftwareEntry(label, self.certificate, self.key, "test")


def _name(common_name: str, organisation: str = "bidcrypt SM2 tests") -> asn1_x509.Name:
    return asn1_x509.Name.build(
        {"country_name": "CN", "organization_name": organisation, "common_name": common_name},
        use_printable=False,
    )


class Sm2Ca:
    """A CA with an SM2 key that signs certificates (SM2 with SM3)."""

    def __init__(self, certificate: x509.Certificate | None = None, key: Sm2PrivateKey | None = None) -> None:
        self.key = key or Sm2PrivateKey.generate()
        if certificate is None:
            name = _name("bidcrypt SM2 Test CA")
            certificate = self._sign(
                name, name, self.key.public_key().spki_der(), next(_serials), None, ca=True
            )
        self.certificate = certificate

    @property
    def name(self) -> asn1_x509.Name:
        """The CA's subject, the issuer of what it signs."""
        return asn1_x509.Certificate.load(self.certificate.public_bytes(Encoding.DER))["tbs_certificate"][
            "subject"
        ]

    def issue(
        self,
        common_name: str,
        *,
        key: Sm2PrivateKey | None = None,
        serial: int | None = None,
        usage: frozenset[str] = ENCRYPTION,
        not_before: dt.datetime = NOT_BEFORE,
        not_after: dt.datetime = NOT_AFTER,
        spki: bytes | None = None,
    ) -> Sm2Identity:
        """A certificate for *key* (a new one by default) with *usage* (asn1crypto's key usage names).

        *spki* replaces the subject public key info (a hostile certificate).
        """
        key = key or Sm2PrivateKey.generate()
        certificate = self._sign(
            _name(common_name, "杭州钱江测试建设有限公司"),
            self.name,
            spki or key.public_key().spki_der(),
            serial or next(_serials),
            usage,
            not_before=not_before,
            not_after=not_after,
        )
        return Sm2Identity(key, certificate)

    def _sign(
        self,
        subject: asn1_x509.Name,
        issuer: asn1_x509.Name,
        spki: bytes,
        serial: int,
        usage: frozenset[str] | None,
        *,
        ca: bool = False,
        not_before: dt.datetime = NOT_BEFORE,
        not_after: dt.datetime = NOT_AFTER,
    ) -> x509.Certificate:
        info = asn1_keys.PublicKeyInfo.load(spki)
        ski = hashlib.sha1(info["public_key"].contents[1:], usedforsecurity=False).digest()
        extensions = [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
            {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
            {
                "extn_id": "key_usage",
                "critical": True,
                "extn_value": set(usage) if usage is not None else {"key_cert_sign", "crl_sign"},
            },
        ]
        tbs = asn1_x509.TbsCertificate(
            {
                "version": "v3",
                "serial_number": serial,
                "signature": {"algorithm": oids.SM2_WITH_SM3},
                "issuer": issuer,
                "validity": {
                    "not_before": asn1_x509.Time({"utc_time": not_before}),
                    "not_after": asn1_x509.Time({"utc_time": not_after}),
                },
                "subject": subject,
                "subject_public_key_info": info,
                "extensions": extensions,
            }
        )
        signature = self.key.sign(tbs.dump())
        certificate = asn1_x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": {"algorithm": oids.SM2_WITH_SM3},
                "signature_value": signature,
            }
        )
        return x509.load_der_x509_certificate(certificate.dump())


def vectors_ca() -> Sm2Ca:
    """The GmSSL vectors' root CA, with its key."""
    certificate = x509.load_pem_x509_certificate((VECTORS / "pki" / "root-ca.pem").read_bytes())
    key = Sm2PrivateKey.from_pem((VECTORS / "pki" / "root-ca.key.pem").read_bytes())
    return Sm2Ca(certificate, key)


def vector_identity(name: str = "bidder-enc") -> Sm2Identity:
    """A key and certificate of the vectors' PKI."""
    certificate = x509.load_pem_x509_certificate((VECTORS / "pki" / f"{name}.pem").read_bytes())
    key = Sm2PrivateKey.from_pem((VECTORS / "pki" / f"{name}.key.pem").read_bytes())
    return Sm2Identity(key, certificate)
