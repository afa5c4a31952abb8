"""A document sealed on SoftHSM UKeys, checked by peers nobody here wrote: pdfsig, qpdf, pypdf, pdftoppm."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pypdf
import pytest

from ..conftest import PKI, Pki, SoftHsm, require_tool, run_cli
from .conftest import document, render_page, seal_image

pytestmark = [pytest.mark.softhsm, pytest.mark.poppler]

A4_HEIGHT = 842.0


def seal_on_ukey(
    softhsm: SoftHsm, source: Path, output: Path, bidder: str, kind: str, *extra: str
) -> dict[str, object]:
    """`bidcrypt seal apply` with the bidder's UKey; the JSON result."""
    obj = "sign" if kind == "company" else "legal"
    result = run_cli(
        "seal", "apply", source, "-o", output,
        "--key", softhsm.uri(bidder, obj),
        "--kind", kind,
        "--image", seal_image(bidder, kind),
        "--chain", PKI / bidder / f"{obj}.chain.pem",
        "--json", *extra,
        env={"BIDCRYPT_PIN": softhsm.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def sealed(
    softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[dict[str, object]]]:
    """bidder-a's response with its company seal, then its legal representative's seal, both on the UKey."""
    directory = tmp_path_factory.mktemp("sealed")
    company = seal_on_ukey(softhsm, document(), directory / "company.pdf", "bidder-a", "company")
    legal = seal_on_ukey(
        softhsm, directory / "company.pdf", directory / "sealed.pdf", "bidder-a", "legal-person"
    )
    return directory / "sealed.pdf", [company, legal]


def pdfsig(path: Path, nss_db: str) -> list[dict[str, str]]:
    """pdfsig's report, one dict per signature."""
    tool = require_tool("pdfsig")
    output = subprocess.run(
        [tool, "-nssdir", nss_db, path], capture_output=True, text=True, check=True
    ).stdout
    signatures = []
    for block in re.split(r"^Signature #\d+:$", output, flags=re.MULTILINE)[1:]:
        fields = dict(re.findall(r"^ *- ([^:\n]+): (.*)$", block, flags=re.MULTILINE))
        fields["total"] = "Total document signed" in block
        signatures.append(fields)
    return signatures


def test_pdfsig_reports_both_seals_valid_and_trusted(
    sealed: tuple[Path, list[dict[str, object]]], nss_db: str
) -> None:
    path, _ = sealed
    signatures = pdfsig(path, nss_db)
    assert [s["Signature Field Name"] for s in signatures] == ["CompanySeal1", "LegalPersonSeal1"]
    for signature in signatures:
        assert signature["Signature Validation"] == "Signature is Valid."
        assert signature["Certificate Validation"] == "Certificate is Trusted."
        assert signature["Signature Type"] == "ETSI.CAdES.detached"
    assert signatures[0]["Signer Certificate Common Name"] == "湖北楚天建设工程有限公司"
    assert signatures[1]["Signer Certificate Common Name"] == "张伟"
    assert [s["total"] for s in signatures] == [False, True]


def test_pdfsig_without_the_root_in_its_store_does_not_trust_them(
    sealed: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    certutil = require_tool("certutil")
    subprocess.run([certutil, "-N", "-d", f"sql:{tmp_path}", "--empty-password"], check=True)
    for signature in pdfsig(sealed[0], f"sql:{tmp_path}"):
        assert signature["Signature Validation"] == "Signature is Valid."
        assert signature["Certificate Validation"] != "Certificate is Trusted."


def test_qpdf_finds_no_structural_problem(sealed: tuple[Path, list[dict[str, object]]]) -> None:
    qpdf = require_tool("qpdf")
    result = subprocess.run([qpdf, "--check", sealed[0]], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def test_pypdf_still_reads_the_chinese_text(sealed: tuple[Path, list[dict[str, object]]]) -> None:
    reader = pypdf.PdfReader(sealed[0])
    assert len(reader.pages) == 4
    assert "投 标 文 件" in reader.pages[0].extract_text()
    last = reader.pages[3].extract_text()
    assert "法定代表人身份证明" in last
    assert "湖北楚天建设工程有限公司" in last
    assert {str(f) for f in reader.get_fields() or {}} >= {"CompanySeal1", "LegalPersonSeal1"}


def test_the_seals_are_red_where_the_boxes_say(
    sealed: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    path, results = sealed
    raster = render_page(path, 4, tmp_path)
    boxes = [tuple(r["seals"][0]["box"]) for r in results]
    inside = 0
    for box in boxes:
        red, area = raster.red_in(box, A4_HEIGHT)
        assert red > 0.15 * area, f"the seal in {box} is hardly visible ({red} of {area} pixels red)"
        inside += red
    # All the red on the page is inside the two boxes (the document itself is black on white).
    assert raster.red_total() == inside
    # The unsealed page has no red at all.
    (tmp_path / "plain").mkdir()
    assert render_page(document(), 4, tmp_path / "plain").red_total() == 0


def test_bidcrypt_verifies_both_seals_with_kind_signer_and_code(
    sealed: tuple[Path, list[dict[str, object]]], pki: Pki
) -> None:
    result = run_cli(
        "seal", "verify", sealed[0], "--trust", pki.roots, "--crl", pki.crl,
        "--expect-uscc", "91420100MA4KXB7Q09", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True
    company, legal = report["seals"]
    assert (company["kind"], company["signer"], company["credit_code"]) == (
        "company", "湖北楚天建设工程有限公司", "91420100MA4KXB7Q09",
    )  # fmt: skip
    assert (legal["kind"], legal["signer"], legal["company"]) == (
        "legal-person",
        "张伟",
        "湖北楚天建设工程有限公司",
    )
    assert company["later_seals"] == 1 and company["modified_after"] is False
    assert company["revocation"]["state"] == "good"
    assert company["trust_anchor"] == "BidCrypt Test Root CA"
    assert company["page"] == legal["page"] == 4
    assert company["signing_time"] is not None and company["timestamp"] is None


def test_ec_company_seal_on_the_ukey_verifies_here_and_in_pdfsig(
    softhsm: SoftHsm, pki: Pki, nss_db: str, tmp_path: Path
) -> None:
    output = tmp_path / "b.pdf"
    seal_on_ukey(softhsm, document("bidder-b"), output, "bidder-b", "company", "--page", "1")
    (signature,) = pdfsig(output, nss_db)
    assert signature["Signature Validation"] == "Signature is Valid."
    assert signature["Certificate Validation"] == "Certificate is Trusted."
    result = run_cli("seal", "verify", output, "--trust", pki.roots, "--expect-uscc", "91350100MA2YHT3R8H")
    assert result.exit_code == 0, result.output
    assert "company seal on page 1 — 福建闽江科技股份有限公司 (91350100MA2YHT3R8H)" in result.stdout


def test_every_page_sealed_verifies_in_pdfsig(
    softhsm: SoftHsm, pki: Pki, nss_db: str, tmp_path: Path
) -> None:
    output = tmp_path / "all.pdf"
    result = seal_on_ukey(softhsm, document(), output, "bidder-a", "company", "--page", "all")
    assert [s["page"] for s in result["seals"]] == [1, 2, 3, 4]
    signatures = pdfsig(output, nss_db)
    assert [s["Signature Field Name"] for s in signatures] == [f"CompanySeal{n}" for n in (1, 2, 3, 4)]
    assert {s["Signature Validation"] for s in signatures} == {"Signature is Valid."}
    # poppler 22.12 trusts only the first of several signatures made with one certificate: NSS fails
    # the later path checks with SEC_ERROR_REUSED_ISSUER_AND_SERIAL. Two signatures made by pdfsig
    # itself with one certificate behave the same, so the chain of the others is checked here instead.
    assert signatures[0]["Certificate Validation"] == "Certificate is Trusted."
    qpdf = subprocess.run(
        [require_tool("qpdf"), "--check", output], capture_output=True, text=True, check=False
    )
    assert qpdf.returncode == 0, qpdf.stdout  # one image object shared by the four appearances
    verified = run_cli("seal", "verify", output, "--trust", pki.roots, "--crl", pki.crl, "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert [(s["page"], s["trusted"], s["later_seals"]) for s in report["seals"]] == [
        (1, True, 3), (2, True, 2), (3, True, 1), (4, True, 0),
    ]  # fmt: skip
