"""The library from inside a running event loop: the async engines and their sync twins all work.

Tender platforms are async web services. Each test runs a coroutine with
``asyncio.run``, and from inside it calls trust validation, seal
verification, sealing and a package unpack, both as ``async_*`` coroutines
and through the synchronous functions (which must not try to start a loop
in a thread that runs one).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.errors import CertificateUntrustedError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import (
    async_open_content,
    async_unpack,
    async_verify_backup,
    read_package_info,
    unpack,
    verify_backup,
)
from bidcrypt.seal import (
    SealKind,
    apply_seal,
    async_apply_seal,
    async_verify_seals,
    choose_entry,
    verify_seals,
)
from bidcrypt.trust import TrustStore, ValidationCache

from ..conftest import FIXTURES, Pki
from .conftest import Packer


def test_trust_validation_inside_a_running_loop(pki: Pki, trust: TrustStore) -> None:
    certificate = load_certificate(pki.cert("bidder-a/sign"))
    rogue = load_certificate(pki.cert("rogue/sign"))

    async def platform() -> None:
        chain = await trust.async_validate(certificate)
        assert chain[0] == certificate and chain[-1] == load_certificate(pki.roots)
        assert trust.validate(certificate) == chain  # the sync twin, from the loop's thread
        with pytest.raises(CertificateUntrustedError):
            await trust.async_validate(rogue)
        with pytest.raises(CertificateUntrustedError):
            trust.validate(rogue)

    asyncio.run(platform())


def test_seal_verification_and_sealing_inside_a_running_loop(
    pki: Pki, trust: TrustStore, sealed_pdfs: dict[str, Path], tmp_path: Path
) -> None:
    code = pki.company("bidder-a")["credit_code"]
    document = FIXTURES / "documents" / "bid-response-bidder-a.pdf"
    image = FIXTURES / "seals" / "bidder-a-company.png"

    async def platform() -> None:
        report = await async_verify_seals(sealed_pdfs["bidder-a"], trust=trust, expect_uscc=code)
        assert report.valid and len(report.company_seals) == 1
        assert verify_seals(sealed_pdfs["bidder-a"], trust=trust, expect_uscc=code).valid
        with open_key_source(pki.p12("bidder-a/sign"), PinSource.of_value(pki.pin)) as source:
            entry = choose_entry(source, SealKind.COMPANY)
            made = await async_apply_seal(
                document, tmp_path / "async.pdf", entry, kind=SealKind.COMPANY, image=image
            )
            apply_seal(document, tmp_path / "sync.pdf", entry, kind=SealKind.COMPANY, image=image)
        assert made.output == tmp_path / "async.pdf"
        for name in ("async.pdf", "sync.pdf"):
            sealed = await async_verify_seals(tmp_path / name, trust=trust, expect_uscc=code)
            assert sealed.valid, sealed.problems

    asyncio.run(platform())


def test_package_unpack_inside_a_running_loop(
    pki: Pki, trust: TrustStore, packer: Packer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = packer(backup=tmp_path / "bid.backup")
    assert packed.backup is not None
    backup = packed.backup
    # Where the decryption runs: in a worker thread for an async caller, never on its loop.
    unpack_module = importlib.import_module("bidcrypt.package.unpack")  # the name is the function's
    decrypting_threads: list[str] = []
    real_decrypt = unpack_module.decrypt_content

    def decrypt_content(*args: object, **kwargs: object) -> object:
        decrypting_threads.append(threading.current_thread().name)
        return real_decrypt(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(unpack_module, "decrypt_content", decrypt_content)

    async def platform() -> None:
        loop_thread = threading.current_thread().name
        with open_key_source(pki.p12("bidder-a/enc"), PinSource.of_value(pki.pin)) as key:
            report = await async_unpack(packed.output, tmp_path / "async", key, trust)
            assert report.ok, report.error
            assert decrypting_threads[-1] != loop_thread
            assert unpack(packed.output, tmp_path / "sync", key, trust).ok  # the sync twin
        backup_report = await async_verify_backup(backup, packed.output, tmp_path / "backup", trust)
        assert backup_report.ok
        assert verify_backup(backup, packed.output, tmp_path / "backup-sync", trust).ok
        info = read_package_info(packed.output)
        with open_key_source(pki.p12("authority/enc"), PinSource.of_value(pki.pin)) as authority:
            from bidcrypt.envelope import unwrap_content_key

            content_key = unwrap_content_key(info.header, authority)
        cache = ValidationCache()
        opened = await async_open_content(
            packed.output, info.header, content_key, info.attributes, tmp_path / "open", trust, cache=cache
        )
        assert opened.ok
        # One chain validation for the package: the manifest's signer; its seals on two documents reuse it.
        assert (cache.misses, cache.hits) == (1, 2)

    asyncio.run(platform())
    for name in ("async", "sync", "backup", "backup-sync", "open"):
        assert (tmp_path / name / "投标函.pdf").exists()
        assert (tmp_path / name / "投标函.pdf").read_bytes() == (
            tmp_path / "async" / "投标函.pdf"
        ).read_bytes()


def test_many_unpacks_at_once_on_one_loop(
    pki: Pki, trust: TrustStore, packer: Packer, tmp_path: Path
) -> None:
    packed = packer()
    cache = ValidationCache()

    async def platform() -> list[bool]:
        with open_key_source(pki.p12("bidder-a/enc"), PinSource.of_value(pki.pin)) as key:
            reports = await asyncio.gather(
                *(
                    async_unpack(packed.output, tmp_path / f"out-{n}", key, trust, cache=cache)
                    for n in range(3)
                )
            )
        return [r.ok for r in reports]

    assert asyncio.run(platform()) == [True, True, True]
