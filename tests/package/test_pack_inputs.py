"""`bidcrypt pack` given bad or unusual input: the summary file, file names, the UKey, key transports."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result

from bidcrypt.errors import InputError
from bidcrypt.package.summary_file import load_summary_file

from ..conftest import Pki, SoftHsm, run_cli
from .conftest import make_folder


@pytest.fixture
def folder(tmp_path: Path, sealed_pdfs: dict[str, Path]) -> tuple[Path, Path]:
    return make_folder(tmp_path, sealed_pdfs["bidder-a"])


def _pack(pki: Pki, source: Path, output: Path, *extra: str | Path, signer: str | None = None) -> Result:
    return run_cli(
        "pack",
        source,
        "-o",
        output,
        "--tender",
        "HBGP-2026-001",
        "--signer",
        signer or pki.p12("bidder-a/sign"),
        "--encrypt-to",
        pki.cert("bidder-a/enc"),
        "--encrypt-to",
        pki.cert("authority/enc"),
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
        "--json",
        *extra,
        env={"BIDCRYPT_PIN": pki.pin},
    )


def _unpack_json(pki: Pki, package: Path, output: Path, key: str = "authority/enc") -> dict[str, object]:
    opened = run_cli(
        "unpack",
        package,
        "-o",
        output,
        "--key",
        pki.p12(key),
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
        "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert opened.exit_code == 0, opened.stderr
    return json.loads(opened.stdout)  # type: ignore[no-any-return]


def _nothing_packed(directory: Path) -> None:
    assert [
        p.name for p in directory.iterdir() if p.suffix in (".bid", ".part") or p.name.startswith(".")
    ] == []


# --- the summary file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ('summary = "1234567.80"\n', "summary must be a table"),
        ("summary = [1, 2]\n", "summary must be a table"),
        ('roles = "attachment"\n', "roles must be a table"),
        ("[summary]\nprice = true\n", "price must be an amount"),
        ("[summary]\nprice = 1979-05-27\n", "price must be an amount"),
        ("[summary]\nprice = inf\n", "price must be an amount"),
        ("[summary]\nprice = -5\n", "non-negative decimal amount"),
        ("[summary]\nprice = 1e400\n", "at most 18 digits"),
        ("[roles]\n'a' = 5\n", "role of 'a' must be one of"),
        ("[summary]\nduration = 180\n", "summary.duration must be non-empty text"),
        ("[other]\n", "unknown section"),
        ("[summary]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    ],
)
def test_a_bad_summary_file_is_refused_by_name(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path, text: str, phrase: str
) -> None:
    source, summary = folder
    summary.write_text(text, encoding="utf-8")
    result = _pack(pki, source, tmp_path / "bid.bid", "--summary", summary)
    assert result.exit_code == 3, result.stderr
    assert phrase in result.stderr and str(summary) in result.stderr
    _nothing_packed(tmp_path)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("9007199254740993.01", "9007199254740993.01"),
        ("1234567.80", "1234567.80"),
        ("1234567", "1234567"),
        ("0.10", "0.10"),
        ("1e3", "1000"),
        ('"1234567.80"', "1234567.80"),
    ],
)
def test_a_price_is_kept_as_the_exact_decimal_written(tmp_path: Path, written: str, kept: str) -> None:
    path = tmp_path / "summary.toml"
    path.write_text(f"[summary]\nprice = {written}\n", encoding="utf-8")
    price = load_summary_file(path).summary.price
    assert price is not None and format(price, "f") == kept and price == Decimal(kept)


def test_the_exact_price_is_what_is_signed_and_unpacked(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path
) -> None:
    source, summary = folder
    summary.write_text("[summary]\nprice = 9007199254740993.01\n", encoding="utf-8")
    packed = _pack(pki, source, tmp_path / "bid.bid", "--summary", summary)
    assert packed.exit_code == 0, packed.stderr
    report = _unpack_json(pki, tmp_path / "bid.bid", tmp_path / "out")
    assert report["summary"]["price"] == "9007199254740993.01"  # type: ignore[index]


def test_a_summary_file_that_is_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "summary.toml"
    path.write_bytes(b"#" * (2 << 20))
    with pytest.raises(InputError, match="larger than"):
        load_summary_file(path)


# --- file names -----------------------------------------------------------------------------------

GBK_NAME = "投标函附件.txt".encode("gbk")


def _gbk_file(source: Path) -> None:
    """A file whose name is GBK bytes, as unzipping on Linux a folder zipped on Chinese Windows leaves it."""
    (source / "附件" / os.fsdecode(GBK_NAME)).write_bytes(b"from Chinese Windows")


def test_a_name_that_is_not_utf8_is_refused_with_the_way_out(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = folder
    _gbk_file(source)
    result = _pack(pki, source, tmp_path / "bid.bid")
    assert result.exit_code == 51, result.stderr
    assert "the name is not UTF-8" in result.stderr and "--names-from gbk" in result.stderr
    assert "投标函附件.txt" in result.stderr  # what it would be read as
    assert "附件/\\xcd\\xb6\\xb1\\xea" in result.stderr  # and which file: its bytes, shown
    assert "control characters" not in result.stderr
    _nothing_packed(tmp_path)


def test_names_from_gbk_reads_such_names_as_gbk(pki: Pki, folder: tuple[Path, Path], tmp_path: Path) -> None:
    source, _ = folder
    _gbk_file(source)
    packed = _pack(pki, source, tmp_path / "bid.bid", "--names-from", "gbk")
    assert packed.exit_code == 0, packed.stderr
    report = _unpack_json(pki, tmp_path / "bid.bid", tmp_path / "out")
    paths = [f["path"] for f in report["files"]]  # type: ignore[attr-defined]
    assert "附件/投标函附件.txt" in paths  # converted to UTF-8
    assert "附件/空.txt" in paths  # names that were UTF-8 stay as they were
    assert (tmp_path / "out" / "附件" / "投标函附件.txt").read_bytes() == b"from Chinese Windows"


def test_names_from_gbk_refuses_two_files_of_the_same_name(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = folder
    _gbk_file(source)
    (source / "附件" / "投标函附件.txt").write_bytes(b"the UTF-8 one")
    result = _pack(pki, source, tmp_path / "bid.bid", "--names-from", "gbk")
    assert result.exit_code == 51, result.stderr
    assert "read as the same name" in result.stderr


@pytest.mark.parametrize("name", ["invoice\u202efdp.exe", "a\u200bb.pdf", "line\u2028break.txt"])
def test_format_characters_in_a_source_name_are_refused(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path, name: str
) -> None:
    source, _ = folder
    (source / name).write_bytes(b"x")
    result = _pack(pki, source, tmp_path / "bid.bid")
    assert result.exit_code == 51, result.stderr
    special = next(c for c in name if ord(c) > 0x2000)
    assert f"U+{ord(special):04X}" in result.stderr
    assert "\\u" in result.stderr  # the name is shown with the character escaped, not hidden
    _nothing_packed(tmp_path)


# --- the UKey and the key transports ----------------------------------------------------------------


def test_a_signer_named_by_object_still_asks_the_whole_token(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path, softhsm: SoftHsm
) -> None:
    source, summary = folder
    packed = _pack(
        pki,
        source,
        tmp_path / "bid.bid",
        "--summary",
        summary,
        signer=softhsm.uri("bidder-a", "sign"),
    )
    assert packed.exit_code == 0, packed.stderr
    report = json.loads(packed.stdout)
    own = next(r for r in report["recipients"] if r["role"] == "bidder")
    assert own["key_transport"] == "oaep-sha1", own  # what SoftHSM2 really undoes, asked on the token
    assert "could not be asked" not in own["reason"] and "strongest" in own["reason"]
    assert report["test_opened"] is True
    assert "warning" not in packed.stderr


def test_a_signer_object_that_is_not_on_the_token_is_refused(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path, softhsm: SoftHsm
) -> None:
    source, _ = folder
    result = _pack(pki, source, tmp_path / "bid.bid", signer=softhsm.uri("bidder-a", "nothing"))
    assert result.exit_code == 12, result.stderr
    assert "nothing" in result.stderr


def test_the_authority_gets_oaep_sha256_unless_it_declares_otherwise(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = folder
    packed = _pack(pki, source, tmp_path / "bid.bid")
    assert packed.exit_code == 0, packed.stderr
    authority = next(r for r in json.loads(packed.stdout)["recipients"] if r["role"] == "opening-authority")
    assert authority["key_transport"] == "oaep"
    assert "authority declares" in authority["reason"]
    _unpack_json(pki, tmp_path / "bid.bid", tmp_path / "out")  # the authority's key opens it
    declared = _pack(pki, source, tmp_path / "v15.bid", "--authority-transport", "pkcs1v15")
    authority = next(r for r in json.loads(declared.stdout)["recipients"] if r["role"] == "opening-authority")
    assert authority["key_transport"] == "pkcs1v15"
    text = run_cli(
        "pack",
        source,
        "-o",
        tmp_path / "text.bid",
        "--tender",
        "T",
        "--signer",
        pki.p12("bidder-a/sign"),
        "--encrypt-to",
        pki.cert("bidder-a/enc"),
        "--encrypt-to",
        pki.cert("authority/enc"),
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert text.exit_code == 0, text.stderr
    assert "opening-authority, oaep: as the opening authority declares" in text.stdout


def test_a_folder_that_cannot_be_listed_is_refused_not_skipped(
    pki: Pki, folder: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = folder
    locked = source / "技术标" / "施工组织设计"

    def listing_refused(path: object) -> object:
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    real_scandir = os.scandir
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "scandir", listing_refused)  # as chmod 000 would, for root too
        result = _pack(pki, source, tmp_path / "bid.bid")
    assert result.exit_code == 3, result.stderr
    assert "Permission denied" in result.stderr and "施工组织设计" in result.stderr
    _nothing_packed(tmp_path)
