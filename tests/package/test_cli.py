"""The package commands as a user runs them: refusals with their message and exit code, nothing left."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..conftest import FIXTURES, Pki, SoftHsm, run_cli
from .conftest import make_folder


@pytest.fixture
def folder(tmp_path: Path, sealed_pdfs: dict[str, Path]) -> tuple[Path, Path]:
    return make_folder(tmp_path, sealed_pdfs["bidder-a"])


def _pack(
    pki: Pki,
    folder: tuple[Path, Path],
    output: Path,
    *extra: str,
    signer: str | None = None,
    encrypt_to: tuple[str, ...] = ("bidder-a/enc", "authority/enc"),
) -> object:
    source, summary = folder
    args = [
        "pack",
        str(source),
        "-o",
        str(output),
        "--tender",
        "HBGP-2026-001",
        "--lot",
        "1",
        "--signer",
        signer or str(pki.p12("bidder-a/sign")),
        "--summary",
        str(summary),
        "--trust",
        str(pki.roots),
        "--trust",
        str(pki.intermediates),
        *extra,
    ]
    for name in encrypt_to:
        args += ["--encrypt-to", str(pki.cert(name))]
    return run_cli(*args, env={"BIDCRYPT_PIN": pki.pin})


def _nothing_left(directory: Path) -> None:
    assert [
        p.name for p in directory.iterdir() if p.suffix in (".bid", ".part", ".tar") or p.name.startswith(".")
    ] == []


def test_pack_inspect_unpack(pki: Pki, folder: tuple[Path, Path], tmp_path: Path, softhsm: SoftHsm) -> None:
    output = tmp_path / "bid.bid"
    # The authority's UKey is a SoftHSM2 token: it declares OAEP-SHA1 (it cannot undo OAEP-SHA256).
    packed = _pack(pki, folder, output, "--json", "--authority-transport", "oaep-sha1")
    assert packed.exit_code == 0, packed.stderr  # type: ignore[attr-defined]
    report = json.loads(packed.stdout)  # type: ignore[attr-defined]
    assert report["attributes"]["credit_code"] == "91420100MA4KXB7Q09"
    authority = next(r for r in report["recipients"] if r["role"] == "opening-authority")
    assert authority["key_transport"] == "oaep-sha1" and "authority declares" in authority["reason"]
    inspected = run_cli("inspect", output)
    assert inspected.exit_code == 0
    assert "HBGP-2026-001" in inspected.stdout and "开标解密专用证书" in inspected.stdout
    opened = run_cli(
        "unpack",
        output,
        "-o",
        tmp_path / "out",
        "--key",
        softhsm.uri("authority"),
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
        "--crl",
        pki.crl,
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert opened.exit_code == 0, opened.stderr
    assert "1234567.80 CNY" in opened.stdout
    again = run_cli(
        "unpack",
        output,
        "-o",
        tmp_path / "out",
        "--key",
        softhsm.uri("authority"),
        "--trust",
        pki.roots,
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert again.exit_code == 4  # the folder exists: never overwritten


@pytest.mark.parametrize(
    ("encrypt_to", "signer", "exit_code", "phrase"),
    [
        (("bidder-a/sign",), None, 22, "not allowed for encryption"),
        (("bidder-a/enc-expired",), None, 20, "expired"),
        (("bidder-a/enc-not-yet-valid",), None, 21, "not valid before"),
        (("bidder-b/enc",), None, 25, "none of the encryption certificates is the bidder's own"),
        (("rogue/enc",), None, 23, "does not chain to a trusted CA"),
        (("bidder-a/enc",), "bidder-a/legal", 46, "company seal cannot be made"),
    ],
)
def test_pack_refusals(
    pki: Pki,
    folder: tuple[Path, Path],
    tmp_path: Path,
    encrypt_to: tuple[str, ...],
    signer: str | None,
    exit_code: int,
    phrase: str,
) -> None:
    output = tmp_path / "bid.bid"
    result = _pack(
        pki,
        folder,
        output,
        "--backup",
        str(tmp_path / "backup.tar"),
        encrypt_to=encrypt_to,
        signer=str(pki.p12(signer)) if signer else None,
    )
    assert result.exit_code == exit_code, result.stderr  # type: ignore[attr-defined]
    assert phrase in result.stderr  # type: ignore[attr-defined]
    _nothing_left(tmp_path)


def test_unsealed_pdf_is_refused_or_warned(pki: Pki, folder: tuple[Path, Path], tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "documents" / "bid-response-bidder-a.pdf", folder[0] / "未盖章.pdf")
    refused = _pack(pki, folder, tmp_path / "bid.bid")
    assert refused.exit_code == 45  # type: ignore[attr-defined]
    assert "未盖章.pdf carries no company seal" in refused.stderr  # type: ignore[attr-defined]
    _nothing_left(tmp_path)
    warned = _pack(pki, folder, tmp_path / "bid.bid", "--allow-unsealed")
    assert warned.exit_code == 0  # type: ignore[attr-defined]
    assert "warning" in warned.stderr and "未盖章.pdf" in warned.stderr  # type: ignore[attr-defined]


def test_another_bidders_seal_is_refused(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path, sealed_pdfs: dict[str, Path]
) -> None:
    shutil.copy(sealed_pdfs["bidder-b"], folder[0] / "投标函.pdf")
    result = _pack(pki, folder, tmp_path / "bid.bid")
    assert result.exit_code == 25  # type: ignore[attr-defined]
    assert "does not match unit name" in result.stderr  # type: ignore[attr-defined]


def test_existing_output_and_bad_summary(pki: Pki, folder: tuple[Path, Path], tmp_path: Path) -> None:
    output = tmp_path / "bid.bid"
    output.write_bytes(b"an earlier package")
    assert _pack(pki, folder, output).exit_code == 4  # type: ignore[attr-defined]
    assert output.read_bytes() == b"an earlier package"
    folder[1].write_text("[summary]\nprice = 'cheap'\n", encoding="utf-8")
    bad = _pack(pki, folder, tmp_path / "other.bid")
    assert bad.exit_code == 3 and "cheap" in bad.stderr  # type: ignore[attr-defined]


def test_chinese_messages(pki: Pki, folder: tuple[Path, Path], tmp_path: Path) -> None:
    source, _summary = folder
    result = run_cli(
        "pack",
        source,
        "-o",
        tmp_path / "b.bid",
        "--tender",
        "T",
        "--signer",
        pki.p12("bidder-a/sign"),
        "--encrypt-to",
        pki.cert("bidder-a/sign"),
        env={"BIDCRYPT_PIN": pki.pin, "LANG": "zh_CN.UTF-8"},
    )
    assert result.exit_code == 22
    assert "不能用于加密" in result.stderr
