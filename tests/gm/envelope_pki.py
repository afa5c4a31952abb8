"""SM2 test CAs for the envelope tests: a CA that issues, over :func:`tests.gm.pki.issue`.

Tests that need SM2 keys other than the vectors' (a second recipient, a
renewal, a certificate of another CA) make them here: :class:`Sm2Ca` issues
certificates signed by :meth:`bidcrypt.gm.Sm2PrivateKey.sign` (Z of the
default distinguishing ID), and :meth:`Sm2Identity.entry` puts the key behind
the key-source interface. :func:`vectors_ca` is the vectors' own root, to
issue certificates for the vectors' keys (a renewal of ``bidder-enc`` that
keeps its key).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from bidcrypt.gm import Sm2PrivateKey
from tests.gm.pki import Sm2Identity, issue

VECTORS = Path(__file__).parent / "vectors"
#: Validity of the certificates made here (fixed: tests pass a validation time inside it when they check).
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
ENCRYPTION = frozenset({"key_encipherment", "data_encipherment"})
_serials = itertools.count(0x5EED_0001)

__all__ = ["ENCRYPTION", "VECTORS", "Sm2Ca", "Sm2Identity", "vector_identity", "vectors_ca"]


def _name(common_name: str, organisation: str = "bidcrypt SM2 tests") -> asn1_x509.Name:
    return asn1_x509.Name.build(
        {"country_name": "CN", "organization_name": organisation, "common_name": common_name},
        use_printable=False,
    )


class Sm2Ca:
    """A CA with an SM2 key that signs certificates (SM2 with SM3)."""

    def __init__(self, certificate: x509.Certificate | None = None, key: Sm2PrivateKey | None = None) -> None:
        if certificate is None:
            self.identity = issue(
                "bidcrypt SM2 Test CA",
                key=key,
                serial=next(_serials),
                not_before=NOT_BEFORE,
                not_after=NOT_AFTER,
                ca=True,
                key_usage=("key_cert_sign", "crl_sign"),
                subject=_name("bidcrypt SM2 Test CA"),
            )
        elif key is None:
            raise ValueError("a CA's certificate comes with its key")
        else:
            self.identity = Sm2Identity(certificate, key)
        self.key = self.identity.key
        self.certificate = self.identity.certificate

    @property
    def name(self) -> asn1_x509.Name:
        """The CA's subject, the issuer of what it signs."""
        return self.identity.asn1.subject

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
        return issue(
            common_name,
            issuer=self.identity,
            key=key,
            serial=serial or next(_serials),
            not_before=not_before,
            not_after=not_after,
            key_usage=usage,
            crl_url=None,
            subject=_name(common_name, "杭州钱江测试建设有限公司"),
            spki=spki,
        )


def vectors_ca() -> Sm2Ca:
    """The GmSSL vectors' root CA, with its key."""
    certificate = x509.load_pem_x509_certificate((VECTORS / "pki" / "root-ca.pem").read_bytes())
    key = Sm2PrivateKey.from_pem((VECTORS / "pki" / "root-ca.key.pem").read_bytes())
    return Sm2Ca(certificate, key)


def vector_identity(name: str = "bidder-enc") -> Sm2Identity:
    """A key and certificate of the vectors' PKI."""
    certificate = x509.load_pem_x509_certificate((VECTORS / "pki" / f"{name}.pem").read_bytes())
    key = Sm2PrivateKey.from_pem((VECTORS / "pki" / f"{name}.key.pem").read_bytes())
    return Sm2Identity(certificate, key)
