"""Bid packages end to end: pack on the UKey, inspect, the re-encrypt rule, unpack, tampering."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder, KeyTransport, Recipient, decrypt_bytes, read_header_file
from bidcrypt.envelope.opening import pkcs1v15_failure
from bidcrypt.errors import BidcryptError, IntegrityError, PackageError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import KeyChange, check_package, read_package_info, reencrypt_package, unpack
from bidcrypt.package.bundle import MANIFEST_MEMBER
from bidcrypt.trust import TrustStore

from ..conftest import Pki, SoftHsm, run_cli
from .conftest import NFC_NAME, NFD_NAME, Packer


def _p12(pki: Pki, name: str):  # type: ignore[no-untyped-def]
    return open_key_source(str(pki.p12(name)), PinSource.of_value(pki.pin))


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b", "bidder-c"])
def test_round_trip_on_the_ukeys(
    softhsm: SoftHsm, pin_env: str, packer: Packer, trust: TrustStore, tmp_path: Path, bidder: str
) -> None:
    """Pack with the bidder's UKey, unpack with the same UKey and with the authority's."""
    with open_key_source(softhsm.uri(bidder)) as ukey:
        # The authority's UKey is SoftHSM2 too: it declares OAEP-SHA1, which SoftHSM2 undoes.
        result = packer(bidder, signer=ukey, authority_transport=KeyTransport.OAEP_SHA1)
    assert result.test_opened
    info = read_package_info(result.output)
    assert info.attributes.tender == "HBGP-2026-001"
    assert info.attributes.manifest_sha256 == result.attributes.manifest_sha256
    for token, out in ((bidder, "by-bidder"), ("authority", "by-authority")):
        with open_key_source(softhsm.uri(token)) as source:
            report = unpack(result.output, tmp_path / out, source, trust)
        assert report.ok, report.to_dict()
        assert [c.name for c in report.checks] == [
            "decryption",
            "manifest-digest",
            "manifest-signature",
            "signer-trusted",
            "identity",
            "files",
            "seals",
        ]
        opened = tmp_path / out
        assert (opened / NFC_NAME).read_bytes() == b"NFC form"
        assert (opened / NFD_NAME).read_bytes() == b"NFD form"
        assert (opened / "技术标" / "施工组织设计" / "第一章 总体部署.txt").read_text(
            encoding="utf-8"
        ) == "总体部署" * 1000
        assert report.manifest is not None and str(report.manifest.summary.price) == "1234567.80"
        roles = {f.path: f.role.value for f in report.manifest.files}
        assert roles["商务标/报价一览表.pdf"] == "price-sheet"
        assert roles["投标函.pdf"] == "response-document"


def test_ukey_is_asked_for_the_key_transport(softhsm: SoftHsm, pin_env: str, packer: Packer) -> None:
    with open_key_source(softhsm.uri("bidder-a")) as ukey:
        result = packer("bidder-a", signer=ukey)
    bidder_choice = next(c for c in result.recipients if c.bidder)
    assert bidder_choice.key_transport is KeyTransport.OAEP_SHA1  # SoftHSM2 cannot undo OAEP-SHA256
    assert read_header_file(result.output).recipients[0].key_transport is KeyTransport.OAEP_SHA1


def test_renewed_replaced_changed(pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path) -> None:
    result = packer("bidder-a")
    info = read_package_info(result.output)
    renewed = check_package(info, load_certificate(pki.cert("bidder-a/enc-renewed")))
    assert renewed.ok and renewed.change is KeyChange.RENEWED
    assert "no re-encryption needed" in renewed.message()
    # the renewed certificate's key is the original key: the package opens with it
    with _p12(pki, "bidder-a/enc-renewed") as renewed_key:
        assert unpack(result.output, tmp_path / "renewed", renewed_key, trust).ok
    for name, case, word in (
        ("enc-replaced", KeyChange.REPLACED, "replaced"),
        ("enc-changed", KeyChange.CHANGED, "changed"),
    ):
        current = load_certificate(pki.cert(f"bidder-a/{name}"))
        verdict = check_package(info, current)
        assert not verdict.ok and verdict.change is case
        message = verdict.message()
        assert word in message
        assert format(current.serial_number, "x") in message  # names the new certificate
        assert "59dc72e80ffcfd6a95991dbcaba550" in message  # and the old one
        new_package = tmp_path / f"{name}.bid"
        with _p12(pki, "bidder-a/enc") as old_key:
            reencrypted = reencrypt_package(result.output, new_package, old_key, current)
        assert reencrypted.verdict.ok
        assert reencrypted.kept_recipients == 1  # the opening authority stays
        assert check_package(read_package_info(new_package), current).ok
        with _p12(pki, f"bidder-a/{name}") as new_key:
            assert unpack(new_package, tmp_path / f"{name}-out", new_key, trust).ok
        with _p12(pki, "authority/enc") as authority:
            assert unpack(new_package, tmp_path / f"{name}-authority", authority, trust).ok


def test_reencrypt_without_the_old_key_says_to_pack_again(pki: Pki, packer: Packer, tmp_path: Path) -> None:
    result = packer("bidder-a", encrypt_to=[load_certificate(pki.cert("bidder-a/enc"))])
    output = tmp_path / "new.bid"
    run = run_cli(
        "reencrypt",
        result.output,
        "-o",
        output,
        "--key",
        pki.p12("bidder-a/enc-replaced"),
        "--to",
        pki.cert("bidder-a/enc-replaced"),
        env={"BIDCRYPT_PIN": pki.pin},
    )
    assert run.exit_code == 54
    assert "bidcrypt pack" in run.stderr
    assert not output.exists()


def test_check_cli(pki: Pki, packer: Packer) -> None:
    result = packer("bidder-a")
    ok = run_cli("check", result.output, "--current-cert", pki.cert("bidder-a/enc-renewed"))
    assert ok.exit_code == 0 and "renewed certificate, same key: no re-encryption needed" in ok.stdout
    stale = run_cli("check", result.output, "--current-cert", pki.cert("bidder-a/enc-replaced"), "--json")
    assert stale.exit_code == 50
    assert json.loads(stale.stdout)["case"] == "replaced"
    other = run_cli("check", result.output, "--current-cert", pki.cert("bidder-b/enc"))
    assert other.exit_code == 25


def test_backup_is_exactly_what_was_encrypted(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.tar"
    result = packer("bidder-c", backup=backup)
    with _p12(pki, "bidder-c/enc") as key:
        assert decrypt_bytes(result.output.read_bytes(), key) == backup.read_bytes()
    run = run_cli(
        "unpack",
        result.output,
        "-o",
        tmp_path / "from-backup",
        "--backup",
        backup,
        "--trust",
        pki.roots,
        "--trust",
        pki.intermediates,
    )
    assert run.exit_code == 0, run.stderr
    assert "manifest digest" in run.stdout


def _rebuilt(pki: Pki, package: Path, bundle: bytes, attributes_from: Path) -> bytes:
    """An envelope to bidder-a with *bundle* inside and the attributes of *attributes_from*.

    Anyone can do this: encrypting needs only the public certificate.
    """
    header = read_header_file(attributes_from)
    builder = EnvelopeBuilder().add_recipient(Recipient(load_certificate(pki.cert("bidder-a/enc"))))
    for attribute in header.authenticated_attributes:
        if attribute.oid != "1.2.840.113549.1.9.3":
            builder = builder.add_authenticated_attribute(attribute.oid, *attribute.values)
    for attribute in header.unauthenticated_attributes:
        builder = builder.add_unauthenticated_attribute(attribute.oid, *attribute.values)
    return builder.encrypt_bytes(bundle)


def _unpack_fails(pki: Pki, package: Path, tmp_path: Path, trust: TrustStore) -> tuple[str, str]:
    out = tmp_path / "out"
    with _p12(pki, "bidder-a/enc") as key:
        report = unpack(package, out, key, trust)
    assert not report.ok
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no staging left
    failed = next(c for c in report.checks if not c.ok)
    return failed.name, failed.detail


@pytest.mark.parametrize("transport", [KeyTransport.OAEP_SHA1, KeyTransport.PKCS1V15])
def test_tampered_attribute_is_detected(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, transport: KeyTransport
) -> None:
    result = packer("bidder-a", key_transport=transport)
    data = bytearray(result.output.read_bytes())
    position = bytes(data).index(b"HBGP-2026-001")
    data[position + 12] ^= 0x01  # tender "HBGP-2026-001" -> "HBGP-2026-000"
    tampered = tmp_path / "tampered.bid"
    tampered.write_bytes(bytes(data))
    assert read_package_info(tampered).attributes.tender == "HBGP-2026-000"  # readable, but
    name, detail = _unpack_fails(pki, tampered, tmp_path, trust)
    assert name == "decryption"
    if transport is KeyTransport.PKCS1V15:  # no padding oracle: the same error as a wrong key
        assert detail == pkcs1v15_failure().message()
    else:
        assert detail == IntegrityError().message()


def test_tampered_readable_attribute_of_a_cbc_package_is_named(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    from bidcrypt.envelope import ContentCipher

    result = packer("bidder-a", cipher=ContentCipher.AES_256_CBC)
    assert not read_package_info(result.output).authenticated
    data = bytearray(result.output.read_bytes())
    position = bytes(data).index(b"HBGP-2026-001")
    data[position + 12] ^= 0x01
    tampered = tmp_path / "tampered.bid"
    tampered.write_bytes(bytes(data))
    name, detail = _unpack_fails(pki, tampered, tmp_path, trust)
    assert name == "identity"
    assert "tender" in detail and "HBGP-2026-000" in detail and "HBGP-2026-001" in detail


def test_tampered_file_inside_is_named(pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path) -> None:
    result = packer("bidder-a")
    with _p12(pki, "bidder-a/enc") as key:
        bundle = bytearray(decrypt_bytes(result.output.read_bytes(), key))
    position = bytes(bundle).index(("总体部署" * 2).encode())
    bundle[position] ^= 0x01
    forged = tmp_path / "forged.bid"
    forged.write_bytes(_rebuilt(pki, result.output, bytes(bundle), result.output))
    name, detail = _unpack_fails(pki, forged, tmp_path, trust)
    assert name == "files"
    assert "技术标/施工组织设计/第一章 总体部署.txt" in detail and "SHA-256" in detail


def test_forged_manifest_signature_is_named(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    """A forger re-encrypts with a changed manifest and the matching digest: the signature check names it."""
    import tarfile

    result = packer("bidder-a")
    with _p12(pki, "bidder-a/enc") as key:
        bundle = decrypt_bytes(result.output.read_bytes(), key)
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        member = tar.getmember(MANIFEST_MEMBER)
        signed = tar.extractfile(member).read()  # type: ignore[union-attr]
    forged_manifest = signed.replace(b"1234567.80", b"1234567.00")  # a lower price, same length
    assert forged_manifest != signed
    forged_bundle = bundle.replace(signed, forged_manifest)
    builder = EnvelopeBuilder().add_recipient(Recipient(load_certificate(pki.cert("bidder-a/enc"))))
    header = read_header_file(result.output)
    from bidcrypt.package.attributes import ARC

    for attribute in header.authenticated_attributes:
        if attribute.oid == f"{ARC}.1.7":
            from bidcrypt.envelope import _der as der

            builder = builder.add_authenticated_attribute(
                attribute.oid, der.octet_string(hashlib.sha256(forged_manifest).digest())
            )
        elif attribute.oid != "1.2.840.113549.1.9.3":
            builder = builder.add_authenticated_attribute(attribute.oid, *attribute.values)
    forged = tmp_path / "forged.bid"
    forged.write_bytes(builder.encrypt_bytes(forged_bundle))
    name, detail = _unpack_fails(pki, forged, tmp_path, trust)
    assert name == "manifest-signature"
    assert "does not match its digest" in detail


def test_bundle_with_an_escaping_path_is_refused(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    result = packer("bidder-a")
    with _p12(pki, "bidder-a/enc") as key:
        bundle = decrypt_bytes(result.output.read_bytes(), key)
    evil = bundle.replace("files/附件/空.txt".encode(), "files/../../空.txt".encode())
    assert evil != bundle
    forged = tmp_path / "evil.bid"
    forged.write_bytes(_rebuilt(pki, result.output, evil, result.output))
    name, _ = _unpack_fails(pki, forged, tmp_path, trust)
    assert name == "files"
    assert not (tmp_path.parent / "空.txt").exists()


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> bytes:
    """A small package made once for the fuzz test."""
    from bidcrypt.package import Summary, SummaryFile, pack
    from bidcrypt.seal import SealKind, choose_entry

    root = tmp_path_factory.mktemp("fuzz")
    (root / "src").mkdir()
    (root / "src" / "a.txt").write_bytes(b"attachment" * 20)
    with _p12(pki, "bidder-b/sign") as source:
        pack(
            root / "src",
            root / "p.bid",
            tender="T",
            signer=choose_entry(source, SealKind.COMPANY),
            encrypt_to=[load_certificate(pki.cert("bidder-b/enc"))],
            summary=SummaryFile(Summary()),
        )
    return (root / "p.bid").read_bytes()


def test_a_listed_certificate_with_an_unreadable_key_is_malformed(
    small_package: bytes, tmp_path: Path
) -> None:
    """Found by the fuzz test: a curve OID changed in a listed certificate (its DER still parses)."""
    p256 = bytes.fromhex("06082a8648ce3d030107")
    at = small_package.rindex(p256)  # in the recipient certificates at the end
    damaged = small_package[:at] + bytes.fromhex("06082a8648ce3d030106") + small_package[at + len(p256) :]
    (tmp_path / "p.bid").write_bytes(damaged)
    with pytest.raises(PackageError, match="listed recipient certificate is malformed"):
        read_package_info(tmp_path / "p.bid")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_packages_raise_only_bidcrypt_errors(
    small_package: bytes, pki: Pki, tmp_path: Path, data: st.DataObject
) -> None:
    mutated = bytearray(small_package)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
        position = data.draw(st.integers(0, max(0, len(mutated) - 1)))
        if kind == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate":
            del mutated[position:]
        else:
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    path = workdir / "mutated.bid"
    path.write_bytes(bytes(mutated))
    trust = TrustStore.load([pki.roots, pki.intermediates])
    opened = False
    try:
        info = read_package_info(path)
        check_package(info, load_certificate(pki.cert("bidder-b/enc")))
        with _p12(pki, "bidder-b/enc") as key:
            report = unpack(path, workdir / "out", key, trust)
        opened = report.ok
        assert opened or report.error is not None
    except BidcryptError:
        pass
    assert sorted(p.name for p in workdir.iterdir()) == (
        ["mutated.bid", "out"] if opened else ["mutated.bid"]
    )


def test_cbc_package_opens_with_openssl(pki: Pki, packer: Packer, tmp_path: Path) -> None:
    """EnvelopedData packages open with `openssl cms`; the result is exactly the backup copy.

    (AES-GCM packages carry authenticated attributes, which OpenSSL 3.0 cannot parse:
    openssl/openssl#26101. See docs/package-format.md.)
    """
    import subprocess

    from bidcrypt.envelope import ContentCipher

    from ..conftest import require_tool

    openssl = require_tool("openssl")
    backup = tmp_path / "backup.tar"
    result = packer("bidder-a", cipher=ContentCipher.AES_256_CBC, backup=backup)
    out = tmp_path / "openssl.tar"
    done = subprocess.run(
        [
            openssl,
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(result.output),
            "-inkey",
            str(pki.key("authority/enc")),
            "-recip",
            str(pki.cert("authority/enc")),
            "-out",
            str(out),
        ],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == backup.read_bytes()
