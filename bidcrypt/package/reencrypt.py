"""Re-encryption after a replacement: the package made for the old key, opened by the new one.

Two ways, and what each protects:

* a **rewrap** (the default): the old UKey unwraps the content key (one
  operation), the key is wrapped to the new certificate, the RecipientInfos
  and the list of recipient certificates are rewritten and everything else
  is copied byte for byte. The cost does not depend on the size of the
  package. Other recipients (the opening authority) are kept. The content
  key and the ciphertext stay the same: whoever holds the old key and an
  old copy of the package can still read the re-issued one.
* a **fresh-key** re-encryption (``fresh_key=True``), for a lost or
  compromised key: the content is decrypted with the old key and
  encrypted again under a new content key, to the new certificate and to
  the other recipients. Those are not taken on the package's word (the
  recipient-certificate attribute is not authenticated): each must be
  listed with a certificate that carries the very key its RecipientInfo
  names (a key identifier computed from the key, or the issuer and serial
  number of a CA-issued certificate) and that chains to the trust store,
  else the re-encryption is refused rather than silently dropping a
  recipient. The authenticated attributes and the cipher are kept.

Running either again once the package is encrypted to the new certificate
does nothing and says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.envelope import (
    DEFAULT_TRANSPORT,
    Attribute,
    EnvelopeHeader,
    EnvelopeRecipient,
    Keys,
    KeyTransport,
    Recipient,
    candidates,
    entries_of,
    read_recipients,
    recover_in_place,
    reencrypt,
    reencrypt_fresh,
)
from bidcrypt.errors import (
    CertificateError,
    IdentityMismatchError,
    InputError,
    KeyNotFoundError,
    OldKeyUnavailableError,
    PackageError,
    WrongKeyError,
)
from bidcrypt.files import PathArg, as_path, atomic_output, check_output, copy_range, input_error, open_input
from bidcrypt.i18n import Text, pick
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES
from bidcrypt.package.bundle import MANIFEST_MEMBER
from bidcrypt.package.info import PackageInfo, read_package_info
from bidcrypt.package.pack import PACKAGE_SEGMENT, ROOM_FOR_REENCRYPTION
from bidcrypt.package.recipients import package_recipient, recipient_kind
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
    #: True when the package was already encrypted to the new certificate: nothing was re-encrypted
    #: (with an output file, the package was copied to it unchanged).
    already: bool = False
    #: True for a re-encryption under a fresh content key, False for a rewrap of the old one (with
    #: *already*: whether a fresh content key was asked for).
    fresh_key: bool = False
    #: True when, the package being already encrypted to the new certificate, it was copied to the output.
    copied: bool = False

    def message(self) -> str:
        """One line for the user."""
        who = certs.display_name(self.new_certificate)
        if self.already:
            copied_en = f" (copied unchanged to {self.output})" if self.copied else ""
            copied_zh = f"（已原样复制到 {self.output}）" if self.copied else ""
            text = pick(
                f"the package is already encrypted to {who}: nothing to re-encrypt{copied_en}",
                f"文件包已加密给 {who}，无需重新加密{copied_zh}",
            )
            if self.fresh_key:
                text += pick(
                    "; the old key opens it no more. If it was only rewrapped before (without "
                    "--fresh-key), run again with the new UKey as --key to give it a fresh content key",
                    "；原密钥已无法打开。若此前只是重新封装（未用 --fresh-key），"
                    "请以新 U-KEY 作为 --key 再次运行，以更换内容密钥",
                )
            return text
        if self.fresh_key:
            return pick(
                f"re-encrypted under a fresh content key to {who} and {self.kept_recipients} other "
                f"recipient(s): {self.output}",
                f"已用新的内容密钥重新加密给 {who} 及其他 {self.kept_recipients} 个收件人：{self.output}",
            )
        return pick(f"re-encrypted to {who}: {self.output}", f"已重新加密给 {who}：{self.output}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "output": str(self.output),
            "new_certificate": certs.display_name(self.new_certificate),
            "key_transport": recipient_kind(self.new_certificate, self.key_transport),
            "kept_recipients": self.kept_recipients,
            "already_encrypted_to_it": self.already,
            "copied": self.copied,
            "fresh_key": self.fresh_key,
            "check": self.verdict.to_dict(),
        }


def reencrypt_package(
    source: PathArg,
    output: PathArg | None,
    old_keys: Keys,
    new_certificate: x509.Certificate,
    *,
    key_transport: KeyTransport | None = None,
    trust: TrustStore | None = None,
    at: dt.datetime | None = None,
    fresh_key: bool = False,
) -> ReencryptPackageResult:
    """Write *output*: *source* re-encrypted to *new_certificate* with the old key *old_keys*.

    The new certificate must be an encryption certificate of the same bidder
    (same credit code). For RSA, *key_transport* defaults to the one the
    recipient opened by the old key used (the same CA's UKeys do the same
    things). With *output* None the package itself is re-encrypted in
    place: for a rewrap only its front and tail are written, journalled
    (see :func:`~bidcrypt.envelope.reencrypt`); an earlier in-place run
    that was interrupted is undone first. With *fresh_key* the content is
    encrypted again under a new key (see the module's documentation;
    *trust* is then required when there are other recipients). A package
    already encrypted to *new_certificate* is left as it is (copied to
    *output* when given), and the result says so.
    """
    source = as_path(source)
    output = None if output is None else as_path(output)
    recover_in_place(source)
    info = read_package_info(source)
    _check_new(info, new_certificate)
    if output is not None:
        check_output(output, False)
    opened = [r for r, _ in candidates(info.header, entries_of(old_keys), info.recipient_certificates)]
    if info.recipient_of(new_certificate) is not None and not (fresh_key and opened):
        return _already(info, output, new_certificate, fresh_key)
    transport = key_transport or next((r.key_transport for r in opened if r.key_transport), DEFAULT_TRANSPORT)
    recipient = package_recipient(new_certificate, transport)
    check = _unchanged_since(source, info.header)
    try:
        if fresh_key:
            others = _other_recipients(info, opened, new_certificate, trust, at)
            listed = [new_certificate, *(other.certificate for other in others)]
            result = reencrypt_fresh(
                source,
                output,
                old_keys,
                [recipient, *others],
                at=at,
                trust=trust,
                unauthenticated_attributes=_attributes_after(info.header.unauthenticated_attributes, listed),
                reserve=ROOM_FOR_REENCRYPTION,
                chunk_size=PACKAGE_SEGMENT,
                check=check,
                certificates=info.recipient_certificates,
            )
            kept = len(others)
        else:
            listed = _certificates_after(info.recipient_certificates, new_certificate)
            result = reencrypt(
                source,
                output,
                old_keys,
                [recipient],
                keep_others=True,
                verify=False,
                at=at,
                trust=trust,
                unauthenticated_attributes=_attributes_after(info.header.unauthenticated_attributes, listed),
                reserve=ROOM_FOR_REENCRYPTION,
                check=check,
                plausible=_starts_with_the_manifest,
                certificates=info.recipient_certificates,
            )
            kept = result.kept
    except (WrongKeyError, KeyNotFoundError) as exc:
        raise OldKeyUnavailableError(exc.message()) from exc
    # The rule on the new package: its recipients as written, read back from its front (reading its
    # whole header would walk the content, which on a file system with shared blocks is not even in
    # the page cache), and the certificates listed in its trailer, as written above.
    written = read_recipients(result.output).recipients
    listed = [c for c in listed if any(r.rid is not None and r.rid.matches(c) for r in written)]
    verdict = check_recipients(info.attributes, written, listed, new_certificate)
    return ReencryptPackageResult(
        result.output,
        new_certificate,
        transport if recipient.is_rsa else None,
        kept,
        verdict,
        fresh_key=fresh_key,
    )


def _check_new(info: PackageInfo, new_certificate: x509.Certificate) -> None:
    certs.require_purpose(new_certificate, Purpose.ENCRYPTION)
    if certs.credit_code(new_certificate) != info.attributes.credit_code:
        raise IdentityMismatchError(
            Text("the new certificate is not the bidder's", "新证书不属于投标人"),
            actual=f"{certs.display_name(new_certificate)} ({certs.credit_code(new_certificate) or '-'})",
            expected=f"{info.attributes.bidder_name} ({info.attributes.credit_code})",
        )


def _already(
    info: PackageInfo, output: Path | None, new_certificate: x509.Certificate, fresh_key: bool
) -> ReencryptPackageResult:
    """The package already names the new certificate's key: nothing to do (a copy for ``-o``)."""
    if output is not None:
        with open_input(info.path, buffered=False) as stream, atomic_output(output) as sink:
            try:
                copied = copy_range(stream, 0, info.header.size, sink)
            except OSError as exc:
                raise input_error(exc, info.path) from exc
            if copied != info.header.size:
                raise InputError(
                    Text("the file changed while it was being copied", "复制过程中文件被改变"), path=info.path
                )
    verdict = check_recipients(
        info.attributes, info.header.recipients, info.recipient_certificates, new_certificate
    )
    return ReencryptPackageResult(
        output or info.path,
        new_certificate,
        None,
        len(info.header.recipients) - 1,
        verdict,
        already=True,
        fresh_key=fresh_key,
        copied=output is not None,
    )


def _starts_with_the_manifest(prefix: bytes) -> bool:
    """A package's bundle begins with the tar header of its signed manifest (a wrong key gives noise)."""
    return MANIFEST_MEMBER.encode() in prefix[:1024]


def _unchanged_since(path: Path, read: EnvelopeHeader) -> Callable[[EnvelopeHeader], None]:
    def check(now: EnvelopeHeader) -> None:
        """Refuse when the package changed between its first reading and the locked rewrite."""
        if (read.size, read.recipient_infos, read.unauthenticated_attributes) != (
            now.size,
            now.recipient_infos,
            now.unauthenticated_attributes,
        ):
            raise InputError(
                Text("the file changed while it was being re-encrypted", "重新加密过程中文件被改变"),
                path=path,
            )

    return check


def _other_recipients(
    info: PackageInfo,
    opened: Sequence[EnvelopeRecipient],
    new_certificate: x509.Certificate,
    trust: TrustStore | None,
    at: dt.datetime | None,
) -> list[Recipient]:
    """The recipients other than the bidder's, each with a certificate proven to carry its key.

    The bidder's own recipients (named by the old key, by the new
    certificate, or proven to be of the bidder's credit code) are left out:
    the new certificate replaces them all.
    """
    others: list[Recipient] = []
    for recipient in info.header.recipients:
        if recipient in opened or (recipient.rid is not None and recipient.rid.matches(new_certificate)):
            continue
        certificate = _proven_certificate(info, recipient, trust, at)
        if certs.credit_code(certificate) == info.attributes.credit_code:
            continue
        if any(certs.same_public_key(certificate, other.certificate) for other in others):
            continue
        others.append(package_recipient(certificate, recipient.key_transport or DEFAULT_TRANSPORT))
    return others


def _proven_certificate(
    info: PackageInfo, recipient: EnvelopeRecipient, trust: TrustStore | None, at: dt.datetime | None
) -> x509.Certificate:
    """The listed certificate of *recipient*, proven: it carries the named key and chains to *trust*."""
    rid = recipient.rid
    named = rid.describe() if rid is not None else recipient.kind.value
    where = Text(
        "recipient {value} ({named})",
        "第 {value} 个收件人（{named}）",
        value=recipient.index + 1,
        named=named,
    )
    if trust is None:
        raise PackageError(
            Text(
                "a fresh-key re-encryption must encrypt to {where} again, and needs --trust to check "
                "its certificate (the package's list of certificates is not authenticated)",
                "使用新内容密钥重新加密时须再次加密给{where}，"
                "需用 --trust 核验其证书（文件包所列证书未经认证）",
                where=where,
            )
        )
    failure: CertificateError | None = None
    for certificate in info.recipient_certificates:
        if rid is None:
            break
        by_key = rid.names_key_of(certificate)
        by_issuer = rid.subject_key_identifier is None and rid.matches(certificate)
        if not (by_key or by_issuer):
            continue
        try:
            trust.validate(certificate, at)
        except CertificateError as error:
            failure = failure or error
            continue
        return certificate
    if failure is not None:
        raise failure
    raise PackageError(
        Text(
            "{where} cannot be encrypted to again: the package lists no certificate that carries the key "
            "it names; a fresh-key re-encryption would drop it, so it is refused (pack the bid again)",
            "无法再次加密给{where}：文件包未列出载有其密钥的证书；使用新内容密钥重新加密会丢失该收件人，"
            "故拒绝（请重新打包）",
            where=where,
        )
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
