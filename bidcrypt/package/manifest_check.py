"""Accepting a bundle's signed manifest: its digest, signature, signer's chain and identity binding.

:func:`manifest_checker` makes the callback that
:func:`bidcrypt.package.bundle.read_bundle` calls with the signed manifest
before any file is extracted; each check is recorded in the unpack report,
and the first failure stops the reading (:class:`RecordedError`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable

from cryptography import x509

from bidcrypt import certs
from bidcrypt.aio import wait_for
from bidcrypt.errors import BidcryptError, IdentityMismatchError, ManifestError
from bidcrypt.i18n import Text, pick
from bidcrypt.package import signed
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.manifest import Manifest
from bidcrypt.package.report import UnpackReport
from bidcrypt.trust import TrustStore, ValidationCache


def manifest_checker(
    attributes: PackageAttributes,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
    *,
    cache: ValidationCache | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Callable[[bytes], Manifest]:
    """The callback that accepts the signed manifest of a bundle, recording each check in *report*.

    The callback is blocking code: with *loop* (the loop of the coroutine that
    runs it through :func:`bidcrypt.aio.blocking`), the signer's chain is
    validated by a coroutine waited for with :func:`bidcrypt.aio.wait_for`.
    """

    def check(signed_manifest: bytes) -> Manifest:
        with report.timed("manifest"):
            return _check(signed_manifest)

    def _check(signed_manifest: bytes) -> Manifest:
        if hashlib.sha256(signed_manifest).digest() != attributes.manifest_sha256:
            raise failed(
                report,
                "manifest-digest",
                ManifestError(
                    Text(
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
            raise failed(report, "manifest-signature", error) from error
        report.passed(
            "manifest-signature",
            pick(
                f"signed by {certs.display_name(content.signer)}",
                f"签名者：{certs.display_name(content.signer)}",
            ),
        )
        try:
            if loop is None:
                chain = trust.validate(content.signer, at, content.certificates, cache=cache)
            else:
                validation = trust.async_validate(content.signer, at, content.certificates, cache=cache)
                chain = wait_for(validation, loop)
        except BidcryptError as error:
            raise failed(report, "signer-trusted", error) from error
        report.passed(
            "signer-trusted",
            pick(f"chains to {certs.display_name(chain[-1])}", f"证书链至 {certs.display_name(chain[-1])}"),
        )
        try:
            manifest = Manifest.from_bytes(content.content)
        except BidcryptError as error:
            raise failed(report, "manifest", error) from error
        report.manifest = manifest
        try:
            _check_identity(attributes, manifest, content.signer)
        except BidcryptError as error:
            raise failed(report, "identity", error) from error
        report.passed(
            "identity",
            pick(
                f"{manifest.bidder.name} ({manifest.bidder.credit_code}) signed, as the package says",
                f"{manifest.bidder.name}（{manifest.bidder.credit_code}）签名，与文件包属性一致",
            ),
        )
        return manifest

    return check


class RecordedError(Exception):
    """A failure already recorded in the report (carries the bidcrypt error)."""

    def __init__(self, error: BidcryptError) -> None:
        super().__init__(error.message())
        self.error = error


def failed(report: UnpackReport, name: str, error: BidcryptError) -> RecordedError:
    """Record the failed check *name* in *report*; the error to raise to stop reading the bundle."""
    report.failed(name, error)
    return RecordedError(error)


def _check_identity(attributes: PackageAttributes, manifest: Manifest, signer: x509.Certificate) -> None:
    from bidcrypt.seal import SealKind, kind_mismatch

    if kind_mismatch(signer, SealKind.COMPANY) is not None:
        raise ManifestError(
            Text(
                "the manifest is signed with {signer}, a person's certificate; "
                "a bid package is signed with the company's signing certificate (公章证书)",
                "文件清单由个人证书 {signer} 签名；投标文件包须由单位签名证书（公章证书）签名",
                signer=certs.display_name(signer),
            )
        )
    pairs = [
        (
            Text("signer's credit code", "签名证书信用代码"),
            certs.credit_code(signer),
            manifest.bidder.credit_code,
        ),
        (Text("signer's company", "签名证书单位"), certs.company_name(signer), manifest.bidder.name),
        (Text("bidder credit code", "投标人信用代码"), attributes.credit_code, manifest.bidder.credit_code),
        (Text("bidder name", "投标人名称"), attributes.bidder_name, manifest.bidder.name),
        (Text("tender", "招标项目"), attributes.tender, manifest.tender),
        (Text("lot", "标段"), attributes.lot, manifest.lot),
        # Every readable attribute is bound: in an EnvelopedData (AES-CBC, GM/T 0010) nothing else
        # authenticates them, and the creation time is shown to whoever routes the package.
        (Text("creation time", "生成时间"), attributes.created, manifest.created),
    ]
    for what, outside, inside in pairs:
        if outside != inside:
            raise IdentityMismatchError(what, actual=_shown(outside), expected=_shown(inside))


def _shown(value: object) -> str:
    """A compared value as the report shows it (a time in UTC, to the microsecond when it has any)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)
