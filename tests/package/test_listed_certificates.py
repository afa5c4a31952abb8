"""The recipient-certificate attribute is unauthenticated: read as untrusted input, trusted for nothing.

Anyone can change it without breaking the envelope. Whatever its bytes,
reading a package raises only bidcrypt errors (so `inspect`, `unpack`,
`check` and `submit` refuse cleanly), and the re-encrypt rule is decided by
the RecipientInfos alone: a forged listed certificate cannot make a stale
package look current.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.certs import load_certificate
from bidcrypt.errors import BidcryptError, PackageError
from bidcrypt.package import check_package, read_package_info

from ..conftest import Pki, run_cli
from . import hostile

SKI_EXTENSION = bytes.fromhex("0603551d0e04160414")  # id-ce-subjectKeyIdentifier, OCTET STRING(OCTET STRING)


@pytest.fixture(scope="module")
def package_bytes(pki: Pki) -> bytes:
    """A small AES-GCM package to bidder-a, its encryption certificate listed at the end."""
    signed_manifest = hostile.sign(pki, hostile.manifest_json([hostile.entry("a.txt", b"a")]))
    return hostile.envelope(pki, hostile.bundle(signed_manifest, [("a.txt", b"a")]), signed_manifest)


def test_one_changed_byte_in_a_listed_certificate_is_a_clean_refusal(
    pki: Pki, package_bytes: bytes, tmp_path: Path
) -> None:
    """The SubjectKeyIdentifier's inner OCTET STRING made a NULL: the DER loads, its extensions do not."""
    at = package_bytes.rindex(SKI_EXTENSION) + len(SKI_EXTENSION) - 2
    damaged = bytearray(package_bytes)
    damaged[at] = 0x05
    package = tmp_path / "damaged.bid"
    package.write_bytes(bytes(damaged))
    with pytest.raises(PackageError, match="listed recipient certificate is malformed"):
        read_package_info(package)
    for args in (
        ("inspect", package),
        ("check", package, "--current-cert", pki.cert("bidder-a/enc")),
        ("unpack", package, "-o", tmp_path / "out", "--key", pki.p12("bidder-a/enc"), "--trust", pki.roots),
    ):
        result = run_cli(*args, env={"BIDCRYPT_PIN": pki.pin})
        assert result.exit_code == 53, (args, result.stderr)
        assert "listed recipient certificate is malformed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.bid"]


@settings(max_examples=300)
@given(st.data())
def test_any_bytes_in_the_front_or_the_tail_raise_only_bidcrypt_errors(
    pki: Pki, package_bytes: bytes, tmp_path: Path, data: st.DataObject
) -> None:
    mutated = bytearray(package_bytes)
    tail = max(0, len(mutated) - 3000)
    for _ in range(data.draw(st.integers(1, 6))):
        region = data.draw(st.sampled_from(["front", "tail"]))
        low, high = (0, min(len(mutated), 3000)) if region == "front" else (tail, len(mutated))
        if high <= low:
            continue
        position = data.draw(st.integers(low, high - 1))
        kind = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        if kind == "flip":
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set":
            mutated[position] = data.draw(st.sampled_from([0x00, 0x01, 0x04, 0x05, 0x30, 0x7F, 0x80, 0xFF]))
        elif kind == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del mutated[position : position + data.draw(st.integers(1, 4))]
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "mutated.bid"
    path.write_bytes(bytes(mutated))
    try:
        info = read_package_info(path)
        info.to_dict()
        for recipient in info.header.recipients:
            info.listed_for(recipient)
        check_package(info, load_certificate(pki.cert("bidder-a/enc"))).to_dict()
        check_package(info, load_certificate(pki.cert("bidder-a/enc-replaced"))).to_dict()
    except BidcryptError:
        pass


def _forged(old: x509.Certificate, current: x509.Certificate) -> bytes:
    """A certificate anyone can make: the current key, under the old key's SubjectKeyIdentifier."""
    old_ski = old.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    usage = current.extensions.get_extension_for_class(x509.KeyUsage)
    forged = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(old.issuer)
        .public_key(current.public_key())  # type: ignore[arg-type]
        .serial_number(old.serial_number)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .add_extension(old_ski, critical=False)
        .add_extension(usage.value, critical=usage.critical)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    return forged.public_bytes(serialization.Encoding.DER)


def test_a_forged_listed_certificate_cannot_make_a_stale_package_current(pki: Pki, tmp_path: Path) -> None:
    """The package is encrypted to the old key; the listed certificate claims the replaced one's."""
    old = load_certificate(pki.cert("bidder-a/enc"))
    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    signed_manifest = hostile.sign(pki, hostile.manifest_json([hostile.entry("a.txt", b"a")]))
    content = hostile.bundle(signed_manifest, [("a.txt", b"a")])
    package = tmp_path / "forged.bid"
    package.write_bytes(hostile.envelope(pki, content, signed_manifest, listed=[_forged(old, replaced)]))
    info = read_package_info(package)
    assert info.recipient_certificates == ()  # its computed key identifier names no recipient
    assert not check_package(info, replaced).ok
    result = run_cli("check", package, "--current-cert", pki.cert("bidder-a/enc-replaced"))
    assert result.exit_code == 50, result.stderr
    inspected = run_cli("inspect", package)
    assert inspected.exit_code == 0 and ": -" in inspected.stdout  # the recipient is shown without it


def test_the_genuine_listed_certificate_still_describes_the_change(pki: Pki, tmp_path: Path) -> None:
    signed_manifest = hostile.sign(pki, hostile.manifest_json([hostile.entry("a.txt", b"a")]))
    package = tmp_path / "p.bid"
    package.write_bytes(
        hostile.envelope(pki, hostile.bundle(signed_manifest, [("a.txt", b"a")]), signed_manifest)
    )
    info = read_package_info(package)
    assert info.recipient_certificates == (load_certificate(pki.cert("bidder-a/enc")),)
    renewed = check_package(info, load_certificate(pki.cert("bidder-a/enc-renewed")))
    assert renewed.ok and renewed.change.value == "renewed"
    replaced = check_package(info, load_certificate(pki.cert("bidder-a/enc-replaced")))
    assert not replaced.ok and replaced.change.value == "replaced"
