"""Every public function that takes a path takes a ``str`` or any ``os.PathLike`` as it takes a Path.

Tender software embedding the library passes what it has: a ``str``, or its
own path-like object. Each function is called here with both, on real
envelopes, packages and PDFs, and must do what it does with a Path: the
same result, the same files, and a Path (or its text) in what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.doctor import examine
from bidcrypt.envelope import (
    EnvelopeBuilder,
    _inplace,
    authenticate_content,
    decrypt_bytes,
    decrypt_content,
    decrypt_file,
    interrupted_in_place,
    read_header_file,
    read_recipients,
    recover_in_place,
    reencrypt,
    reencrypt_fresh,
    test_open,
    unwrap_content_key,
)
from bidcrypt.envelope._files import open_envelope
from bidcrypt.files import PathArg
from bidcrypt.keys import MODULE_ENV, KeySource, PinSource, open_key_source
from bidcrypt.package import (
    Summary,
    SummaryFile,
    UnpackReport,
    load_summary_file,
    open_content,
    pack,
    read_package_info,
    reencrypt_package,
    unpack,
    verify_backup,
)
from bidcrypt.package.staging import Staging
from bidcrypt.package.unpack import read_verified_bundle
from bidcrypt.seal import SealImage, SealKind, apply_seal, choose_entry, verify_seals
from bidcrypt.trust import TrustStore

from .conftest import FIXTURES, PathLikeOnly, Pki, SoftHsm

Kind = Callable[[Path], PathArg]
KINDS = pytest.mark.parametrize("kind", [str, PathLikeOnly], ids=["str", "PathLike"])
PLAIN = b"sealed bid " * 5000


def _p12(pki: Pki, name: str) -> KeySource:
    return open_key_source(pki.p12(name), PinSource.of_value(pki.pin))


def _envelope(pki: Pki, directory: Path) -> Path:
    """A BER envelope to bidder A, with room for re-encryption in place."""
    (directory / "bid.bin").write_bytes(PLAIN)
    builder = EnvelopeBuilder().add_recipient(load_certificate(pki.cert("bidder-a/enc"))).set_reserve(4096)
    builder.encrypt_file(directory / "bid.bin", directory / "bid.p7m")
    return directory / "bid.p7m"


@KINDS
def test_envelope_functions_take_any_path(pki: Pki, tmp_path: Path, kind: Kind) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(PLAIN)
    envelope = tmp_path / "plain.p7m"
    builder = EnvelopeBuilder().add_recipient(load_certificate(pki.cert("bidder-a/enc"))).set_reserve(4096)
    encrypted = builder.encrypt_file(kind(plain), kind(envelope))
    assert encrypted.output == envelope and encrypted.plaintext_size == len(PLAIN)

    header = read_header_file(envelope)
    assert read_header_file(kind(envelope)) == header
    assert read_recipients(kind(envelope)) == read_recipients(envelope)
    with open_envelope(kind(envelope)) as stream:
        assert stream.read() == envelope.read_bytes()
    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    with _p12(pki, "bidder-a/enc") as key:
        opened = decrypt_file(kind(envelope), kind(tmp_path / "opened"), key)
        assert opened.output == tmp_path / "opened" and opened.output.read_bytes() == PLAIN
        content_key = unwrap_content_key(header, key)
        assert authenticate_content(kind(envelope), header, content_key) == len(PLAIN)
        decrypted = decrypt_content(kind(envelope), header, content_key, kind(tmp_path / "decrypted"))
        assert decrypted.output == tmp_path / "decrypted" and decrypted.output.read_bytes() == PLAIN
        tested = test_open(kind(envelope), key, full=True)
        assert tested.verified and tested.prefix and PLAIN.startswith(tested.prefix)
        copy = reencrypt(kind(envelope), kind(tmp_path / "copy.p7m"), key, [replaced])
        fresh = reencrypt_fresh(kind(envelope), kind(tmp_path / "fresh.p7m"), key, [replaced])
        in_place = reencrypt(kind(envelope), None, key, [replaced])
    assert (copy.output, fresh.output, in_place.output) == (
        tmp_path / "copy.p7m",
        tmp_path / "fresh.p7m",
        envelope,
    )
    with _p12(pki, "bidder-a/enc-replaced") as new_key:
        for result in (copy, fresh, in_place):
            assert decrypt_bytes(result.output.read_bytes(), new_key) == PLAIN


def _interrupt(*_: object) -> NoReturn:
    raise KeyboardInterrupt


@KINDS
def test_an_interrupted_rewrite_is_found_and_undone_by_any_path(pki: Pki, tmp_path: Path, kind: Kind) -> None:
    envelope = _envelope(pki, tmp_path)
    original = envelope.read_bytes()
    assert not interrupted_in_place(kind(envelope)) and not recover_in_place(kind(envelope))
    with pytest.MonkeyPatch.context() as patch, _p12(pki, "bidder-a/enc") as key:
        patch.setattr(_inplace, "_recover_locked", lambda path, descriptor: None)
        patch.setattr(os, "ftruncate", _interrupt)  # dies after the front was written
        with pytest.raises(KeyboardInterrupt):
            reencrypt(envelope, None, key, [load_certificate(pki.cert("bidder-a/enc-replaced"))])
    assert envelope.read_bytes() != original
    assert interrupted_in_place(kind(envelope))
    assert recover_in_place(kind(envelope)) and envelope.read_bytes() == original
    assert not interrupted_in_place(kind(envelope))


@KINDS
def test_package_functions_take_any_path(pki: Pki, tmp_path: Path, kind: Kind) -> None:
    folder = tmp_path / "src"
    (folder / "附件").mkdir(parents=True)
    (folder / "附件" / "说明.txt").write_bytes(PLAIN)
    summary_file = tmp_path / "summary.toml"
    summary_file.write_text('[summary]\nprice = "100.00"\n', encoding="utf-8")
    summary = load_summary_file(kind(summary_file))
    assert summary == load_summary_file(summary_file) and isinstance(summary, SummaryFile)
    package, backup = tmp_path / "bid.bid", tmp_path / "bid.backup"
    recipients = [load_certificate(pki.cert(name)) for name in ("bidder-a/enc", "authority/enc")]
    with _p12(pki, "bidder-a/sign") as signer:
        packed = pack(
            kind(folder),
            kind(package),
            tender="HBGP-2026-001",
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=recipients,
            summary=SummaryFile(Summary(price=summary.summary.price)),
            backup=kind(backup),
        )
    assert (packed.output, packed.backup) == (package, backup) and backup.exists()
    info = read_package_info(kind(package))
    assert info.path == package and info.attributes == read_package_info(package).attributes
    trust = TrustStore.load([pki.roots, pki.intermediates], [pki.crl])

    def opened(report: UnpackReport, source: Path, output: Path) -> bool:
        return (
            report.ok
            and report.package == str(source)
            and report.output == output
            and (output / "附件" / "说明.txt").read_bytes() == PLAIN
        )

    with _p12(pki, "bidder-a/enc") as key:
        assert opened(unpack(kind(package), kind(tmp_path / "a"), key, trust), package, tmp_path / "a")
        content_key = unwrap_content_key(info.header, key)
        report = open_content(
            kind(package), info.header, content_key, info.attributes, kind(tmp_path / "b"), trust
        )
        assert opened(report, package, tmp_path / "b")
        decrypt_file(package, tmp_path / "bundle", key)
    assert opened(
        verify_backup(kind(backup), kind(package), kind(tmp_path / "c"), trust), backup, tmp_path / "c"
    )
    report = UnpackReport(str(package), info.attributes)
    with Staging.create(tmp_path / "d") as staging, (tmp_path / "bundle").open("rb") as stream:
        read_verified_bundle(stream, info.attributes, staging, kind(tmp_path / "d"), trust, None, report)
    assert opened(report, package, tmp_path / "d")

    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    with _p12(pki, "bidder-a/enc") as key:
        copy = reencrypt_package(kind(package), kind(tmp_path / "copy.bid"), key, replaced)
        in_place = reencrypt_package(kind(package), None, key, replaced)
    assert (copy.output, in_place.output) == (tmp_path / "copy.bid", package)
    assert copy.verdict.ok and in_place.verdict.ok and not in_place.already
    with _p12(pki, "bidder-a/enc-replaced") as new_key:
        assert unpack(kind(tmp_path / "copy.bid"), kind(tmp_path / "e"), new_key, trust).ok


@KINDS
def test_seal_functions_take_any_path(pki: Pki, tmp_path: Path, kind: Kind) -> None:
    image = FIXTURES / "seals" / "bidder-a-company.png"
    assert SealImage.load(kind(image)) == SealImage.load(image)
    sealed = tmp_path / "sealed.pdf"
    with _p12(pki, "bidder-a/sign") as source:
        result = apply_seal(
            kind(FIXTURES / "documents" / "bid-response-bidder-a.pdf"),
            kind(sealed),
            choose_entry(source, SealKind.COMPANY),
            kind=SealKind.COMPANY,
            image=kind(image),
        )
    assert result.output == sealed and len(result.seals) == 1
    trust = TrustStore.load([pki.roots, pki.intermediates], [pki.crl])
    report = verify_seals(kind(sealed), trust=trust, expect_uscc=pki.company("bidder-a")["credit_code"])
    assert report.valid and report.document == str(sealed) and len(report.seals) == 1


@KINDS
def test_the_pkcs11_module_is_any_path(
    softhsm: SoftHsm, pki: Pki, kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODULE_ENV, raising=False)  # the module comes from the argument only
    uri = softhsm.uri("bidder-a", with_module=False)
    encryption = load_certificate(pki.cert("bidder-a/enc"))

    def seen(module: PathArg) -> tuple[list[tuple[str, bytes]], list[str], list[str]]:
        with open_key_source(uri, PinSource.of_value(pki.pin), module=module) as source:
            entries = sorted((entry.label, entry.key_id) for entry in source.entries())
            assert any(entry.certificate == encryption for entry in source.entries())
        report = examine(uri, module=module, pin_source=PinSource.of_value(pki.pin))
        assert report.module == softhsm.module
        return entries, sorted(c.label for c in report.certificates), sorted(f.code for f in report.findings)

    assert seen(kind(Path(softhsm.module))) == seen(Path(softhsm.module))
