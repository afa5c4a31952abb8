"""SM2 certificates and CRLs made in a test: asn1crypto structures signed by :class:`gm.Sm2PrivateKey`.

The signatures are SM2 with SM3 (``1.2.156.10197.1.501``, no parameters) with
Z of the default distinguishing ID unless a test asks otherwise, as CAs sign.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt import gm
from bidcrypt.keys import KeyEntry
from bidcrypt.keys.software import SoftwareEntry

_DER = Encoding.DER

#: A moment the test certificates are valid at.
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2036, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Sm2Identity:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: gm.Sm2PrivateKey

    @property
    def der(self) -> bytes:
        """The certificate, DER."""
        return self.certificate.public_bytes(_DER)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        """The certificate as asn1crypto reads it."""
        return asn1_x509.Certificate.load(self.der)

    def entry(self, label: str = "sm2-test") -> KeyEntry:
        """A key entry holding the key in memory (as a PKCS#12 file's would)."""
        return SoftwareEntry(label, self.certificate, self.key, "test")


def name(common_name: str) -> asn1_x509.Name:
    """``C=CN, O=SM2 Test, CN=common_name``."""
    return asn1_x509.Name.build(
        {"country_name": "CN", "organization_name": "SM2 Test", "common_name": common_name}
    )


def _key_id(info: asn1_keys.PublicKeyInfo) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (an identifier, not a security hash)."""
    return hashlib.sha1(info["public_key"].contents[1:], usedforsecurity=False).digest()


def _algorithm(oid: str) -> dict[str, object]:
    return {"algorithm": oid}


def issue(
    common_name: str,
    *,
    issuer: Sm2Identity | None = None,
    key: gm.Sm2PrivateKey | None = None,
    serial: int = 1,
    not_before: dt.datetime = START,
    not_after: dt.datetime = END,
    ca: bool = False,
    path_length: int | None = None,
    key_usage: Iterable[str] = ("digital_signature", "non_repudiation"),
    algorithm: str = gm.oids.SM2_WITH_SM3,
    distid: bytes = gm.DEFAULT_ID,
    signer: gm.Sm2PrivateKey | None = None,
    crl_url: str | None = "http://crl.sm2.test/ca.crl",
    subject: asn1_x509.Name | None = None,
    spki: bytes | None = None,
) -> Sm2Identity:
    """A certificate for *common_name*, signed by *issuer* (self-signed without one).

    *signer* signs instead of the issuer's key (a forged certificate);
    *distid* and *algorithm* make signatures with another ID or OID. An
    issued certificate names *crl_url* as its CRL distribution point, as the
    fixture PKI's do (pyhanko-certvalidator checks revocation when one is named).
    *subject* replaces ``C=CN, O=SM2 Test, CN=common_name``; *spki* replaces
    the key's SubjectPublicKeyInfo (a hostile certificate).
    """
    key = key or gm.Sm2PrivateKey.generate()
    info = asn1_keys.PublicKeyInfo.load(spki or key.public_key().spki_der())
    subject = subject or name(common_name)
    issuer_name = issuer.asn1.subject if issuer else subject
    authority = issuer.asn1.public_key if issuer else info
    extensions = [
        {"extn_id": "key_usage", "critical": True, "extn_value": set(key_usage)},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(info)},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": _key_id(authority)},
        },
        {
            "extn_id": "basic_constraints",
            "critical": True,
            "extn_value": {"ca": ca, "path_len_constraint": path_length if ca else None},
        },
    ]
    if issuer and crl_url:
        point = {
            "distribution_point": {
                "full_name": [asn1_x509.GeneralName({"uniform_resource_identifier": crl_url})]
            }
        }
        extensions.append({"extn_id": "crl_distribution_points", "critical": False, "extn_value": [point]})
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": _algorithm(algorithm),
            "issuer": issuer_name,
            "validity": {
                "not_before": asn1_x509.Time({"utc_time": not_before}),
                "not_after": asn1_x509.Time({"utc_time": not_after}),
            },
            "subject": subject,
            "subject_public_key_info": info,
            "extensions": extensions,
        }
    )
    signing_key = signer or (issuer.key if issuer else key)
    signature = signing_key.sign(tbs.dump(), distid=distid)
    certificate = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": _algorithm(algorithm), "signature_value": signature}
    )
    return Sm2Identity(x509.load_der_x509_certificate(certificate.dump()), key)


def revocation_list(
    issuer: Sm2Identity,
    revoked: Iterable[tuple[int, dt.datetime]] = (),
    *,
    this_update: dt.datetime = START,
    next_update: dt.datetime = END,
    signer: gm.Sm2PrivateKey | None = None,
    algorithm: str = gm.oids.SM2_WITH_SM3,
    distid: bytes = gm.DEFAULT_ID,
) -> bytes:
    """A DER CRL of *issuer* listing the *revoked* (serial, date) pairs, SM2-signed (by *signer* if given)."""
    entries = [
        {"user_certificate": serial, "revocation_date": asn1_x509.Time({"utc_time": when})}
        for serial, when in revoked
    ]
    tbs = asn1_crl.TbsCertList(
        {
            "version": "v2",
            "signature": _algorithm(algorithm),
            "issuer": issuer.asn1.subject,
            "this_update": asn1_x509.Time({"utc_time": this_update}),
            "next_update": asn1_x509.Time({"utc_time": next_update}),
            "revoked_certificates": entries or None,
            "crl_extensions": [
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": _key_id(issuer.asn1.public_key)},
                },
                {"extn_id": "crl_number", "critical": False, "extn_value": 1},
            ],
        }
    )
    signature = (signer or issuer.key).sign(tbs.dump(), distid=distid)
    return bytes(
        asn1_crl.CertificateList(
            {"tbs_cert_list": tbs, "signature_algorithm": _algorithm(algorithm), "signature": signature}
        ).dump()
    )


def flip_signature_bit(certificate: x509.Certificate) -> x509.Certificate:
    """The certificate with one bit of its signature changed."""
    der = bytearray(certificate.public_bytes(_DER))
    der[-10] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))
