"""Unpacking: decrypt, verify everything, and only then let the files appear.

Every check is recorded in the report: the decryption and its integrity
tag, the manifest digest against the readable attributes, the manifest
signature and its certificate's chain, the identity binding (signer =
manifest bidder = readable attributes, same tender and lot), every file's
size and SHA-256, and the company seals of the PDFs. The plaintext and the
files are written to a staging folder beside the output (see
:mod:`bidcrypt.package.staging`) and the files renamed into place only when
all checks pass; on any failure, Ctrl-C included, nothing is left.

Errors: a full disk or another failure of the machine is an
:class:`~bidcrypt.errors.OutputError`; everything else that
:func:`open_content` raises or reports belongs to the package (a name the
file system cannot hold is a :class:`~bidcrypt.errors.PathRefusedError`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, BinaryIO

from cryptography import x509

from bidcrypt import certs
from bidcrypt.envelope import ContentKey, EnvelopeHeader, decrypt_content, unwrap_content_key
from bidcrypt.envelope.opening import Keys
from bidcrypt.errors import (
    BidcryptError,
    IdentityMismatchError,
    ManifestError,
    OutputError,
    OutputExistsError,
)
from bidcrypt.files import PathArg, as_path, check_output, input_error, open_input, output_error
from bidcrypt.i18n import pick
from bidcrypt.package import signed
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.bundle import read_bundle
from bidcrypt.package.info import read_package_info
from bidcrypt.package.manifest import Manifest
from bidcrypt.package.pack import SEALED_ROLES
from bidcrypt.package.report import UnpackReport
from bidcrypt.package.staging import Staging
from bidcrypt.trust import TrustStore


def manifest_checker(
    attributes: PackageAttributes, trust: TrustStore, at: dt.datetime | None, report: UnpackReport
) -> Callable[[bytes], Manifest]:
    """The callback that accepts the signed manifest of a bundle, recording each check in *report*."""

    def check(signed_manifest: bytes) -> Manifest:
        with report.timed("manifest"):
            return _check(signed_manifest)

    def _check(signed_manifest: bytes) -> Manifest:
        if hashlib.sha256(signed_manifest).digest() != attributes.manifest_sha256:
            raise _failed(
                report,
                "manifest-digest",
                ManifestError(
                    pick(
                        "the signed manifest is not the one the package attributes name",
                        "签名清单与文件包属性中记录的摘要不符",
                    )
                ),
            )
        report.passed(
            "manifest-digest",
            pick("the signed manifest is the one the package names", "签名清单与文件包属性一致"),
        )
        try:
            content = signed.verify(signed_manifest)
        except BidcryptError as error:
            raise _failed(report, "manifest-signature", error) from error
        report.passed(
            "manifest-signature",
            pick(
                f"signed by {certs.display_name(content.signer)}",
                f"签名者：{certs.display_name(content.signer)}",
            ),
        )
        try:
            chain = trust.validate(content.signer, at, content.certificates)
        except BidcryptError as error:
            raise _failed(report, "signer-trusted", error) from error
        report.passed(
            "signer-trusted",
            pick(f"chains to {certs.display_name(chain[-1])}", f"证书链至 {certs.display_name(chain[-1])}"),
        )
        try:
            manifest = Manifest.from_bytes(content.content)
        except BidcryptError as error:
            raise _failed(report, "manifest", error) from error
        report.manifest = manifest
        try:
            _check_identity(attributes, manifest, content.signer)
        except BidcryptError as error:
            raise _failed(report, "identity", error) from error
        report.passed(
            "identity",
            pick(
                f"{manifest.bidder.name} ({manifest.bidder.credit_code}) signed, as the package says",
                f"{manifest.bidder.name}（{manifest.bidder.credit_code}）签名，与文件包属性一致",
            ),
        )
        return manifest

    return check


class _RecordedError(Exception):
    """A failure already recorded in the report (carries the bidcrypt error)."""

    def __init__(self, error: BidcryptError) -> None:
        super().__init__(error.message())
        self.error = error


def _failed(report: UnpackReport, name: str, error: BidcryptError) -> _RecordedError:
    report.failed(name, error)
    return _RecordedError(error)


def _check_identity(attributes: PackageAttributes, manifest: Manifest, signer: x509.Certificate) -> None:
    from bidcrypt.seal.kind import SealKind, kind_mismatch

    if kind_mismatch(signer, SealKind.COMPANY) is not None:
        raise ManifestError(
            pick(
                f"the manifest is signed with {certs.display_name(signer)}, a person's certificate; "
                "a bid package is signed with the company's signing certificate (公章证书)",
                f"文件清单由个人证书 {certs.display_name(signer)} 签名；"
                "投标文件包须由单位签名证书（公章证书）签名",
            )
        )
    pairs = [
        (
            pick("signer's credit code", "签名证书信用代码"),
            certs.credit_code(signer),
            manifest.bidder.credit_code,
        ),
        (pick("signer's company", "签名证书单位"), certs.company_name(signer), manifest.bidder.name),
        (pick("bidder credit code", "投标人信用代码"), attributes.credit_code, manifest.bidder.credit_code),
        (pick("bidder name", "投标人名称"), attributes.bidder_name, manifest.bidder.name),
        (pick("tender", "招标项目"), attributes.tender, manifest.tender),
        (pick("lot", "标段"), attributes.lot, manifest.lot),
    ]
    for what, outside, inside in pairs:
        if outside != inside:
            raise IdentityMismatchError(what, actual=str(outside), expected=str(inside))


def read_verified_bundle(
    stream: BinaryIO,
    attributes: PackageAttributes,
    staging: Staging,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
) -> None:
    """Read a (verified-decrypted) bundle into *staging*, recording the checks; publish it to *output*
    only when all pass."""
    output = as_path(output)
    try:
        with report.timed("files"):
            _, manifest, extracted = read_bundle(
                stream, staging.files, manifest_checker(attributes, trust, at, report)
            )
    except _RecordedError:
        return
    except OutputError as error:  # named after the staging folder: the user knows the output
        raise OutputError(error.detail, path=output) from error
    except BidcryptError as error:
        report.failed("files", error)
        return
    report.passed(
        "files",
        pick(
            f"{len(extracted)} file(s), {manifest.total_size} bytes, all as listed",
            f"{len(extracted)} 个文件，共 {manifest.total_size} 字节，均与清单一致",
        ),
    )
    with report.timed("seals"):
        _check_seals(extracted, manifest, trust, at, report)
    if report.error is None:
        staging.publish(output)
        report.output = output


def _check_seals(
    extracted: list[Any], manifest: Manifest, trust: TrustStore, at: dt.datetime | None, report: UnpackReport
) -> None:
    from bidcrypt.seal import verify_seals

    checked = 0
    for item in extracted:
        entry = item.entry
        if entry.role not in SEALED_ROLES or not entry.path.lower().endswith(".pdf"):
            continue
        checked += 1
        try:
            seals = verify_seals(
                item.target, trust=trust, expect_uscc=manifest.bidder.credit_code, at=at, name=entry.path
            )
        except BidcryptError as error:
            report.failed("seals", error)
            continue
        report.seals[entry.path] = seals.to_dict()
        if not seals.company_seals:
            from bidcrypt.errors import NoSealError

            report.failed("seals", NoSealError(path=entry.path, what=pick("company seal", "公章")))
        elif not seals.valid:
            first = seals.problems[0]
            report.failed("seals", first.error or ManifestError(first.message))
    if checked and not any(c.name == "seals" and not c.ok for c in report.checks):
        report.passed(
            "seals",
            pick(f"{checked} sealed document(s), every seal valid", f"{checked} 份盖章文件，签章均有效"),
        )


def open_content(
    path: PathArg,
    header: EnvelopeHeader,
    content_key: ContentKey,
    attributes: PackageAttributes,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    stream: BinaryIO | None = None,
) -> UnpackReport:
    """Decrypt and verify a package whose content key is already unwrapped (no token needed).

    This is the part of the opening that runs in worker processes. *stream*,
    when given, is the package *path* already open (seekable; read, never
    closed here): the opening reads each bid once, hashing it for its receipt
    as it decrypts. Raises
    only :class:`~bidcrypt.errors.BidcryptError`: an
    :class:`~bidcrypt.errors.OutputError` (or
    :class:`~bidcrypt.errors.OutputExistsError`) when the machine fails
    (disk full, permissions); any other failure is the package's and is in
    the report.
    """
    path, output = as_path(path), as_path(output)
    report = UnpackReport(str(path), attributes)
    check_output(output, False)
    with Staging.create(output) as staging:
        try:
            # A passing copy, deleted below: no need to wait for the disk.
            with report.timed("decrypt"):
                source = path if stream is None else stream
                decrypt_content(source, header, content_key, staging.bundle, force=True, durable=False)
        except OutputError as error:
            raise OutputError(error.detail, path=output) from error
        except OutputExistsError:
            raise
        except BidcryptError as error:
            report.failed("decryption", error)
            return report
        report.passed(
            "decryption",
            pick(
                f"decrypted with {content_key.subject}; integrity verified",
                f"已用 {content_key.subject} 解密，完整性校验通过",
            ),
        )
        try:
            with staging.bundle.open("rb") as stream:
                read_verified_bundle(stream, attributes, staging, output, trust, at, report)
        except OSError as exc:  # reading back the staged plaintext
            raise output_error(exc, output) from exc
    return report


def unpack(
    path: PathArg, output: PathArg, keys: Keys, trust: TrustStore, at: dt.datetime | None = None
) -> UnpackReport:
    """Open the package *path* with *keys* into the folder *output*, verifying everything."""
    path, output = as_path(path), as_path(output)
    info = read_package_info(path)
    content_key = unwrap_content_key(info.header, keys)
    return open_content(path, info.header, content_key, info.attributes, output, trust, at)


def verify_backup(
    backup: PathArg, package: PathArg, output: PathArg, trust: TrustStore, at: dt.datetime | None = None
) -> UnpackReport:
    """Check a backup copy (备用文件) against its package, without a key, and unpack it.

    The backup's signed manifest must be the one the package's readable
    attributes name; the rest of the checks are those of :func:`unpack`.
    """
    backup, package, output = as_path(backup), as_path(package), as_path(output)
    info = read_package_info(package)
    report = UnpackReport(str(backup), info.attributes)
    check_output(output, False)
    with open_input(backup) as stream, Staging.create(output) as staging:
        try:
            read_verified_bundle(stream, info.attributes, staging, output, trust, at, report)
        except OSError as exc:  # reading the backup copy
            raise input_error(exc, backup) from exc
    return report
