"""Verification: what it reports for good seals, and each failure it must flag."""

from __future__ import annotations

import json
from pathlib import Path

import pypdf
import pytest
from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from bidcrypt.certs import load_certificates
from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import (
    CertificateRevokedError,
    CertificateUntrustedError,
    CreditCodeError,
    DocumentModifiedError,
    IdentityMismatchError,
    NoSealError,
    SealInvalidError,
)
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.seal import Placement, SealKind, apply_seal, choose_entry, verify_seals

from ..conftest import Pki, run_cli
from .conftest import document, seal_image, trust_store
from .tsa import LocalTsa

BIDDER_A = "91420100MA4KXB7Q09"
BIDDER_B = "91350100MA2YHT3R8H"


def seal(
    pki: Pki,
    source: Path,
    output: Path,
    identity: str,
    kind: SealKind = SealKind.COMPANY,
    placement: Placement | None = None,
    tsa_url: str | None = None,
) -> Path:
    """Seal with a PKCS#12 key of the test PKI (``bidder-a/sign``, ``rogue/sign``, ...)."""
    bidder = identity.split("/")[0]
    image = seal_image(bidder if bidder.startswith("bidder") else "bidder-a", kind.value)
    with open_key_source(str(pki.p12(identity)), PinSource.of_value(pki.pin)) as key_source:
        apply_seal(
            source,
            output,
            choose_entry(key_source, kind),
            kind=kind,
            image=image,
            placement=placement,
            chain=load_certificates(pki.chain(identity)),
            tsa_url=tsa_url,
        )
    return output


def verify(path: Path, pki: Pki, *extra: str) -> tuple[int, dict]:
    result = run_cli("seal", "verify", path, "--trust", pki.roots, "--crl", pki.crl, "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def both_seals(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bidder-a's document with its company seal and its legal representative's seal (PKCS#12 keys)."""
    directory = tmp_path_factory.mktemp("both")
    seal(pki, document(), directory / "company.pdf", "bidder-a/sign")
    return seal(
        pki, directory / "company.pdf", directory / "both.pdf", "bidder-a/legal", SealKind.LEGAL_PERSON
    )


def test_the_kind_is_a_signed_claimed_role_in_the_cms(both_seals: Path) -> None:
    """Read without bidcrypt: signer-attributes-v2 (0.4.0.19122.1.1) holding a role (2.5.4.72) URI."""
    role_oid = bytes.fromhex("0603550448")
    expected = {
        "CompanySeal1": b"urn:bidcrypt:seal-kind:company",
        "LegalPersonSeal1": b"urn:bidcrypt:seal-kind:legal-person",
    }
    reasons = {}
    for name, field in (pypdf.PdfReader(both_seals).get_fields() or {}).items():
        signature = field.value
        contents = bytes(signature["/Contents"])
        # /Contents is the DER zero-padded: the load reads the DER's own length (stripping the zeros
        # would also cut a signature whose last byte is 0x00, once in 256).
        signer_info = cms.ContentInfo.load(contents)["content"]["signer_infos"][0]
        (attribute,) = [a for a in signer_info["signed_attrs"] if a["type"].dotted == "0.4.0.19122.1.1"]
        der = attribute.dump()
        assert role_oid in der and expected[name] in der
        reasons[name] = str(signature["/Reason"])
    assert reasons == {"CompanySeal1": "公章 company seal", "LegalPersonSeal1": "法人章 legal-person seal"}


def test_a_good_document_verifies_in_the_library(both_seals: Path, pki: Pki) -> None:
    report = verify_seals(both_seals, trust=trust_store(pki), expect_uscc=BIDDER_A)
    assert report.valid and not report.problems and not report.warnings
    assert [s.kind for s in report.seals] == [SealKind.COMPANY, SealKind.LEGAL_PERSON]
    company = report.company_seals[0]
    assert (company.signer, company.credit_code, company.identity_ok) == (
        "湖北楚天建设工程有限公司",
        BIDDER_A,
        True,
    )
    assert company.intact and company.trusted and not company.modified_after
    assert company.revocation.state == "good"
    assert report.legal_person_seals[0].signer == "张伟"
    report.raise_for_problems()  # nothing to raise


def test_modified_after_sealing_is_flagged(both_seals: Path, pki: Pki, tmp_path: Path) -> None:
    """Append an unsigned incremental update that draws over the price table."""
    tampered = tmp_path / "tampered.pdf"
    with both_seals.open("rb") as source:
        writer = IncrementalPdfFileWriter(source)
        stream = writer.add_object(generic.StreamObject(stream_data=b"1 1 1 rg 150 630 120 25 re f"))
        writer.add_stream_to_page(2, stream)
        with tampered.open("wb") as out:
            writer.write(out)
    code, report = verify(tampered, pki)
    assert code == exit_code_for(DocumentModifiedError) == 44
    assert report["valid"] is False
    assert [s["modified_after"] for s in report["seals"]] == [True, True]
    assert [s["intact"] for s in report["seals"]] == [True, True]  # the signatures themselves still hold
    messages = [p["message"] for p in report["problems"]]
    assert "the document was changed after seal CompanySeal1 (company seal) was applied" in messages[0]
    assert "revision 4 is an unsealed change (content)" in messages[0]


def test_a_metadata_only_update_after_sealing_is_flagged_too(
    both_seals: Path, pki: Pki, tmp_path: Path
) -> None:
    tampered = tmp_path / "retitled.pdf"
    with both_seals.open("rb") as source:
        writer = IncrementalPdfFileWriter(source)
        info = writer.trailer["/Info"]
        info[generic.pdf_name("/Title")] = generic.TextStringObject("another title")
        writer.update_container(info)
        with tampered.open("wb") as out:
            writer.write(out)
    code, report = verify(tampered, pki)
    assert code == 44
    assert "unsealed change (metadata)" in report["problems"][0]["message"]


def test_a_later_seal_that_also_changes_the_document_fails_the_earlier_seal(pki: Pki, tmp_path: Path) -> None:
    first = seal(pki, document(), tmp_path / "one.pdf", "bidder-a/sign")
    sneaky = tmp_path / "sneaky.pdf"
    with first.open("rb") as source:
        writer = IncrementalPdfFileWriter(source)
        writer.add_stream_to_page(
            2, writer.add_object(generic.StreamObject(stream_data=b"0 0 1 rg 0 0 9 9 re f"))
        )
        signer = signers.SimpleSigner.load_pkcs12(str(pki.p12("bidder-a/legal")), passphrase=pki.pin.encode())
        assert signer is not None
        pdf_signer = signers.PdfSigner(
            signers.PdfSignatureMetadata(field_name="Extra"),
            signer,
            new_field_spec=fields.SigFieldSpec("Extra", on_page=0, box=(50, 50, 100, 100)),
        )
        with sneaky.open("wb") as out:
            pdf_signer.sign_pdf(writer, output=out)
    report = verify_seals(sneaky, trust=trust_store(pki))
    first_seal, later = report.seals
    assert (
        first_seal.modified_after
        and "adds a seal and also changes the document" in first_seal.modifications[0]
    )
    assert not later.modified_after and later.intact
    assert later.kind is None  # made by other software: no kind recorded
    assert [w.code for w in later.findings] == ["seal-kind-unknown"]


def test_a_seal_from_the_untrusted_ca_is_flagged(pki: Pki, tmp_path: Path) -> None:
    rogue = seal(pki, document(), tmp_path / "rogue.pdf", "rogue/sign")
    code, report = verify(rogue, pki, "--expect-uscc", BIDDER_A)
    assert code == exit_code_for(CertificateUntrustedError) == 23
    (check,) = report["seals"]
    assert check["intact"] is True and check["trusted"] is False
    # It claims to be bidder A, with bidder A's name and credit code: only the chain gives it away.
    assert (check["company"], check["credit_code"], check["identity_ok"]) == (
        "湖北楚天建设工程有限公司",
        BIDDER_A,
        True,
    )
    assert "its issuer Untrusted Test CA is not trusted here" in report["problems"][0]["message"]


def test_a_revoked_signer_is_flagged_with_the_crl(pki: Pki, tmp_path: Path) -> None:
    revoked = seal(pki, document(), tmp_path / "revoked.pdf", "bidder-a/sign-revoked")
    code, report = verify(revoked, pki)
    assert code == exit_code_for(CertificateRevokedError) == 24
    (check,) = report["seals"]
    assert check["revocation"]["state"] == "revoked"
    assert check["revocation"]["revoked_at"] == "2025-09-01 00:00:00Z"
    assert check["revocation"]["reason"] == "keyCompromise"
    assert "was revoked on 2025-09-01 00:00:00Z" in report["problems"][0]["message"]
    # Without the CRL nothing can tell, and the report says revocation was not checked.
    without = run_cli("seal", "verify", revoked, "--trust", pki.roots, "--json")
    assert without.exit_code == 0
    assert json.loads(without.stdout)["seals"][0]["revocation"]["state"] == "not-checked"


def test_a_seal_of_an_issuer_without_a_given_crl_has_unknown_revocation(pki: Pki, tmp_path: Path) -> None:
    ec_seal = seal(pki, document("bidder-b"), tmp_path / "b.pdf", "bidder-b/sign")
    code, report = verify(ec_seal, pki, "--expect-uscc", BIDDER_B)
    assert code == 0
    assert report["seals"][0]["revocation"]["state"] == "unknown"
    assert [w["code"] for w in report["warnings"]] == ["revocation-unknown"]


def test_another_bidders_company_seal_is_flagged_by_expect_uscc(pki: Pki, tmp_path: Path) -> None:
    other = seal(pki, document("bidder-b"), tmp_path / "b.pdf", "bidder-b/sign")
    code, report = verify(other, pki, "--expect-uscc", BIDDER_A)
    assert code == exit_code_for(IdentityMismatchError) == 25
    assert report["seals"][0]["identity_ok"] is False
    assert report["problems"][0]["message"] == (
        "certificate name does not match unit name: certificate has 福建闽江科技股份有限公司 "
        f"({BIDDER_B}), expected {BIDDER_A}"
    )


def test_a_document_without_seals_fails(pki: Pki) -> None:
    code, report = verify(document(), pki)
    assert code == exit_code_for(NoSealError) == 45
    assert report["seals"] == []
    assert report["problems"][0]["code"] == "no-seal"


def test_a_legal_person_seal_alone_is_not_a_company_seal(pki: Pki, tmp_path: Path) -> None:
    legal = seal(pki, document(), tmp_path / "l.pdf", "bidder-a/legal", SealKind.LEGAL_PERSON)
    assert verify(legal, pki)[0] == 0
    code, report = verify(legal, pki, "--expect-uscc", BIDDER_A)
    assert code == 45
    assert report["problems"][0]["message"].endswith(f"carries no company seal of {BIDDER_A}")


def test_a_malformed_expected_code_is_refused(pki: Pki, both_seals: Path) -> None:
    result = run_cli(
        "seal", "verify", both_seals, "--trust", pki.roots, "--expect-uscc", "91420100MA4KXB7Q08"
    )
    assert result.exit_code == exit_code_for(CreditCodeError)
    assert "invalid unified social credit code 91420100MA4KXB7Q08" in result.stderr


def test_a_timestamped_seal_reports_its_timestamp(pki: Pki, tsa: LocalTsa, tmp_path: Path) -> None:
    before = len(tsa.answered)
    stamped = seal(pki, document(), tmp_path / "t.pdf", "bidder-a/sign", tsa_url=tsa.url)
    assert len(tsa.answered) > before  # the loopback authority was asked
    code, report = verify(stamped, pki, "--expect-uscc", BIDDER_A)
    assert code == 0, report
    timestamp = report["seals"][0]["timestamp"]
    assert timestamp["authority"] == "楚天测试时间戳服务"
    assert timestamp["valid"] is True and timestamp["trusted"] is True
    assert timestamp["time"][:10] == report["checked_at"][:10]
    human = run_cli("seal", "verify", stamped, "--trust", pki.roots)
    assert "timestamp: " in human.stdout and "(楚天测试时间戳服务, trusted)" in human.stdout


def test_a_timestamp_the_trust_store_does_not_cover_fails_the_seal(
    pki: Pki, tsa: LocalTsa, tmp_path: Path
) -> None:
    stamped = seal(pki, document(), tmp_path / "t.pdf", "bidder-a/sign", tsa_url=tsa.url)
    other_root = pki.root / "trust" / "untrusted-root.pem"
    result = run_cli("seal", "verify", stamped, "--trust", other_root, "--json")
    data = json.loads(result.stdout)
    assert result.exit_code != 0
    assert data["seals"][0]["timestamp"]["valid"] is True
    assert data["seals"][0]["timestamp"]["trusted"] is False
    assert any("its timestamp authority is not trusted" in p["message"] for p in data["problems"])


def test_chinese_report_under_a_chinese_locale(
    both_seals: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = run_cli("seal", "verify", both_seals, "--trust", pki.roots, "--crl", pki.crl)
    assert result.exit_code == 0
    assert "CompanySeal1: 公章（第 4 页） — 湖北楚天建设工程有限公司 (91420100MA4KXB7Q09)" in result.stdout
    assert "LegalPersonSeal1: 法人章（第 4 页） — 张伟 / 湖北楚天建设工程有限公司" in result.stdout
    assert "结论：全部 2 个签章有效" in result.stdout


def test_verify_takes_bytes_and_streams(both_seals: Path, pki: Pki) -> None:
    data = both_seals.read_bytes()
    assert verify_seals(data, trust=trust_store(pki)).valid
    with both_seals.open("rb") as stream:
        assert len(verify_seals(stream, trust=trust_store(pki), name="bid.pdf").seals) == 2


def test_a_changed_byte_under_the_seals_breaks_their_integrity(
    both_seals: Path, pki: Pki, tmp_path: Path
) -> None:
    data = both_seals.read_bytes()
    original = b"(bidcrypt fixtures/make_documents.py)"
    assert data.count(original) == 1
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(data.replace(original, b"(bidcrypt fixtures/make_documents.pz)"))
    code, report = verify(forged, pki)
    assert code == exit_code_for(SealInvalidError) == 43
    assert [s["intact"] for s in report["seals"]] == [False, False]
    assert "the document bytes do not match the seal" in report["problems"][0]["message"]


def test_a_garbled_signature_container_is_reported_not_crashed_on(
    both_seals: Path, pki: Pki, tmp_path: Path
) -> None:
    data = both_seals.read_bytes()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    garbled = tmp_path / "garbled.pdf"
    garbled.write_bytes(data[:start] + b"00" * 20 + data[start + 40 :])
    result = run_cli("seal", "verify", garbled, "--trust", pki.roots)
    assert result.exit_code == 43
    assert "error[seal-invalid]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("which", ["seal", "timestamp"])
def test_an_unknown_digest_algorithm_is_reported_not_crashed_on(
    pki: Pki, tsa: LocalTsa, tmp_path: Path, which: str
) -> None:
    """pyHanko raises AttributeError for a digest OID it does not know (found by fuzzing the TSA answer)."""
    stamped = seal(pki, document(), tmp_path / "t.pdf", "bidder-a/sign", tsa_url=tsa.url)
    data = stamped.read_bytes()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    contents = data[start:end].upper()
    sha256 = b"0609608648016503040201"
    # SignedData's digestAlgorithms names sha256 first, the seal's SignerInfo second; the last one is
    # the digest algorithm of the timestamp token's SignerInfo.
    second = contents.index(sha256, contents.index(sha256) + 1)
    index = contents.rindex(sha256) if which == "timestamp" else second
    changed = contents[:index] + sha256[:-2] + b"7F" + contents[index + len(sha256) :]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(data[:start] + changed + data[end:])
    result = run_cli("seal", "verify", broken, "--trust", pki.roots, "--json")
    assert result.exit_code == exit_code_for(SealInvalidError) == 43
    report = json.loads(result.stdout)
    assert "cannot evaluate the seal (it names an unknown algorithm)" in report["problems"][0]["message"]
    assert "Traceback" not in result.stderr
