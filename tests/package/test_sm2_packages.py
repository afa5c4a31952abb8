"""Round trips of GM/T 0010 packages on the SM2 fixtures, through the command line, and hostile ones.

``sm2/bidder-a`` seals its response (company seal, then legal-person seal),
packs it to its own SM2 encryption certificate and to an opening authority
(the SM2 one, or the RSA one: the suite follows the certificates, SM4-CBC
as soon as one is SM2), inspects it, checks it against its renewed,
replaced and changed certificates, re-encrypts it and unpacks it. The
readable attributes of a GM package are unprotected and bound by the
signed manifest: one edited after packing is refused at the opening, with
its cause. Every hostile package gets a clean refusal and its exit code,
never exit 70.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509

from bidcrypt import gm  # noqa: F401 - registers the GM OIDs with asn1crypto
from bidcrypt import package as package_api
from bidcrypt.certs import load_certificate
from bidcrypt.envelope import Attribute, decrypt_file, read_header_file
from bidcrypt.keys import KeyEntry, KeySource, PinSource, open_key_source
from bidcrypt.package import read_package_info
from bidcrypt.package.attributes import ARC
from bidcrypt.package.bundle import MANIFEST_MEMBER
from bidcrypt.package.recipients import package_recipient
from bidcrypt.seal import SealKind, apply_seal, choose_entry

from ..conftest import FIXTURES, Pki, run_cli
from . import hostile
from .conftest import Packer

SM2_A = ("湖南湘江路桥建设有限公司", "91430100MA4L8P3D28")
SUMMARY = '[summary]\nprice = "2345678.90"\ncurrency = "CNY"\nduration = "150日历天"\n'


def trust_args(pki: Pki) -> list[str | Path]:
    """Both hierarchies (the SM2 bidder, the RSA authority) and the SM2 CRL."""
    trust = pki.root / "trust"
    return [
        "--trust", trust / "sm2-roots.pem", "--trust", trust / "sm2-intermediates.pem",
        "--trust", pki.roots, "--trust", pki.intermediates,
        "--crl", pki.root / "sm2" / "ca" / "vendor.crl",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, pki: Pki, sm2_sealed_pdfs: dict[str, Path]) -> Path:
    """sm2/bidder-a's response with its SM2 company seal, then its legal representative's SM2 seal."""
    output = tmp_path_factory.mktemp("sm2-sealed") / "both.pdf"
    with open_key_source(str(pki.p12("sm2/bidder-a/legal")), PinSource.of_value(pki.pin)) as source:
        apply_seal(
            sm2_sealed_pdfs["sm2/bidder-a"],
            output,
            choose_entry(source, SealKind.LEGAL_PERSON),
            kind=SealKind.LEGAL_PERSON,
            image=FIXTURES / "seals" / "bidder-a-legal-person.png",
        )
    return output


def pack(pki: Pki, sealed: Path, directory: Path, authority: str) -> Path:
    """`bidcrypt pack` of sm2/bidder-a's folder to its SM2 certificate and *authority*."""
    folder = directory / "src"
    (folder / "附件").mkdir(parents=True)
    shutil.copy(sealed, folder / "投标函.pdf")
    (folder / "附件" / "资质.txt").write_text("资质证书" * 100, encoding="utf-8")
    (directory / "summary.toml").write_text(SUMMARY, encoding="utf-8")
    output = directory / "bid.bid"
    result = run_cli(
        "pack", folder, "-o", output, "--tender", "HNGP-2026-007", "--lot", "2",
        "--key", pki.p12("sm2/bidder-a/sign"),
        "--encrypt-to", pki.cert("sm2/bidder-a/enc"), "--encrypt-to", pki.cert(authority),
        "--summary", directory / "summary.toml", *trust_args(pki), "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cipher"] == "sm4-cbc" and report["gm"] is True
    kinds = {r["role"]: r["key_transport"] for r in report["recipients"]}
    assert kinds["bidder"] == "sm2"
    assert kinds["opening-authority"] == ("sm2" if authority.startswith("sm2/") else "oaep")
    return output


@pytest.fixture(scope="module", params=["sm2/authority/enc", "authority/enc"])
def package(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pki: Pki, sealed: Path
) -> Path:
    """The SM2 bidder's package, with the SM2 opening authority and with the RSA one."""
    return pack(pki, sealed, tmp_path_factory.mktemp("sm2-package"), request.param)


def unpack(pki: Pki, package: Path, output: Path, key: str) -> tuple[int, str, str]:
    result = run_cli(
        "unpack", package, "-o", output, "--key", pki.p12(key), *trust_args(pki),
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def copy(package: Path, directory: Path, name: str = "copy.bid") -> Path:
    target = directory / name
    shutil.copy(package, target)
    target.chmod(0o644)
    return target


# --- pack and inspect ----------------------------------------------------------------------------


def test_the_package_is_gm_t_0010_with_the_attributes_unprotected(package: Path) -> None:
    header = read_header_file(package)
    assert header.cipher.cipher.value == "sm4-cbc" and not header.is_authenticated
    assert header.content_type == "1.2.156.10197.6.1.4.2.3"
    assert header.authenticated_attributes == ()
    readable = {a.oid for a in header.readable_attributes}
    assert {f"{ARC}.1.{n}" for n in range(1, 8)} <= readable
    assert readable <= {a.oid for a in header.unauthenticated_attributes}
    sm2 = [r for r in header.recipients if r.sm2_encryption is not None]
    assert len(sm2) >= 1 and all(r.rid is not None and r.rid.subject_key_identifier for r in sm2)
    info = read_package_info(package)
    assert (info.attributes.bidder_name, info.attributes.credit_code) == SM2_A
    assert info.attributes.tender == "HNGP-2026-007" and info.attributes.lot == "2"
    assert info.is_gm and not info.authenticated


def test_inspect_names_the_suite(package: Path) -> None:
    text = run_cli("inspect", package)
    assert text.exit_code == 0
    assert "GM/T 0010" in text.stdout and "SM4-CBC" in text.stdout and "SM2" in text.stdout
    assert "bound by the signed manifest" in text.stdout
    data = json.loads(run_cli("inspect", package, "--json").stdout)
    assert data["gm"] is True and data["cipher"] == "sm4-cbc" and data["attributes_authenticated"] is False
    assert data["suite"].startswith("GM/T 0010 EnvelopedData") and data["key_algorithms"][0] == "SM2"
    assert {c["serial"] for c in data["recipient_certificates"]} >= {"54127b5cfc07dbc071cc19504421d0"}


def test_an_rsa_package_is_named_aes_gcm(packer: Packer) -> None:
    result = packer()
    data = json.loads(run_cli("inspect", result.output, "--json").stdout)
    assert data["gm"] is False and data["cipher"] == "aes-256-gcm" and data["attributes_authenticated"]
    assert "AuthEnvelopedData" in data["suite"] and data["key_algorithms"] == ["RSA"]
    assert "GM/T" not in run_cli("inspect", result.output).stdout


# --- the re-encrypt rule, re-encryption ----------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "exit_code", "case"),
    [
        ("enc", 0, "same-certificate"),
        ("enc-renewed", 0, "renewed"),
        ("enc-replaced", 50, "replaced"),
        ("enc-changed", 50, "changed"),
    ],
)
def test_check_decides_by_the_public_key(
    pki: Pki, package: Path, current: str, exit_code: int, case: str
) -> None:
    certificate = pki.cert(f"sm2/bidder-a/{current}")
    result = run_cli("check", package, "--current-cert", certificate, "--json")
    assert result.exit_code == exit_code
    assert json.loads(result.stdout)["case"] == case
    text = run_cli("check", package, "--current-cert", certificate)
    assert text.exit_code == exit_code
    if exit_code:
        assert "re-encryption required" in text.stderr and case in text.stderr


def test_a_renewed_key_unpacks_with_one_operation(pki: Pki, package: Path, tmp_path: Path) -> None:
    code, out, err = unpack(pki, package, tmp_path / "out", "sm2/bidder-a/enc-renewed")
    assert code == 0, err
    assert "manifest signature" in out and "seals: 1 sealed document(s), every seal valid" in out


@pytest.mark.parametrize("fresh", [False, True])
def test_reencrypt_to_the_replaced_certificate(pki: Pki, package: Path, tmp_path: Path, fresh: bool) -> None:
    output = tmp_path / "new.bid"
    result = run_cli(
        "reencrypt", package, "-o", output, "--key", pki.p12("sm2/bidder-a/enc"),
        "--to", pki.cert("sm2/bidder-a/enc-replaced"), *trust_args(pki), "--json",
        *(["--fresh-key"] if fresh else []), env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["key_transport"] == "sm2" and data["check"]["ok"] and data["kept_recipients"] == 1
    assert read_package_info(output).is_gm
    check = run_cli("check", output, "--current-cert", pki.cert("sm2/bidder-a/enc-replaced"))
    assert check.exit_code == 0
    code, _, err = unpack(pki, output, tmp_path / "new", "sm2/bidder-a/enc-replaced")
    assert code == 0, err
    code, _, err = unpack(pki, output, tmp_path / "old", "sm2/bidder-a/enc")
    assert code == 32 and "wrong-key" in err  # the old key is no longer a recipient


# --- unpack ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sm2/bidder-a/enc", "authority"])
def test_unpack_with_the_bidders_and_the_authoritys_key(
    pki: Pki, package: Path, tmp_path: Path, key: str
) -> None:
    authority = next(
        name
        for name in ("sm2/authority/enc", "authority/enc")
        if read_package_info(package).recipient_of(load_certificate(pki.cert(name)))
    )
    code, out, err = unpack(pki, package, tmp_path / "out", authority if key == "authority" else key)
    assert code == 0, err
    assert (tmp_path / "out" / "投标函.pdf").is_file()
    assert "2345678.90 CNY" in out and "identity binding" in out
    # SM4-CBC authenticates nothing itself: the report does not claim it did.
    assert "integrity verified" not in out and "the manifest's to prove" in out


# --- hostile GM packages -----------------------------------------------------------------------------


def edited(package: Path, directory: Path, **changes: object) -> Path:
    """A copy of *package* whose readable attributes say *changes* (same lengths: the frame stays)."""
    info = read_package_info(package)
    before = dict(info.attributes.encode())
    after = dict(dataclasses.replace(info.attributes, **changes).encode())  # type: ignore[arg-type]
    data = package.read_bytes()
    for oid, value in after.items():
        if value == before[oid]:
            continue
        old = Attribute(oid, (before[oid],)).encode()
        new = Attribute(oid, (value,)).encode()
        assert len(old) == len(new) and data.count(old) == 1, oid
        data = data.replace(old, new)
    target = copy(package, directory, "edited.bid")
    target.write_bytes(data)
    return target


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"tender": "HNGP-2026-008"}, "tender"),
        ({"lot": "3"}, "lot"),
        ({"bidder_name": "湖南湘江路桥集团有限公司"}, "bidder name"),
        ({"credit_code": "91430100MA4L8P3D29"}, "bidder credit code"),
        ({"created": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}, "creation time"),
    ],
    ids=["tender", "lot", "name", "code", "created"],
)
def test_an_edited_unprotected_attribute_is_refused_at_the_opening(
    pki: Pki, package: Path, tmp_path: Path, changes: dict[str, object], cause: str
) -> None:
    """Nothing authenticates a GM package's attributes but the signed manifest: the opening compares them."""
    forged = edited(package, tmp_path, **changes)
    info = read_package_info(forged)  # readable as ever: only the opening can tell
    assert not info.authenticated and all(getattr(info.attributes, k) == v for k, v in changes.items())
    code, out, err = unpack(pki, forged, tmp_path / "out", "sm2/bidder-a/enc")
    assert code == 25, (out, err)
    assert "identity-mismatch" in err and cause in err
    assert "✗ identity binding" in err and not (tmp_path / "out").exists()


def test_an_edited_manifest_digest_is_refused(pki: Pki, package: Path, tmp_path: Path) -> None:
    forged = edited(package, tmp_path, manifest_sha256=bytes(32))
    code, _, err = unpack(pki, forged, tmp_path / "out", "sm2/bidder-a/enc")
    assert code == 52 and "manifest-invalid" in err and "not the one the package attributes name" in err


def test_a_truncated_package_is_a_clean_refusal(pki: Pki, package: Path, tmp_path: Path) -> None:
    data = package.read_bytes()
    for cut in (10, 400, len(data) // 2, len(data) - 7):
        truncated = copy(package, tmp_path, f"cut-{cut}.bid")
        truncated.write_bytes(data[:cut])
        inspect = run_cli("inspect", truncated)
        code, _, err = unpack(pki, truncated, tmp_path / f"out-{cut}", "sm2/bidder-a/enc")
        for exit_code in (inspect.exit_code, code):
            assert exit_code not in (0, 70), (cut, err)
        assert "Traceback" not in err and "internal error" not in err


def test_a_flipped_ciphertext_bit_is_a_clean_refusal(pki: Pki, package: Path, tmp_path: Path) -> None:
    """SM4-CBC has no tag: the padding, the manifest digest or a file's hash catches the change."""
    header = read_header_file(package)
    data = package.read_bytes()
    content = header.content
    for offset in (content.offset + 64, (content.offset + content.end) // 2):  # a tar header, the PDF
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        target = copy(package, tmp_path, f"flip-{offset}.bid")
        target.write_bytes(bytes(flipped))
        code, _, err = unpack(pki, target, tmp_path / f"out-{offset}", "sm2/bidder-a/enc")
        assert code not in (0, 70), (offset, err)
        assert "Traceback" not in err and not (tmp_path / f"out-{offset}").exists()


def test_a_manifest_signed_by_another_sm2_key(pki: Pki, tmp_path: Path) -> None:
    """sm2/bidder-b signs a manifest naming sm2/bidder-a: a valid SM2 signature, the wrong signer."""
    files = [("a.txt", b"a")]
    content = hostile.manifest_json(
        [hostile.entry(p, d) for p, d in files], bidder={"name": SM2_A[0], "credit_code": SM2_A[1]}
    )
    signed_manifest = hostile.sign(pki, content, "sm2/bidder-b/sign")
    package = tmp_path / "forged.bid"
    package.write_bytes(
        hostile.envelope(
            pki,
            hostile.bundle(signed_manifest, files),
            signed_manifest,
            recipients=[package_recipient(load_certificate(pki.cert("sm2/bidder-a/enc")), None)],
            bidder_name=SM2_A[0],
            credit_code=SM2_A[1],
        )
    )
    assert read_package_info(package).is_gm
    code, _, err = unpack(pki, package, tmp_path / "out", "sm2/bidder-a/enc")
    assert code == 25 and "identity-mismatch" in err and "signer's credit code" in err


def test_an_sm2_recipient_naming_an_ec_key_is_a_clean_refusal(
    pki: Pki, package: Path, tmp_path: Path
) -> None:
    """The SM2 RecipientInfo's identifier is changed to name bidder B's EC P-256 key: the wrong curve."""
    info = read_package_info(package)
    own = info.recipient_of(load_certificate(pki.cert("sm2/bidder-a/enc")))
    assert own is not None and own.rid is not None and own.rid.subject_key_identifier is not None
    ec_ski = (
        load_certificate(pki.cert("bidder-b/enc"))
        .extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        .value.digest
    )
    data = package.read_bytes()
    index = data.index(own.rid.subject_key_identifier)
    forged = copy(package, tmp_path)
    forged.write_bytes(data[:index] + ec_ski + data[index + len(ec_ski) :])
    result = run_cli(
        "unpack", forged, "-o", tmp_path / "out", "--key", pki.p12("bidder-b/enc"), *trust_args(pki),
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code not in (0, 70), result.output
    assert result.exit_code in (30, 31, 32, 33), result.stderr
    assert "Traceback" not in result.stderr


def test_the_signed_manifest_is_sm2_with_sm3(pki: Pki, package: Path, tmp_path: Path) -> None:
    """The backup-free way to the manifest: unpack, then the manifest's SignerInfo from the bundle."""
    info = read_package_info(package)

    with open_key_source(str(pki.p12("sm2/bidder-a/enc")), PinSource.of_value(pki.pin)) as source:
        decrypt_file(package, tmp_path / "bundle.tar", source)
    with tarfile.open(tmp_path / "bundle.tar") as archive:
        extracted = archive.extractfile(MANIFEST_MEMBER)
        assert extracted is not None
        signed_manifest = extracted.read()
    assert hashlib.sha256(signed_manifest).digest() == info.attributes.manifest_sha256
    signer_info = cms.ContentInfo.load(signed_manifest)["content"]["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signer_info["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"


def test_pack_checks_the_sm2_seals(pki: Pki, tmp_path: Path, sm2_sealed_pdfs: dict[str, Path]) -> None:
    """A PDF sealed by another SM2 bidder is refused at packing, as for RSA; nothing is written."""
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(sm2_sealed_pdfs["sm2/bidder-b"], folder / "投标函.pdf")
    output = tmp_path / "bid.bid"
    result = run_cli(
        "pack", folder, "-o", output, "--tender", "T", "--key", pki.p12("sm2/bidder-a/sign"),
        "--encrypt-to", pki.cert("sm2/bidder-a/enc"), *trust_args(pki), env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 25, result.output
    assert "identity-mismatch" in result.stderr and not output.exists()
    allowed = run_cli(
        "pack", folder, "-o", output, "--tender", "T", "--key", pki.p12("sm2/bidder-a/sign"),
        "--encrypt-to", pki.cert("sm2/bidder-a/enc"), *trust_args(pki), "--allow-unsealed",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert allowed.exit_code == 0 and "warning" in allowed.stderr and read_package_info(output).is_gm
    assert "suite: GM/T 0010 EnvelopedData (SM4-CBC)" in allowed.stdout


class _Token(KeySource):
    """An SM2 bidder's UKey as a key source: its signing and its encryption key (two PKCS#12 files)."""

    def __init__(self, *sources: KeySource) -> None:
        self.description = "sm2-ukey"
        self._entries = [entry for source in sources for entry in source.entries()]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)


def test_pack_test_opens_on_the_sm2_key(pki: Pki, tmp_path: Path, sealed: Path) -> None:
    """With the bidder's SM2 encryption key at hand, pack unwraps the content key with it (SM2) and
    finds the bundle: the package is known to open before it is uploaded."""
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copy(sealed, folder / "投标函.pdf")
    password = PinSource.of_value(pki.pin)
    with (
        open_key_source(str(pki.p12("sm2/bidder-a/sign")), password) as sign,
        open_key_source(str(pki.p12("sm2/bidder-a/enc")), password) as enc,
    ):
        token = _Token(sign, enc)
        result = package_api.pack(
            folder,
            tmp_path / "bid.bid",
            tender="T",
            signer=choose_entry(token, SealKind.COMPANY),
            encrypt_to=[load_certificate(pki.cert("sm2/bidder-a/enc"))],
            key_source=token,
        )
    assert result.test_opened and result.to_dict()["recipients"][0]["key_transport"] == "sm2"
    assert read_package_info(result.output).is_gm
