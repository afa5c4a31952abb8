"""Packing: the bidder's folder becomes a signed, sealed-checked, encrypted ``.bid`` package.

Two passes over the sources with bounded memory: the first hashes every
file (and checks the seals of the PDFs), the second streams the bundle
into the envelope, hashing again so a file changed in between stops the
packing. The package, and the backup copy when asked, appear only complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.envelope import ContentCipher, EnvelopeBuilder, KeyTransport, test_open
from bidcrypt.errors import (
    BidcryptError,
    CertificateUntrustedError,
    IdentityMismatchError,
    NoSealError,
    PackageError,
)
from bidcrypt.files import (
    ByteProgress,
    PathArg,
    as_path,
    atomic_output,
    check_output,
    input_error,
    open_input,
)
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, KeySource
from bidcrypt.package import signed
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES, PackageAttributes
from bidcrypt.package.bundle import MANIFEST_MEMBER, BundleReader
from bidcrypt.package.manifest import Bidder, FileEntry, Manifest, Role, Summary
from bidcrypt.package.paths import files_under, visible
from bidcrypt.package.recipients import RecipientChoice, choose_recipients, package_recipient
from bidcrypt.package.summary_file import SummaryFile
from bidcrypt.trust import TrustStore

_CHUNK = 1 << 20
#: Roles whose PDFs must carry the bidder's company seal.
SEALED_ROLES = (Role.RESPONSE, Role.PRICE_SHEET)


#: Bytes of empty segments before the ciphertext: room for the RecipientInfos to grow when the
#: package is re-encrypted in place (a 4096-bit RSA key, or an EC key, in place of a 2048-bit one).
ROOM_FOR_REENCRYPTION = 1024
#: Bytes per OCTET STRING segment of the encrypted content. Reading a package's header visits
#: every segment (BER has no other way to the trailer), so large ones keep that cheap: 128 for 1 GiB.
PACKAGE_SEGMENT = 8 << 20


@dataclass(frozen=True)
class PackResult:
    """What :func:`pack` made."""

    output: Path
    attributes: PackageAttributes
    manifest: Manifest
    recipients: tuple[RecipientChoice, ...]
    bundle_size: int
    backup: Path | None
    test_opened: bool
    warnings: tuple[str, ...] = field(default=())
    #: The content cipher the certificates chose (SM4-CBC: a GM/T 0010 package), None when unknown.
    cipher: ContentCipher | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "output": str(self.output),
            "attributes": self.attributes.to_json(),
            "files": len(self.manifest.files),
            "bytes": self.manifest.total_size,
            "bundle_size": self.bundle_size,
            "recipients": [r.to_dict() for r in self.recipients],
            "backup": None if self.backup is None else str(self.backup),
            "test_opened": self.test_opened,
            "warnings": list(self.warnings),
            "cipher": None if self.cipher is None else self.cipher.value,
            "gm": self.cipher is not None and self.cipher.is_gm,
        }


def bidder_of(certificate: x509.Certificate) -> Bidder:
    """The bidding company named by a company signing certificate (name and credit code)."""
    name = certs.company_name(certificate)
    code = certs.credit_code(certificate)
    if not name or not code:
        raise IdentityMismatchError(
            Text(
                "the signing certificate names no company and credit code",
                "签名证书中没有单位名称和统一社会信用代码",
            ),
            actual=certs.display_name(certificate),
            expected=Text("a company certificate", "单位证书"),
        )
    return Bidder(name, code)


def _check_signer(entry: KeyEntry, at: dt.datetime | None) -> Bidder:
    from bidcrypt.seal import SealKind, kind_mismatch

    certs.require_purpose(entry.certificate, Purpose.SIGNING)
    certs.require_valid_at(entry.certificate, at)
    mismatch = kind_mismatch(entry.certificate, SealKind.COMPANY)
    if mismatch is not None:
        raise mismatch
    return bidder_of(entry.certificate)


def hash_files(
    source_dir: Path, summary: SummaryFile, names_from: str = "utf-8"
) -> tuple[list[FileEntry], dict[str, Path]]:
    """The manifest entries of every file under *source_dir* (first pass) and where each lives.

    *names_from* says how to read file names that are not UTF-8 (see :func:`files_under`).
    """
    found = files_under(source_dir, names_from)
    if not found:
        raise PackageError(
            Text("{source_dir} holds no files", "{source_dir} 中没有文件", source_dir=source_dir)
        )
    entries, sources = [], {}
    for path, file in found:
        digest = hashlib.sha256()
        size = 0
        try:
            with open_input(file) as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise input_error(exc, visible(str(file))) from exc
        entries.append(FileEntry(path, size, digest.hexdigest(), summary.role_of(path)))
        sources[path] = file
    return entries, sources


def check_seals(
    entries: Sequence[FileEntry],
    sources: dict[str, Path],
    bidder: Bidder,
    trust: TrustStore | None,
    at: dt.datetime | None,
) -> list[tuple[str, BidcryptError]]:
    """The PDFs of sealed roles that lack a valid company seal of *bidder*, with the reason.

    Without a trust store the chain is not judged (integrity, kind and
    credit code still are).
    """
    from bidcrypt.seal import verify_seals

    store = trust or TrustStore(anchors=())
    failures: list[tuple[str, BidcryptError]] = []
    for entry in entries:
        if entry.role not in SEALED_ROLES or not entry.path.lower().endswith(".pdf"):
            continue
        report = verify_seals(
            sources[entry.path], trust=store, expect_uscc=bidder.credit_code, at=at, name=entry.path
        )
        problems = [
            f
            for f in report.problems
            if trust is not None or not isinstance(f.error, CertificateUntrustedError)
        ]
        if not report.company_seals:
            failures.append((entry.path, NoSealError(path=entry.path, what=Text("company seal", "公章"))))
        elif problems and problems[0].error is not None:
            failures.append((entry.path, problems[0].error))
    return failures


class _Tee:
    """Reads from *source* and copies what it reads to *copy*."""

    def __init__(self, source: BundleReader, copy: BinaryIO | None) -> None:
        self._source = source
        self._copy = copy

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if self._copy is not None and data:
            self._copy.write(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def pack(
    source_dir: PathArg,
    output: PathArg,
    *,
    tender: str,
    signer: KeyEntry,
    encrypt_to: Sequence[x509.Certificate],
    lot: str | None = None,
    summary: SummaryFile | None = None,
    key_source: KeySource | None = None,
    cipher: ContentCipher | None = None,
    key_transport: KeyTransport | None = None,
    authority_transport: KeyTransport = KeyTransport.OAEP_SHA256,
    names_from: str = "utf-8",
    trust: TrustStore | None = None,
    backup: PathArg | None = None,
    allow_unsealed: bool = False,
    at: dt.datetime | None = None,
    warn: Callable[[str], None] = lambda _: None,
    progress: ByteProgress | None = None,
) -> PackResult:
    """Pack *source_dir* into the bid package *output*.

    *signer* is the company signing certificate's key entry (it names the
    bidder); *encrypt_to* the bidder's encryption certificate(s) and any
    opening-authority certificates. *key_source* (the bidder's UKey: the whole
    token, not only the signing certificate) is asked what it can decrypt and
    test-opens the result. *key_transport* wraps the key for the bidder's own
    RSA certificate (default: the strongest the UKey undoes),
    *authority_transport* for an opening authority's (the one the authority
    declares; OAEP-SHA256 by default). *cipher* None lets the certificates
    choose the suite: AES-256-GCM, or SM4-CBC in a GM/T 0010 envelope as soon
    as one of them is SM2 (the readable attributes are then unprotected and
    bound by the signed manifest). *names_from* ``"gbk"`` reads source
    file names that are not UTF-8 as GBK. Refuses, each with its own
    error: an unusable signing or encryption certificate, credit codes that
    differ from the bidder's, a PDF without a valid company seal of the bidder
    (only warned with *allow_unsealed*). *progress* follows the encryption of the
    bundle, chunk by chunk: the bytes done against the files' total size (the
    bundle's headers come on top, so the last call has done equal to total).
    """
    source_dir, output = as_path(source_dir), as_path(output)
    backup = None if backup is None else as_path(backup)
    if not tender.strip():
        raise PackageError(Text("a tender identifier is required", "须指定招标项目编号"))
    check_output(output, False)
    if backup is not None:
        check_output(backup, False)
    summary = summary or SummaryFile(Summary())
    warnings: list[str] = []

    def note(text: str) -> None:
        warnings.append(text)
        warn(text)

    bidder = _check_signer(signer, at)
    choices = choose_recipients(bidder, encrypt_to, key_source, key_transport, note, authority_transport)
    cipher = cipher or _cipher_the_token_opens(choices, key_source, note)
    builder = (
        EnvelopeBuilder()
        .set_cipher(cipher)
        .set_chunk_size(PACKAGE_SEGMENT)
        .set_reserve(ROOM_FOR_REENCRYPTION)
    )
    if at is not None:
        builder = builder.set_validation_time(at)
    builder = builder.set_trust_store(trust)
    for choice in choices:
        builder = builder.add_recipient(package_recipient(choice.certificate, choice.key_transport))

    entries, sources = hash_files(source_dir, summary, names_from)
    for path, error in check_seals(entries, sources, bidder, trust, at):
        if not allow_unsealed:
            raise error
        note(pick(f"{path}: {error.message()}", f"{path}：{error.message()}"))

    created = (at or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    manifest = Manifest(tender, lot, bidder, created, summary.summary, tuple(entries))
    Manifest.from_bytes(manifest.to_bytes())  # within every limit a reader enforces, or refused now
    signed_manifest = signed.sign(manifest.to_bytes(), signer, created)
    attributes = PackageAttributes(
        tender, lot, bidder.name, bidder.credit_code, created, hashlib.sha256(signed_manifest).digest()
    )
    for oid, value in attributes.encode():
        builder = builder.add_readable_attribute(oid, value)
    builder = builder.add_unauthenticated_attribute(
        RECIPIENT_CERTIFICATES,
        *(c.certificate.public_bytes(serialization.Encoding.DER) for c in choices),
    )

    bundle = BundleReader(signed_manifest, manifest, sources)
    with ExitStack() as stack:
        copy = stack.enter_context(atomic_output(backup, private=True)) if backup is not None else None
        sink = stack.enter_context(atomic_output(output))
        expected = manifest.total_size

        def step(done: int, _: int | None) -> None:
            assert progress is not None
            progress(done, max(done, expected))

        done = builder.encrypt(
            _Tee(bundle, copy),  # type: ignore[arg-type]
            sink,
            progress=None if progress is None else step,
        )
        if progress is not None:
            progress(done, done)
    tested = _test_open(output, key_source, note)
    return PackResult(
        output,
        attributes,
        manifest,
        tuple(choices),
        bundle.size,
        backup,
        tested,
        tuple(warnings),
        builder.cipher,
    )


def _cipher_the_token_opens(
    choices: Sequence[RecipientChoice], key_source: KeySource | None, note: Callable[[str], None]
) -> ContentCipher | None:
    """AES-256-CBC when the bidder's UKey decrypts the content itself (an SKF UKey on the standard path).

    Such a token decrypts only CBC content, so the default AES-256-GCM would
    leave a package its own UKey cannot open. None (the certificates' choice)
    otherwise, and whenever a certificate is SM2 (SM4-CBC, CBC already).
    """
    if key_source is None or any(certs.is_sm2(c.certificate) for c in choices):
        return None
    ours = {certs.key_fingerprint(c.certificate) for c in choices}
    if any(
        not entry.returns_content_keys and certs.key_fingerprint(entry.certificate) in ours
        for entry in key_source.entries()
    ):
        note(
            pick(
                "the UKey decrypts the content itself (SKF without a private-key decryption), "
                "which only CBC allows: the content is encrypted with AES-256-CBC",
                "该 U-KEY 在卡内解密内容（SKF 无私钥解密），只支持 CBC：内容改用 AES-256-CBC 加密",
            )
        )
        return ContentCipher.AES_256_CBC
    return None


def _test_open(output: Path, key_source: KeySource | None, note: Callable[[str], None]) -> bool:
    """Unwrap the content key on the bidder's UKey and decrypt the first chunk (no plaintext kept)."""
    if key_source is None:
        return False
    encryption = [e for e in key_source.entries() if Purpose.ENCRYPTION in certs.purposes(e.certificate)]
    if not encryption:
        return False
    result = test_open(output, encryption)
    if MANIFEST_MEMBER.encode() not in result.prefix[:1024]:
        raise PackageError(Text("the test-opening did not find the bundle", "试解密未找到文件包内容"))
    return True
