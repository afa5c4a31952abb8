"""Fixtures of the package tests: sealed bid folders per bidder, trust, and a packing helper."""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from bidcrypt.certs import load_certificate
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.package import PackResult, load_summary_file, pack
from bidcrypt.seal import SealKind, choose_entry
from bidcrypt.trust import TrustStore

from ..conftest import Pki

SUMMARY = """\
[summary]
price = "{price}"
currency = "CNY"
duration = "180日历天"
[summary.items]
"质保期" = "2年"
[roles]
"商务标/*" = "price-sheet"
"附件/*" = "attachment"
"""
NFC_NAME = unicodedata.normalize("NFC", "附件/Société 资质证书.txt")
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    return TrustStore.load([pki.roots, pki.intermediates], [pki.crl])


def make_folder(root: Path, sealed_pdf: Path, price: str = "1234567.80") -> tuple[Path, Path]:
    """A bid folder with nested Chinese names (NFC and NFD forms), and its summary file."""
    folder = root / "src"
    (folder / "技术标" / "施工组织设计").mkdir(parents=True)
    (folder / "商务标").mkdir()
    (folder / "附件").mkdir()
    shutil.copy(sealed_pdf, folder / "投标函.pdf")
    shutil.copy(sealed_pdf, folder / "商务标" / "报价一览表.pdf")
    (folder / "技术标" / "施工组织设计" / "第一章 总体部署.txt").write_text(
        "总体部署" * 1000, encoding="utf-8"
    )
    (folder / NFC_NAME).write_bytes(b"NFC form")
    (folder / NFD_NAME).write_bytes(b"NFD form")
    (folder / "附件" / "空.txt").write_bytes(b"")
    summary = root / "summary.toml"
    summary.write_text(SUMMARY.format(price=price), encoding="utf-8")
    return folder, summary


Packer = Callable[..., PackResult]


@pytest.fixture
def packer(pki: Pki, sealed_pdfs: dict[str, Path], trust: TrustStore, tmp_path: Path) -> Packer:
    """Pack a bidder's folder with the PKCS#12 signing key (``signer=`` a key source to use another)."""

    def run(
        bidder: str = "bidder-a",
        *,
        encrypt_to: list[x509.Certificate] | None = None,
        signer: KeySource | None = None,
        name: str = "bid.bid",
        **options: object,
    ) -> PackResult:
        root = tmp_path / f"{bidder}-{name}"
        root.mkdir()
        folder, summary = make_folder(root, sealed_pdfs[bidder])
        recipients = encrypt_to or [
            load_certificate(pki.cert(f"{bidder}/enc")),
            load_certificate(pki.cert("authority/enc")),
        ]
        source = signer or open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin))
        with source:
            options.setdefault("trust", trust)
            return pack(
                folder,
                tmp_path / name,
                tender="HBGP-2026-001",
                lot="1",
                signer=choose_entry(source, SealKind.COMPANY),
                encrypt_to=recipients,
                summary=load_summary_file(summary),
                key_source=source,
                **options,
            )  # type: ignore[arg-type]

    return run
