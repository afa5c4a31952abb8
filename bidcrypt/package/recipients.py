"""Who a package is encrypted to, and how each content-key copy is wrapped.

The bidder's own encryption certificate gets the strongest key transport
the bidder's UKey really undoes (the token is asked); an opening
authority's gets the one the authority declares (OAEP-SHA256 unless it says
otherwise, never a silent PKCS#1 v1.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.envelope import (
    DEFAULT_TRANSPORT,
    KeyTransport,
    Recipient,
    RecipientIdentifier,
    strongest_transport,
)
from bidcrypt.errors import IdentityMismatchError
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeySource
from bidcrypt.package.manifest import Bidder


@dataclass(frozen=True)
class RecipientChoice:
    """One certificate the package is encrypted to, and how its key is wrapped and why."""

    certificate: x509.Certificate
    bidder: bool
    key_transport: KeyTransport | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "subject": certs.display_name(self.certificate),
            "serial": format(self.certificate.serial_number, "x"),
            "role": "bidder" if self.bidder else "opening-authority",
            "key_transport": recipient_kind(self.certificate, self.key_transport),
            "reason": self.reason,
        }


def package_recipient(certificate: x509.Certificate, key_transport: KeyTransport | None) -> Recipient:
    """The envelope recipient of a package for *certificate*: named by its SubjectKeyIdentifier.

    Every recipient of a package is named by the key identifier, SM2 ones
    too (a bare GM/T 0010 envelope names them by issuer and serial, as
    GmSSL reads them; GmSSL opens no package anyway, whose unprotectedAttrs
    it refuses): so the re-encrypt rule decides on the RecipientInfos alone,
    by the public key, and a certificate renewed with the same key still
    opens the package with one token operation (docs/package-format.md,
    sections 2.1 and 8).
    """
    return Recipient(
        certificate,
        key_transport=key_transport or KeyTransport.OAEP_SHA256,
        identifier=RecipientIdentifier.SUBJECT_KEY_IDENTIFIER,
    )


def recipient_kind(certificate: x509.Certificate, key_transport: KeyTransport | None) -> str:
    """The key transport's name for reports: the RSA transport, ``sm2`` or ``ecdh``."""
    return key_transport.value if key_transport else _kind_of(certificate)


def _kind_of(certificate: x509.Certificate) -> str:
    """How a certificate without an RSA key transport gets the key: SM2 encryption or EC agreement."""
    return "sm2" if certs.is_sm2(certificate) else "ecdh"


def _sm2_reason() -> str:
    return pick("SM2 encryption (GM/T 0010 envelope, SM4-CBC)", "SM2 加密（GM/T 0010 数字信封，SM4-CBC）")


def choose_recipients(
    bidder: Bidder,
    encrypt_to: Sequence[x509.Certificate],
    key_source: KeySource | None,
    key_transport: KeyTransport | None,
    warn: Callable[[str], None],
    authority_transport: KeyTransport = KeyTransport.OAEP_SHA256,
) -> list[RecipientChoice]:
    """Classify the certificates (the bidder's own by credit code, the rest opening authorities)
    and choose each RSA key transport.

    The bidder's own: *key_transport* when given, else the strongest the
    bidder's UKey (*key_source*, the whole token) really undoes, else PKCS#1
    v1.5, which every UKey supports (with a warning when the UKey does not
    hold the certificate, so the package cannot be test-opened on it). An
    opening authority's:
    *authority_transport*, the one the authority declares its token undoes
    (OAEP-SHA256 unless it says otherwise).
    """
    choices = []
    for certificate in certs.unique(encrypt_to):
        certs.require_purpose(certificate, Purpose.ENCRYPTION)
        own = certs.credit_code(certificate) == bidder.credit_code
        if own and certs.company_name(certificate) != bidder.name:
            warn(
                pick(
                    f"the encryption certificate names {certs.company_name(certificate)}, "
                    f"the signing certificate {bidder.name}",
                    f"加密证书单位名称为 {certs.company_name(certificate)}，签名证书为 {bidder.name}",
                )
            )
        if own:
            transport, reason = _transport_for(certificate, key_source, key_transport, warn)
        elif certs.is_sm2(certificate):
            transport, reason = None, _sm2_reason()
        elif isinstance(certs.public_key(certificate), rsa.RSAPublicKey):
            transport, reason = (
                authority_transport,
                pick(
                    "as the opening authority declares (--authority-transport)",
                    "按开标方声明的方式（--authority-transport）",
                ),
            )
        else:
            transport, reason = None, certs.encryption_method(certificate).render()
        choices.append(RecipientChoice(certificate, own, transport, reason))
    if not any(choice.bidder for choice in choices):
        raise IdentityMismatchError(
            Text("none of the encryption certificates is the bidder's own", "加密证书中没有投标人自己的证书"),
            actual=", ".join(str(certs.credit_code(c)) for c in encrypt_to) or "-",
            expected=bidder.credit_code,
        )
    return choices


def _transport_for(
    certificate: x509.Certificate,
    key_source: KeySource | None,
    requested: KeyTransport | None,
    warn: Callable[[str], None],
) -> tuple[KeyTransport | None, str]:
    if certs.is_sm2(certificate):
        return None, _sm2_reason()
    if not isinstance(certs.public_key(certificate), rsa.RSAPublicKey):
        return None, certs.encryption_method(certificate).render()
    if requested is not None:
        return requested, pick("as asked", "按指定")
    if key_source is None:
        return DEFAULT_TRANSPORT, pick(
            "no UKey to ask; PKCS#1 v1.5 is what every UKey decrypts",
            "无 U-KEY 可询问，使用所有 U-KEY 都支持的 PKCS#1 v1.5",
        )
    if not any(certs.same_public_key(e.certificate, certificate) for e in key_source.entries()):
        warn(
            pick(
                f"{key_source.description} does not hold the encryption certificate "
                f"{certs.display_name(certificate)}: the package cannot be test-opened on it",
                f"{key_source.description} 中没有加密证书 {certs.display_name(certificate)}，"
                "无法在其上试解密",
            )
        )
        return DEFAULT_TRANSPORT, pick(
            f"not on {key_source.description}; PKCS#1 v1.5 is what every UKey decrypts",
            f"不在 {key_source.description} 中，使用所有 U-KEY 都支持的 PKCS#1 v1.5",
        )
    return strongest_transport(certificate, key_source) or (
        DEFAULT_TRANSPORT,
        pick(
            f"{key_source.description} could not be asked; PKCS#1 v1.5 is what every UKey decrypts",
            f"无法询问 {key_source.description}，使用所有 U-KEY 都支持的 PKCS#1 v1.5",
        ),
    )
