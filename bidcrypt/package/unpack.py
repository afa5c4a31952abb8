"""Unpacking: decrypt, verify everything, and only then let the files appear.

Every check is recorded in the report: the decryption and its integrity
tag, the manifest digest against the readable attributes, the manifest
signature and its certificate's chain, the identity binding (signer =
manifest bidder = readable attributes, same tender and lot), every file's
size and SHA-256, and the company seals of the PDFs. The files are written
to a staging folder beside the output and renamed into place only when all
checks pass; on any failure nothing is left.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
from bidcrypt.files import check_output, open_input, output_error
from bidcrypt.i18n import pick
from bidcrypt.package import signed
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.bundle import read_bundle
from bidcrypt.package.info import read_package_info
from bidcrypt.package.manifest import Manifest
from bidcrypt.package.pack import SEALED_ROLES
from bidcrypt.trust import TrustStore


@dataclass(frozen=True)
class Check:
    """One check of the unpacking: its stable name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str
    code: str | None = None

    def label(self) -> str:
        """The check's name in the user's language."""
        en, zh = _CHECK_LABELS.get(self.name, (self.name, self.name))
        return pick(en, zh)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "code": self.code}


_CHECK_LABELS = {
    "decryption": ("decryption and integrity", "解密与完整性"),
    "manifest-digest": ("manifest digest", "清单摘要"),
    "manifest-signature": ("manifest signature", "清单签名"),
    "signer-trusted": ("signing certificate", "签名证书"),
    "manifest": ("manifest", "文件清单"),
    "identity": ("identity binding", "身份一致性"),
    "files": ("files", "文件"),
    "seals": ("seals", "签章"),
}


@dataclass
class UnpackReport:
    """Everything the unpacking found; ``error`` is the first failure (None when all passed)."""

    package: str
    attributes: PackageAttributes
    checks: list[Check] = field(default_factory=list)
    manifest: Manifest | None = None
    seals: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: Path | None = None
    error: BidcryptError | None = None

    @property
    def ok(self) -> bool:
        """True when every check passed and the files were written."""
        return self.error is None

    def passed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def failed(self, name: str, error: BidcryptError) -> None:
        self.checks.append(Check(name, False, error.message(), error.code))
        if self.error is None:
            self.error = error

    def raise_for_failure(self) -> None:
        """Raise the first failure, if any."""
        if self.error is not None:
            raise self.error

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        manifest = self.manifest
        return {
            "package": self.package,
            "ok": self.ok,
            "attributes": self.attributes.to_json(),
            "checks": [c.to_dict() for c in self.checks],
            "summary": None if manifest is None else manifest.summary.to_json(),
            "files": []
            if manifest is None
            else [
                {"path": f.path, "size": f.size, "sha256": f.sha256, "role": f.role.value}
                for f in manifest.files
            ],
            "seals": self.seals,
            "output": None if self.output is None else str(self.output),
            "error": None if self.error is None else self.error.to_dict(),
        }


def manifest_checker(
    attributes: PackageAttributes, trust: TrustStore, at: dt.datetime | None, report: UnpackReport
) -> Callable[[bytes], Manifest]:
    """The callback that accepts the signed manifest of a bundle, recording each check in *report*."""

    def check(signed_manifest: bytes) -> Manifest:
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
    output: Path,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
) -> None:
    """Read a (verified-decrypted) bundle into *output*, recording the checks; output only when all pass."""
    check_output(output, False)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent))
    except OSError as exc:
        raise output_error(exc, output) from exc
    try:
        try:
            _, manifest, extracted = read_bundle(
                stream, staging, manifest_checker(attributes, trust, at, report)
            )
        except _RecordedError:
            return
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
        _check_seals(extracted, manifest, trust, at, report)
        if report.error is None:
            try:
                staging.rename(output)
            except OSError as exc:
                raise output_error(exc, output) from exc
            report.output = output
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


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
    path: Path,
    header: EnvelopeHeader,
    content_key: ContentKey,
    attributes: PackageAttributes,
    output: Path,
    trust: TrustStore,
    at: dt.datetime | None = None,
) -> UnpackReport:
    """Decrypt and verify a package whose content key is already unwrapped (no token needed).

    This is the part of the opening that runs in worker processes.
    """
    report = UnpackReport(str(path), attributes)
    check_output(output, False)
    plaintext = output.parent / f".{output.name}.bundle.part"
    try:
        try:
            # A passing copy, deleted below: no need to wait for the disk.
            decrypt_content(path, header, content_key, plaintext, force=True, durable=False)
        except BidcryptError as error:
            if isinstance(error, OutputError | OutputExistsError):
                raise
            report.failed("decryption", error)
            return report
        report.passed(
            "decryption",
            pick(
                f"decrypted with {content_key.subject}; integrity verified",
                f"已用 {content_key.subject} 解密，完整性校验通过",
            ),
        )
        with plaintext.open("rb") as stream:
            read_verified_bundle(stream, attributes, output, trust, at, report)
    finally:
        with contextlib.suppress(FileNotFoundError):
            plaintext.unlink()
    return report


def unpack(
    path: Path, output: Path, keys: Keys, trust: TrustStore, at: dt.datetime | None = None
) -> UnpackReport:
    """Open the package *path* with *keys* into the folder *output*, verifying everything."""
    info = read_package_info(path)
    content_key = unwrap_content_key(info.header, keys)
    return open_content(path, info.header, content_key, info.attributes, output, trust, at)


def verify_backup(
    backup: Path, package: Path, output: Path, trust: TrustStore, at: dt.datetime | None = None
) -> UnpackReport:
    """Check a backup copy (备用文件) against its package, without a key, and unpack it.

    The backup's signed manifest must be the one the package's readable
    attributes name; the rest of the checks are those of :func:`unpack`.
    """
    info = read_package_info(package)
    report = UnpackReport(str(backup), info.attributes)
    with open_input(backup) as stream:
        read_verified_bundle(stream, info.attributes, output, trust, at, report)
    return report
