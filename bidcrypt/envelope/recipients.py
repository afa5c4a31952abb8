"""Recipients: the certificates an envelope is encrypted to, and reading an envelope's RecipientInfos.

Building: a :class:`Recipient` is a checked encryption certificate with the
way its key is wrapped -- RSA key transport (:mod:`~bidcrypt.envelope.key_transport`,
OAEP or PKCS#1 v1.5) or ephemeral-static ECDH (:mod:`~bidcrypt.envelope.key_agreement`,
RFC 5753) -- and how it is named (:mod:`~bidcrypt.envelope.identifiers`): by its
SubjectKeyIdentifier (the default, so a renewal that kept the key still
matches) or by issuer and serial number.

Opening: :func:`parse_recipient_infos` reads what an envelope says about
each recipient (:class:`EnvelopeRecipient`); :mod:`~bidcrypt.envelope.unwrapping`
asks a key source for the private-key operation.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bidcrypt import certs
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.identifiers import (
    EnvelopeRecipient,
    RecipientId,
    RecipientIdentifier,
    RecipientKind,
    computed_key_identifiers,
    key_identifiers,
    name_text,
)
from bidcrypt.envelope.key_agreement import key_agreement_info, parse_key_agreement_info
from bidcrypt.envelope.key_transport import key_transport_info, parse_key_transport_info
from bidcrypt.envelope.sm2_transport import sm2_key_transport_info
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.gm import Sm2PublicKey
from bidcrypt.i18n import Text

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore

__all__ = [
    "MIN_RSA_BITS",
    "EnvelopeRecipient",
    "Recipient",
    "RecipientId",
    "RecipientIdentifier",
    "RecipientKind",
    "check_all",
    "check_suite",
    "computed_key_identifiers",
    "key_identifiers",
    "name_text",
    "new_content_key",
    "parse_recipient_infos",
]

#: Smallest RSA modulus bidcrypt encrypts to.
MIN_RSA_BITS = 2048


def parse_recipient_infos(node: ber.Node) -> tuple[EnvelopeRecipient, ...]:
    """Every recipient in a RecipientInfos SET."""
    if not node.is_(ber.UNIVERSAL, ber.SET, constructed=True):
        raise ber.malformed(
            Text(
                "RecipientInfos: unexpected {describe}",
                "RecipientInfos：意外的元素 {describe}",
                describe=node.head.describe(),
            ),
        )
    if not node.children:
        raise ber.malformed(Text("no recipients", "没有接收者"))
    found: list[EnvelopeRecipient] = []
    for index, info in enumerate(node.children):
        if info.is_(ber.UNIVERSAL, ber.SEQUENCE, constructed=True):
            found.append(parse_key_transport_info(index, info.raw))
        elif info.is_(ber.CONTEXT, 1, constructed=True):
            found.extend(parse_key_agreement_info(index, info.raw))
        elif info.head.cls == ber.CONTEXT and info.head.number in (2, 3, 4) and info.head.constructed:
            kind = {2: RecipientKind.KEK, 3: RecipientKind.PASSWORD, 4: RecipientKind.OTHER}[info.head.number]
            supported = Text(
                "supported: KeyTransRecipientInfo (RSA, SM2) and KeyAgreeRecipientInfo (ECDH)",
                "支持：KeyTransRecipientInfo（RSA、SM2）与 KeyAgreeRecipientInfo（ECDH）",
            )
            found.append(
                EnvelopeRecipient(index, kind, None, "", b"", problem=supported, problem_algorithm=kind.value)
            )
        else:
            raise ber.malformed(Text("unknown kind of recipient", "未知的接收者类型"))
    return tuple(found)


@dataclass(frozen=True)
class Recipient:
    """A certificate to encrypt to, checked for use, and how its key is wrapped and named.

    Creating one checks what does not depend on time or trust: the key
    usage allows encryption (keyEncipherment for RSA, keyAgreement for EC,
    keyEncipherment or dataEncipherment for SM2) and the key is RSA of at
    least 2048 bits, EC on P-256 / P-384, or SM2. Validity and trust are
    checked by :meth:`check` when encrypting. ``key_transport`` applies to
    RSA certificates only, ``sm2_encryption`` to SM2 ones. ``identifier``
    None is the suite's default: issuerAndSerialNumber for SM2 (GM/T 0010,
    and the only form GmSSL opens), the SubjectKeyIdentifier otherwise (a
    same-key renewal still matches).
    """

    certificate: x509.Certificate
    key_transport: KeyTransport = KeyTransport.OAEP_SHA256
    identifier: RecipientIdentifier | None = None
    #: CA certificates that came with the recipient's certificate (for chain building).
    chain: tuple[x509.Certificate, ...] = field(default=(), repr=False)
    sm2_encryption: alg.Sm2KeyEncryption = alg.Sm2KeyEncryption.GMSSL

    def __post_init__(self) -> None:
        certs.require_purpose(self.certificate, certs.Purpose.ENCRYPTION)
        public_key = certs.public_key(self.certificate)
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                raise UnsupportedAlgorithmError(
                    Text(
                        "at least {MIN_RSA_BITS} bits are required",
                        "至少需要 {MIN_RSA_BITS} 位",
                        MIN_RSA_BITS=MIN_RSA_BITS,
                    ),
                    algorithm=f"RSA-{public_key.key_size}",
                )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if alg.curve_of(public_key) is None:
                raise UnsupportedAlgorithmError(algorithm=f"EC {public_key.curve.name}")
        elif isinstance(public_key, Sm2PublicKey):
            if not self.sm2_encryption.offered:
                raise ValueError(f"bidcrypt does not write {self.sm2_encryption.describe()}")
        else:
            raise UnsupportedAlgorithmError(algorithm=certs.key_description(self.certificate))

    def check(self, at: dt.datetime | None = None, trust: TrustStore | None = None) -> None:
        """Raise unless the certificate is valid at *at* (default: now) and, given a store, trusted."""
        certs.require_valid_at(self.certificate, at)
        if trust is not None:
            trust.validate(self.certificate, at, self.chain)

    @property
    def is_rsa(self) -> bool:
        """True for RSA key transport, False for key agreement and SM2."""
        return isinstance(certs.public_key(self.certificate), rsa.RSAPublicKey)

    @property
    def is_sm2(self) -> bool:
        """True for an SM2 certificate: it needs a GM/T 0010 envelope (SM4-CBC)."""
        return isinstance(certs.public_key(self.certificate), Sm2PublicKey)

    @property
    def rid_kind(self) -> RecipientIdentifier:
        """How the recipient is named: as chosen, or the suite's default."""
        if self.identifier is not None:
            return self.identifier
        if self.is_sm2:
            return RecipientIdentifier.ISSUER_AND_SERIAL
        return RecipientIdentifier.SUBJECT_KEY_IDENTIFIER

    def wrap(self, content_key: bytes) -> bytes:
        """The DER RecipientInfo carrying *content_key* for this certificate."""
        rid = RecipientId.of(self.certificate, self.rid_kind)
        public_key = certs.public_key(self.certificate)
        if isinstance(public_key, rsa.RSAPublicKey):
            return key_transport_info(rid, public_key, self.key_transport, content_key)
        if isinstance(public_key, Sm2PublicKey):
            return sm2_key_transport_info(rid, public_key, self.sm2_encryption, content_key)
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        return key_agreement_info(rid, public_key, content_key)

    def describe(self) -> str:
        """Subject and key, for reports."""
        return f"{certs.display_name(self.certificate)} ({certs.key_description(self.certificate)})"


def new_content_key(cipher: alg.ContentCipher) -> bytes:
    """A fresh random content-encryption key for *cipher*."""
    return os.urandom(cipher.key_size)


def check_all(recipients: Sequence[Recipient], at: dt.datetime | None, trust: TrustStore | None) -> None:
    """Check every recipient's validity (and trust, with a store) before anything is written."""
    for recipient in recipients:
        recipient.check(at, trust)


def check_suite(cipher: alg.ContentCipher, recipients: Sequence[Recipient]) -> None:
    """SM2 recipients go in a GM/T 0010 envelope (SM4-CBC) only: :class:`UnsupportedAlgorithmError` else.

    No standard carries SM2 key transport in an RFC 5652/5083 envelope, and
    no reader would open one; an envelope's suite is fixed when it is made.
    """
    sm2 = [r for r in recipients if r.is_sm2]
    if sm2 and not cipher.is_gm:
        raise UnsupportedAlgorithmError(
            Text(
                "an SM2 recipient ({recipient}) needs a GM/T 0010 envelope with SM4-CBC",
                "SM2 接收者（{recipient}）需要使用 SM4-CBC 的 GM/T 0010 数字信封",
                recipient=sm2[0].describe(),
            ),
            algorithm=f"SM2, {cipher.value}",
        )
