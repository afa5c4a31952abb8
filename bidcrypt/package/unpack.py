"""Unpacking: decrypt, verify everything, and only then let the files appear.

Every check is recorded in the report: the decryption and its integrity
tag, the manifest digest against the readable attributes, the manifest
signature and its certificate's chain, the identity binding (signer =
manifest bidder = readable attributes, same tender and lot; these are in
:mod:`bidcrypt.package.manifest_check`), every file's
size and SHA-256, and the company seals of the PDFs. The plaintext and the
files are written to a staging folder beside the output (see
:mod:`bidcrypt.package.staging`) and the files renamed into place only when
all checks pass; on any failure, Ctrl-C included, nothing is left. (The
opening holds a small bid's plaintext in memory instead: see
:func:`async_open_content`.)

Errors: a full disk or another failure of the machine is an
:class:`~bidcrypt.errors.OutputError`; everything else that
:func:`open_content` raises or reports belongs to the package (a name the
file system cannot hold is a :class:`~bidcrypt.errors.PathRefusedError`).

The engines are coroutines (``async_unpack``, ``async_open_content``,
``async_verify_backup``) with synchronous twins. For an async caller the
long blocking work (reading the package, unwrapping the key, decrypting,
extracting and hashing the files, the PDF work of the seal checks, the final
renames) runs in worker threads through :func:`bidcrypt.aio.blocking`, one
step at a time, so the caller's loop stays free; the chain validations run
on the loop. Creating and removing the staging folder stay on the loop (a
few system calls).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path
from typing import Any, BinaryIO

from bidcrypt.aio import blocking, run_sync
from bidcrypt.envelope import ContentKey, EnvelopeHeader, Keys, decrypt_content, unwrap_content_key
from bidcrypt.errors import (
    BidcryptError,
    KeySourceError,
    ManifestError,
    OutputError,
    OutputExistsError,
)
from bidcrypt.files import ByteProgress, PathArg, as_path, check_output, input_error, open_input, output_error
from bidcrypt.i18n import Text, pick
from bidcrypt.package.attributes import PackageAttributes
from bidcrypt.package.bundle import read_bundle
from bidcrypt.package.info import read_package_info
from bidcrypt.package.manifest import Manifest
from bidcrypt.package.manifest_check import RecordedError, manifest_checker
from bidcrypt.package.pack import SEALED_ROLES
from bidcrypt.package.report import UnpackReport
from bidcrypt.package.staging import Staging
from bidcrypt.trust import TrustStore, ValidationCache


async def async_read_verified_bundle(
    stream: BinaryIO,
    attributes: PackageAttributes,
    staging: Staging,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
    *,
    cache: ValidationCache | None = None,
) -> None:
    """Read a (verified-decrypted) bundle into *staging*, recording the checks; publish it to *output*
    only when all pass. *cache* keeps the chain verdicts (see :class:`~bidcrypt.trust.ValidationCache`)."""
    output = as_path(output)
    checker = manifest_checker(attributes, trust, at, report, cache=cache, loop=asyncio.get_running_loop())
    try:
        with report.timed("files"):
            _, manifest, extracted = await blocking(read_bundle, stream, staging.files, checker)
    except RecordedError:
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
        await _check_seals(extracted, manifest, trust, at, report, cache)
    if report.error is None:
        await blocking(staging.publish, output)
        report.output = output


def read_verified_bundle(
    stream: BinaryIO,
    attributes: PackageAttributes,
    staging: Staging,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
    *,
    cache: ValidationCache | None = None,
) -> None:
    """:func:`async_read_verified_bundle` for synchronous callers."""
    run_sync(async_read_verified_bundle(stream, attributes, staging, output, trust, at, report, cache=cache))


async def _check_seals(
    extracted: list[Any],
    manifest: Manifest,
    trust: TrustStore,
    at: dt.datetime | None,
    report: UnpackReport,
    cache: ValidationCache | None,
) -> None:
    from bidcrypt.seal import async_verify_seals

    checked = 0
    for item in extracted:
        entry = item.entry
        if entry.role not in SEALED_ROLES or not entry.path.lower().endswith(".pdf"):
            continue
        checked += 1
        try:
            seals = await async_verify_seals(
                item.target,
                trust=trust,
                expect_uscc=manifest.bidder.credit_code,
                at=at,
                name=entry.path,
                cache=cache,
            )
        except BidcryptError as error:
            report.failed("seals", error)
            continue
        report.seals[entry.path] = seals.to_dict()
        if not seals.company_seals:
            from bidcrypt.errors import NoSealError

            report.failed("seals", NoSealError(path=entry.path, what=Text("company seal", "公章")))
        elif not seals.valid:
            first = seals.problems[0]
            report.failed("seals", first.error or ManifestError(first.message))
    if checked and not any(c.name == "seals" and not c.ok for c in report.checks):
        report.passed(
            "seals",
            pick(f"{checked} sealed document(s), every seal valid", f"{checked} 份盖章文件，签章均有效"),
        )


def _read_back(bundle: io.BytesIO | Path) -> BinaryIO:
    """The decrypted bundle to read, from its start."""
    if isinstance(bundle, io.BytesIO):
        bundle.seek(0)
        return bundle
    return bundle.open("rb")


async def async_open_content(
    path: PathArg,
    header: EnvelopeHeader,
    content_key: ContentKey,
    attributes: PackageAttributes,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None = None,
    progress: ByteProgress | None = None,
    *,
    cache: ValidationCache | None = None,
    stream: BinaryIO | None = None,
    in_memory: bool = False,
) -> UnpackReport:
    """Decrypt and verify a package whose content key is already unwrapped (no token needed).

    This is the part of the opening that runs in worker processes. *stream*,
    when given, is the package *path* already open (seekable; read, never
    closed here): the opening reads each bid once, hashing it for its receipt
    as it decrypts. Raises
    only :class:`~bidcrypt.errors.BidcryptError`: an
    :class:`~bidcrypt.errors.OutputError` (or
    :class:`~bidcrypt.errors.OutputExistsError`) when the machine fails
    (disk full, permissions), a :class:`~bidcrypt.errors.KeySourceError`
    when the token that holds the content key fails while it decrypts (a
    key imported into the token, see :class:`~bidcrypt.envelope.ContentKey`);
    any other failure is the package's and is in the report. *progress*
    follows the decryption, chunk by chunk (bytes of ciphertext read, and
    their total). The package is judged at one time, *at* (default: now, read
    once), so its documents ask the same questions of the trust store;
    *cache* keeps the verdicts (default: a new cache for this package; pass
    one to share it across packages). Decryption, extraction, hashing and
    PDF work run off an async caller's loop (:func:`bidcrypt.aio.blocking`).
    With *in_memory* (for a small package) the decrypted bundle is held in
    memory instead of written to the staging folder and read back.
    """
    path, output = as_path(path), as_path(output)
    moment = at or dt.datetime.now(dt.UTC)
    cache = ValidationCache() if cache is None else cache
    report = UnpackReport(str(path), attributes)
    check_output(output, False)
    with Staging.create(output) as staging:
        # A passing copy, dropped below: in memory, or on the disk but never waited for.
        bundle = io.BytesIO() if in_memory else staging.bundle
        try:
            with report.timed("decrypt"):
                await blocking(
                    decrypt_content,
                    path if stream is None else stream,
                    header,
                    content_key,
                    bundle,
                    force=True,
                    durable=False,
                    progress=progress,
                )
        except OutputError as error:
            raise OutputError(error.detail, path=output) from error
        except (OutputExistsError, KeySourceError):  # the machine's: a token that decrypts failed
            raise
        except BidcryptError as error:
            report.failed("decryption", error)
            return report
        report.passed(
            "decryption",
            pick(
                f"decrypted with {content_key.subject}; integrity verified",
                f"已用 {content_key.subject} 解密，完整性校验通过",
            )
            if header.is_authenticated
            else pick(
                f"decrypted with {content_key.subject} "
                "(CBC: the files' integrity is the manifest's to prove)",
                f"已用 {content_key.subject} 解密（CBC 模式：文件完整性由签名清单证明）",
            ),
        )
        try:
            with _read_back(bundle) as stream:
                await async_read_verified_bundle(
                    stream, attributes, staging, output, trust, moment, report, cache=cache
                )
        except OSError as exc:  # reading back the staged plaintext
            raise output_error(exc, output) from exc
    return report


def open_content(
    path: PathArg,
    header: EnvelopeHeader,
    content_key: ContentKey,
    attributes: PackageAttributes,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None = None,
    progress: ByteProgress | None = None,
    *,
    cache: ValidationCache | None = None,
    stream: BinaryIO | None = None,
    in_memory: bool = False,
) -> UnpackReport:
    """:func:`async_open_content` for synchronous callers (with or without a running event loop)."""
    return run_sync(
        async_open_content(
            path,
            header,
            content_key,
            attributes,
            output,
            trust,
            at,
            progress,
            cache=cache,
            stream=stream,
            in_memory=in_memory,
        )
    )


async def async_unpack(
    path: PathArg,
    output: PathArg,
    keys: Keys,
    trust: TrustStore,
    at: dt.datetime | None = None,
    progress: ByteProgress | None = None,
    *,
    cache: ValidationCache | None = None,
) -> UnpackReport:
    """Open the package *path* with *keys* into the folder *output*, verifying everything.

    *progress* and *cache*: see :func:`async_open_content`. Reading the package and
    unwrapping the content key (a token operation) run off an async caller's
    loop too.
    """
    path, output = as_path(path), as_path(output)
    info = await blocking(read_package_info, path)
    content_key = await blocking(unwrap_content_key, info.header, keys)
    try:
        return await async_open_content(
            path, info.header, content_key, info.attributes, output, trust, at, progress, cache=cache
        )
    finally:
        content_key.close()  # a key imported into a token is destroyed there


def unpack(
    path: PathArg,
    output: PathArg,
    keys: Keys,
    trust: TrustStore,
    at: dt.datetime | None = None,
    progress: ByteProgress | None = None,
    *,
    cache: ValidationCache | None = None,
) -> UnpackReport:
    """:func:`async_unpack` for synchronous callers (with or without a running event loop)."""
    return run_sync(async_unpack(path, output, keys, trust, at, progress, cache=cache))


async def async_verify_backup(
    backup: PathArg,
    package: PathArg,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    cache: ValidationCache | None = None,
) -> UnpackReport:
    """Check a backup copy (备用文件) against its package, without a key, and unpack it.

    The backup's signed manifest must be the one the package's readable
    attributes name; the rest of the checks are those of :func:`async_unpack`.
    """
    backup, package, output = as_path(backup), as_path(package), as_path(output)
    moment = at or dt.datetime.now(dt.UTC)
    cache = ValidationCache() if cache is None else cache
    info = await blocking(read_package_info, package)
    report = UnpackReport(str(backup), info.attributes)
    check_output(output, False)
    with open_input(backup) as stream, Staging.create(output) as staging:
        try:
            await async_read_verified_bundle(
                stream, info.attributes, staging, output, trust, moment, report, cache=cache
            )
        except OSError as exc:  # reading the backup copy
            raise input_error(exc, backup) from exc
    return report


def verify_backup(
    backup: PathArg,
    package: PathArg,
    output: PathArg,
    trust: TrustStore,
    at: dt.datetime | None = None,
    *,
    cache: ValidationCache | None = None,
) -> UnpackReport:
    """:func:`async_verify_backup` for synchronous callers (with or without a running event loop)."""
    return run_sync(async_verify_backup(backup, package, output, trust, at, cache=cache))
