"""Re-encryption after a replacement: wrap the content key to the new certificate, content untouched.

The old UKey unwraps the content key (one operation); the key is wrapped
to the new certificate; the RecipientInfos and the list of recipient
certificates are rewritten and everything else is copied byte for byte.
The cost does not depend on the size of the package. Other recipients
(the opening authority) are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.envelope import (
    Attribute,
    EnvelopeHeader,
    Recipient,
    read_recipients,
    recover_in_place,
    reencrypt,
)
from bidcrypt.envelope.opening import Keys
from bidcrypt.errors import (
    IdentityMismatchError,
    InputError,
    KeyNotFoundError,
    OldKeyUnavailableError,
    WrongKeyError,
)
from bidcrypt.i18n import pick
from bidcrypt.keys import KeyTransport
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES
from bidcrypt.package.info import read_package_info
from bidcrypt.package.pack import ROOM_FOR_REENCRYPTION
from bidcrypt.package.rule import RuleVerdict, check_recipients
from bidcrypt.trust import TrustStore


@dataclass(frozen=True)
class ReencryptPackageResult:
    """What :func:`reencrypt_package` made and the rule's verdict on it."""

    output: Path
    new_certificate: x509.Certificate
    key_transport: KeyTransport | None
    kept_recipients: int
    verdict: RuleVerdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "output": str(self.output),
            "new_certificate": certs.display_name(self.new_certificate),
            "key_transport": self.key_transport.value if self.key_transport else "ecdh",
            "kept_recipients": self.kept_recipients,
            "check": self.verdict.to_dict(),
        }


def reencrypt_package(
    source: Path,
    output: Path | None,
    old_keys: Keys,
    new_certificate: x509.Certificate,
    *,
    key_transport: KeyTransport | None = None,
    trust: TrustStore | None = None,
    at: dt.datetime | None = None,
) -> ReencryptPackageResult:
    """Write *output*: *source* re-wrapped to *new_certificate* with the old key *old_keys*.

    The new certificate must be an encryption certificate of the same bidder
    (same credit code). For RSA, *key_transport* defaults to the one the old
    recipient used (the same CA's UKeys do the same things). With *output*
    None the package itself is re-encrypted in place: only its front and
    tail are written, journalled (see :func:`~bidcrypt.envelope.reencrypt`).
    An earlier in-place run that was interrupted is undone first.
    """
    recover_in_place(source)
    info = read_package_info(source)
    certs.require_purpose(new_certificate, Purpose.ENCRYPTION)
    if certs.credit_code(new_certificate) != info.attributes.credit_code:
        raise IdentityMismatchError(
            pick("the new certificate is not the bidder's", "新证书不属于投标人"),
            actual=f"{certs.display_name(new_certificate)} ({certs.credit_code(new_certificate) or '-'})",
            expected=f"{info.attributes.bidder_name} ({info.attributes.credit_code})",
        )
    bidder_recipients = [
        r
        for r in info.header.recipients
        if any(
            r.rid is not None and r.rid.matches(c) and certs.credit_code(c) == info.attributes.credit_code
            for c in info.recipient_certificates
        )
    ]
    transport = key_transport or next(
        (r.key_transport for r in bidder_recipients if r.key_transport is not None), KeyTransport.PKCS1V15
    )
    recipient = Recipient(new_certificate, key_transport=transport)
    listed_after = _certificates_after(info.recipient_certificates, new_certificate)
    attributes = _attributes_after(info.header.unauthenticated_attributes, listed_after)
    try:
        result = reencrypt(
            source,
            output,
            old_keys,
            [recipient],
            keep_others=True,
            verify=False,
            at=at,
            trust=trust,
            unauthenticated_attributes=attributes,
            reserve=ROOM_FOR_REENCRYPTION,
            check=lambda header: _unchanged(source, info.header, header),
        )
    except (WrongKeyError, KeyNotFoundError) as exc:
        raise OldKeyUnavailableError(exc.message()) from exc
    output = result.output
    # The rule on the new package: its recipients as written, read back from its front (reading its
    # whole header would walk the content, which on a file system with shared blocks is not even in
    # the page cache), and the certificates listed in its trailer, as written above.
    written = read_recipients(output).recipients
    listed = [c for c in listed_after if any(r.rid is not None and r.rid.matches(c) for r in written)]
    verdict = check_recipients(info.attributes, written, listed, new_certificate)
    return ReencryptPackageResult(
        output, new_certificate, transport if recipient.is_rsa else None, result.kept, verdict
    )


def _unchanged(path: Path, read: EnvelopeHeader, now: EnvelopeHeader) -> None:
    """Refuse when the package changed between its first reading and the locked rewrite."""
    if (read.size, read.recipient_infos, read.unauthenticated_attributes) != (
        now.size,
        now.recipient_infos,
        now.unauthenticated_attributes,
    ):
        raise InputError(
            pick("the file changed while it was being re-encrypted", "重新加密过程中文件被改变"), path=path
        )


def _certificates_after(
    listed: tuple[x509.Certificate, ...], new: x509.Certificate
) -> list[x509.Certificate]:
    """The recipient certificates to list: the new one in place of the bidder's old ones."""
    code = certs.credit_code(new)
    return [new, *(c for c in listed if certs.credit_code(c) != code)]


def _attributes_after(existing: tuple[Attribute, ...], listed: list[x509.Certificate]) -> list[Attribute]:
    """The unauthenticated attributes with *listed* as the recipient certificates."""
    values = tuple(c.public_bytes(serialization.Encoding.DER) for c in listed)
    others = [a for a in existing if a.oid != RECIPIENT_CERTIFICATES]
    return [*others, Attribute(RECIPIENT_CERTIFICATES, values)]
