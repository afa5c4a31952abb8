"""Key release (解密授权), the bidder's side and the reading of one: the content key, signed and sealed.

:func:`make_release` recovers a bid's content key on the bidder's UKey from
the bidder's own RecipientInfo (the package, or only its front: the bytes
before the encrypted content), signs a release statement with the company
signing certificate (docs/remote.md)::

    {"type": "bidcrypt-release", "version": 1, "session": id, "tender": "...", "lot": "1" | null,
     "credit_code": "...", "submission_sha256": "<hex>", "cipher": "aes-256-gcm",
     "content_key": "<base64>", "time": "..."}

and seals it to the session profile's release certificate. The content key
exists in the clear only in this process and, later, in the session's
opening process. A UKey that keeps content keys inside (an SKF standard
path) cannot make a release, and says so before any token operation.

:func:`read_release` is the session's reading: open with the release key,
check the signature and every field, return a :class:`Release`. Whether
the signer is trusted, the bidder's, and inside the window is the session's
question (:func:`bidcrypt.opening.accept.accept_release`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.envelope import (
    ContentCipher,
    ContentKey,
    EnvelopeHeader,
    Keys,
    RecipientsPart,
    candidates,
    content_prefix,
    entries_of,
    read_front,
    read_header,
    unwrap_content_key,
)
from bidcrypt.errors import (
    BidcryptError,
    InputError,
    MalformedEnvelopeError,
    PackageError,
    ReleaseMalformedError,
    ReleaseTooLargeError,
    ReleaseUnavailableError,
)
from bidcrypt.files import PathArg, as_path
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.bundle import MANIFEST_MEMBER
from bidcrypt.package.info import read_package_info
from bidcrypt.package.manifest import Bidder
from bidcrypt.package.pack import bidder_of
from bidcrypt.package.statements import (
    MAX_STATEMENT,
    RELEASE,
    STATEMENT_VERSION,
    Statement,
    format_statement_time,
    open_sealed,
    parse_statement_time,
    read_statement,
    seal,
    sign_statement,
)

__all__ = [
    "MAX_RELEASE",
    "Release",
    "ReleaseProfile",
    "company_signer",
    "front_of",
    "make_release",
    "read_release",
    "release_opens",
]

#: The largest release a session reads (the contract's 64 KiB).
MAX_RELEASE = MAX_STATEMENT
#: The most bytes of a package read into memory as its front.
_MAX_FRONT = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


class ReleaseProfile(Protocol):
    """What a release needs of the session profile (:class:`bidcrypt.package.SessionProfile` has it)."""

    @property
    def session(self) -> str: ...

    @property
    def tender(self) -> str: ...

    @property
    def lots(self) -> Sequence[str]: ...

    @property
    def release_certificate(self) -> x509.Certificate: ...


@dataclass(frozen=True)
class Release:
    """A release that opened and verified: what the bidder released, and who signed it."""

    session: str
    tender: str
    lot: str | None
    credit_code: str
    submission_sha256: str
    cipher: ContentCipher
    content_key: bytes = field(repr=False)
    time: dt.datetime
    statement: Statement = field(repr=False)

    @property
    def signer(self) -> x509.Certificate:
        """The certificate that signed the release (not yet judged)."""
        return self.statement.signer


@dataclass(frozen=True)
class _Bid:
    """What a release is made from: the recipients, the submission's digest, what the package says."""

    recipients: EnvelopeHeader | RecipientsPart
    sha256: str
    attributes: PackageAttributes | None
    certificates: tuple[x509.Certificate, ...] = ()


def make_release(
    bid: PathArg | bytes,
    keys: KeySource,
    profile: ReleaseProfile,
    clock: Clock | None = None,
    *,
    signer: KeyEntry | None = None,
    submission_sha256: str | None = None,
    lot: str | None = None,
) -> bytes:
    """The release of *bid* (the package or its front, a path or bytes) for the session of *profile*.

    *keys* is the bidder's UKey: its encryption key unwraps the content key,
    its company signing certificate signs (*signer* to name another entry).
    A front cannot give the submission's digest: *submission_sha256* (as on
    the receipt) is then required; with a whole package it is computed (and
    must agree when given). *lot* defaults to the package's, or the
    profile's one lot. *clock* gives the time (default: the system clock).
    Raises :class:`ReleaseUnavailableError` when the UKey holds no key this
    bid is encrypted to, or keeps content keys inside, or the package is
    another bidder's or another tender's.
    """
    found = _read_bid(bid, submission_sha256)
    moment = (clock or SystemClock()).stamp(bytes.fromhex(found.sha256)).time.astimezone(dt.UTC)
    entry, bidder = company_signer(keys, signer, moment)
    attributes = found.attributes
    if attributes is not None and attributes.credit_code != bidder.credit_code:
        raise ReleaseUnavailableError(
            Text(
                "the package is {other}'s, not {bidder}'s",
                "该投标文件属于 {other}，不属于 {bidder}",
                other=attributes.credit_code,
                bidder=bidder.credit_code,
            ),
            source=keys.description,
        )
    if attributes is not None and attributes.tender != profile.tender:
        raise ReleaseUnavailableError(
            Text(
                "the package is for tender {tender}, the session for {wanted}",
                "该投标文件属于项目 {tender}，本次开标为 {wanted}",
                tender=attributes.tender,
                wanted=profile.tender,
            ),
            source=keys.description,
        )
    chosen_lot = attributes.lot if attributes is not None else lot
    if attributes is None and lot is None and len(profile.lots) == 1:
        chosen_lot = profile.lots[0]
    content_key = _content_key(found, keys)
    payload = {
        "type": RELEASE,
        "version": STATEMENT_VERSION,
        "session": profile.session,
        "tender": profile.tender,
        "lot": chosen_lot,
        "credit_code": bidder.credit_code,
        "submission_sha256": found.sha256,
        "cipher": found.recipients.cipher.cipher.value,
        "content_key": base64.b64encode(content_key).decode("ascii"),
        "time": format_statement_time(moment),
    }
    statement = sign_statement(payload, entry, signing_time=moment)
    return seal(statement, profile.release_certificate, at=moment)


def company_signer(keys: KeySource, signer: KeyEntry | None, at: dt.datetime) -> tuple[KeyEntry, Bidder]:
    """The company signing certificate's entry (*signer*, or the one on *keys*) and the company it names.

    Refused as ``pack`` refuses it: not a signing certificate, not valid at
    *at*, a person's certificate (:class:`~bidcrypt.errors.SealKindMismatchError`),
    no credit code.
    """
    from bidcrypt.seal import SealKind, choose_entry, kind_mismatch  # pyHanko: only when signing

    entry = signer or choose_entry(keys, SealKind.COMPANY)
    certs.require_purpose(entry.certificate, Purpose.SIGNING)
    certs.require_valid_at(entry.certificate, at)
    mismatch = kind_mismatch(entry.certificate, SealKind.COMPANY)
    if mismatch is not None:
        raise mismatch
    return entry, bidder_of(entry.certificate)


def _content_key(found: _Bid, keys: KeySource) -> bytes:
    """The content key, unwrapped from the bidder's RecipientInfo by a key that hands it out."""
    entries = [e for e in entries_of(keys) if e.has_private_key]
    named = candidates(found.recipients, entries, found.certificates)
    if not named:
        raise ReleaseUnavailableError(
            Text("the UKey holds no key this bid is encrypted to", "该 U-KEY 中没有此投标文件所加密给的密钥"),
            source=keys.description,
        )
    exporting = [entry for _, entry in named if entry.returns_content_keys]
    if not exporting:
        raise ReleaseUnavailableError(
            Text(
                "the UKey keeps content keys inside it (an SKF UKey without a private-key decryption): "
                "it can open the bid on this machine, but not release its key to the session",
                "该 U-KEY 不导出内容密钥（SKF 无私钥解密）：可在本机解密，但无法向开标会话授权解密",
            ),
            source=keys.description,
        )
    with unwrap_content_key(found.recipients, exporting, certificates=found.certificates) as key:
        return key.exportable()


def _read_bid(bid: PathArg | bytes, wanted: str | None) -> _Bid:
    """The recipients and digest of the package or front *bid*; the digest agreed with *wanted*."""
    if wanted is not None and not _HEX64.fullmatch(wanted):
        raise InputError(Text("not a SHA-256 in hex", "不是十六进制的 SHA-256"), path=wanted)
    found = _from_bytes(bid, wanted) if isinstance(bid, bytes) else _from_path(as_path(bid), wanted)
    if wanted is not None and found.sha256 != wanted:
        raise ReleaseUnavailableError(
            Text(
                "the package's SHA-256 is {actual}, not {wanted}",
                "文件包的 SHA-256 为 {actual}，不是 {wanted}",
                actual=found.sha256,
                wanted=wanted,
            ),
            source="-",
        )
    return found


def _front_only(data: bytes, wanted: str | None) -> _Bid:
    if wanted is None:
        raise InputError(
            Text(
                "this is only the front of a package: give the submission's SHA-256 from its receipt",
                "这只是文件包的前部：请提供回执上的投标文件 SHA-256",
            ),
            path="-",
        )
    return _Bid(read_front(data), wanted, None)


def _from_bytes(data: bytes, wanted: str | None) -> _Bid:
    try:
        header = read_header(io.BytesIO(data))
    except MalformedEnvelopeError:
        return _front_only(data, wanted)
    attributes = PackageAttributes.decode((a.oid, a.values) for a in header.readable_attributes)
    return _Bid(header, hashlib.sha256(data).hexdigest(), attributes)


def _from_path(path: Path, wanted: str | None) -> _Bid:
    try:
        info = read_package_info(path)
    except MalformedEnvelopeError:
        try:
            size = path.stat().st_size
            if size > _MAX_FRONT:
                raise
            return _front_only(path.read_bytes(), wanted)
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=path) from exc
    try:
        with path.open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path) from exc
    return _Bid(info.header, digest, info.attributes, info.recipient_certificates)


def front_of(path: PathArg) -> bytes:
    """A stored package's front: its bytes up to the encrypted content (what a release needs).

    :class:`PackageError` for a PEM package (its front is not a prefix of the file).
    """
    path = as_path(path)
    info = read_package_info(path)
    try:
        with path.open("rb") as stream:
            if stream.read(11).lstrip().startswith(b"-----BEGIN"):
                raise PackageError(Text("a PEM package has no front", "PEM 格式的文件包没有前部"))
            stream.seek(0)
            return stream.read(info.header.content.offset)
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path) from exc


def read_release(body: bytes, release_keys: Keys, *, session: str = "-") -> Release:
    """Open a release with the session's release key and check its signature and fields.

    :class:`ReleaseTooLargeError` over :data:`MAX_RELEASE`; the refusals of
    :func:`~bidcrypt.package.statements.open_sealed` and
    :func:`~bidcrypt.package.statements.read_statement`; :class:`ReleaseMalformedError`
    for a field of the wrong type or form. Only :class:`~bidcrypt.errors.BidcryptError`,
    whatever the bytes. The signer is not judged here.
    """
    if len(body) > MAX_RELEASE:
        raise ReleaseTooLargeError(size=len(body), limit=MAX_RELEASE)
    statement = read_statement(open_sealed(body, release_keys, session=session), RELEASE)
    payload = statement.payload
    session_id = _text(payload, "session")
    if not _SESSION_ID.fullmatch(session_id):
        raise _bad("session")
    lot = payload.get("lot")
    if lot is not None and not isinstance(lot, str):
        raise _bad("lot")
    digest = _text(payload, "submission_sha256")
    if not _HEX64.fullmatch(digest):
        raise _bad("submission_sha256")
    try:
        cipher = ContentCipher(_text(payload, "cipher"))
        key = base64.b64decode(_text(payload, "content_key"), validate=True)
    except (ValueError, binascii.Error):
        raise _bad("cipher/content_key") from None
    if len(key) != cipher.key_size:
        raise _bad("content_key")
    return Release(
        session=session_id,
        tender=_text(payload, "tender"),
        lot=lot,
        credit_code=_text(payload, "credit_code"),
        submission_sha256=digest,
        cipher=cipher,
        content_key=key,
        time=parse_statement_time(payload.get("time")),
        statement=statement,
    )


def _text(payload: dict[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise _bad(name)
    return value


def _bad(name: str) -> ReleaseMalformedError:
    return ReleaseMalformedError(Text("the field {name} is wrong", "字段 {name} 错误", name=name))


def release_opens(package: PathArg, header: EnvelopeHeader, content_key: ContentKey) -> bool:
    """Whether a released key decrypts the start of the package's content to its bundle's manifest.

    A quick check before the whole opening (which authenticates the whole
    content): a wrong key decrypts to random bytes, never to the manifest's
    name. Reads the first chunk only; never raises for a wrong key.
    """
    try:
        prefix = content_prefix(as_path(package), header, content_key)
    except (BidcryptError, ValueError):
        return False
    return MANIFEST_MEMBER.encode() in prefix[:1024]
