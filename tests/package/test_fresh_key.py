"""Re-encryption under a fresh content key, after a lost or compromised UKey (补办).

A rewrap leaves the content key as it was: the old key and an old copy still read the re-issued
package. ``--fresh-key`` encrypts the content again, so they no longer do; the other recipients
(the opening authority) are kept only on a certificate proven to carry their key and to chain to
the trust store.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import (
    ContentCipher,
    KeyTransport,
    Recipient,
    decrypt_bytes,
    read_header_file,
    reencrypt,
    unwrap_content_key,
)
from bidcrypt.envelope import refresh as refresh_module
from bidcrypt.errors import (
    CertificateUntrustedError,
    IntegrityError,
    OldKeyUnavailableError,
    PackageError,
    WrongKeyError,
)
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.package import read_package_info, reencrypt_package, unpack
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES
from bidcrypt.trust import TrustStore

from ..conftest import Pki, require_tool, run_cli
from .conftest import Packer


def _p12(pki: Pki, name: str) -> KeySource:
    return open_key_source(str(pki.p12(name)), PinSource.of_value(pki.pin))


def _content_key(pki: Pki, path: Path, name: str) -> bytes:
    with _p12(pki, name) as keys:
        return unwrap_content_key(read_header_file(path), keys).key


def _openssl_open(pki: Pki, path: Path, name: str, out: Path) -> subprocess.CompletedProcess[bytes]:
    command = [
        require_tool("openssl"), "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(path),
        "-inkey", str(pki.key(name)), "-recip", str(pki.cert(name)), "-out", str(out),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=False)


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
def test_a_fresh_key_locks_out_the_old_key_and_keeps_the_rest(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, cipher: ContentCipher
) -> None:
    package = packer("bidder-a", cipher=cipher).output
    before = read_package_info(package)
    fresh = tmp_path / "fresh.bid"
    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    with _p12(pki, "bidder-a/enc") as old_key:
        result = reencrypt_package(package, fresh, old_key, replaced, trust=trust, fresh_key=True)
    assert result.fresh_key and not result.already and result.kept_recipients == 1
    assert result.verdict.ok
    after = read_package_info(fresh)
    # The readable attributes are the same; with GCM they are authenticated again by the new tag.
    assert after.attributes == before.attributes and after.authenticated == before.authenticated
    assert after.header.aad == before.header.aad
    assert after.header.cipher.cipher is cipher and after.header.cipher.iv != before.header.cipher.iv
    # A new content key: the authority's unwraps differ, and the old content key opens nothing.
    old_content_key = _content_key(pki, package, "authority/enc")
    assert _content_key(pki, fresh, "authority/enc") != old_content_key
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(WrongKeyError):
        unpack(fresh, tmp_path / "by-old-key", old_key, trust)
    # The new key and the authority open it, and every check of the package passes.
    for name in ("bidder-a/enc-replaced", "authority/enc"):
        with _p12(pki, name) as key:
            assert unpack(fresh, tmp_path / name.replace("/", "-"), key, trust).ok
    listed = {c.serial_number for c in after.recipient_certificates}
    assert listed == {replaced.serial_number, load_certificate(pki.cert("authority/enc")).serial_number}


def test_a_fresh_key_cbc_package_opens_with_openssl(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    """The peer's view: openssl opens the fresh package with the new key, to the very same bundle."""
    backup = tmp_path / "backup.tar"
    package = packer("bidder-a", cipher=ContentCipher.AES_256_CBC, backup=backup).output
    fresh = tmp_path / "fresh.bid"
    with _p12(pki, "bidder-a/enc") as old_key:
        reencrypt_package(
            package,
            fresh,
            old_key,
            load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=trust,
            fresh_key=True,
        )
    for name in ("bidder-a/enc-replaced", "authority/enc"):
        out = tmp_path / f"{name.replace('/', '-')}.tar"
        done = _openssl_open(pki, fresh, name, out)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == backup.read_bytes()
    refused = _openssl_open(pki, fresh, "bidder-a/enc", tmp_path / "old.tar")
    assert refused.returncode != 0


def test_the_cli_in_place_with_a_fresh_key(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    package = packer("bidder-a").output
    old_copy = tmp_path / "old-copy.bid"
    old_copy.write_bytes(package.read_bytes())
    common = [
        "--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced"),
        "--trust", pki.roots, "--trust", pki.intermediates,
    ]  # fmt: skip
    env = {"BIDCRYPT_PIN": pki.pin}
    done = run_cli("reencrypt", package, "--in-place", "--fresh-key", *common, env=env)
    assert done.exit_code == 0, done.stderr
    assert "fresh content key" in done.stdout and "1 other recipient" in done.stdout
    assert _content_key(pki, package, "authority/enc") != _content_key(pki, old_copy, "authority/enc")
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*journal"))
    # Again: the old key opens it no more, the package is already the new certificate's: said, exit 0.
    again = run_cli("reencrypt", package, "--in-place", "--fresh-key", *common, env=env)
    assert again.exit_code == 0, again.stderr
    assert "already encrypted to" in again.stdout and "new UKey as --key" in again.stdout
    # With the new key as --key, a fresh key again (after a plain rewrap, that is how to get one).
    renewed = [*common[2:], "--key", pki.p12("bidder-a/enc-replaced")]
    third = run_cli("reencrypt", package, "-o", tmp_path / "third.bid", "--fresh-key", *renewed, env=env)
    assert third.exit_code == 0, third.stderr
    assert _content_key(pki, tmp_path / "third.bid", "authority/enc") != _content_key(
        pki, package, "authority/enc"
    )
    with _p12(pki, "bidder-a/enc-replaced") as key:
        assert unpack(tmp_path / "third.bid", tmp_path / "out", key, trust).ok


def test_a_fresh_key_needs_trust_for_the_other_recipients(pki: Pki, packer: Packer, tmp_path: Path) -> None:
    package = packer("bidder-a").output
    original = package.read_bytes()
    common = ["--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced"), "--fresh-key"]
    run = run_cli("reencrypt", package, "--in-place", *common, env={"BIDCRYPT_PIN": pki.pin})
    assert run.exit_code == 53, run.stderr  # a package error
    assert "needs --trust" in run.stderr and "not authenticated" in run.stderr
    assert package.read_bytes() == original
    # A trust store the authority's certificate does not chain to: refused, not dropped.
    with (
        _p12(pki, "bidder-a/enc") as old_key,
        pytest.raises(CertificateUntrustedError, match="does not chain"),
    ):
        reencrypt_package(
            package,
            tmp_path / "new.bid",
            old_key,
            load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=TrustStore.load([pki.cert("ca/untrusted")]),
            fresh_key=True,
        )
    assert not (tmp_path / "new.bid").exists() and package.read_bytes() == original


def _forged(template: x509.Certificate) -> x509.Certificate:
    """Anyone's certificate claiming *template*'s SKI, issuer and serial, for another key."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ski = template.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(template.subject)
        .issuer_name(template.issuer)
        .public_key(key.public_key())
        .serial_number(template.serial_number)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(ski, critical=False)
        .add_extension(
            x509.KeyUsage(False, False, True, False, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )


def test_a_substituted_listed_certificate_is_refused_not_encrypted_to(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    """The recipient-certificate attribute is not authenticated: a certificate put there in place of
    the authority's, claiming its SKI, would receive the fresh content key. It is refused."""
    package = packer("bidder-a").output
    authority = load_certificate(pki.cert("authority/enc"))
    bidder = load_certificate(pki.cert("bidder-a/enc"))
    forged = _forged(authority)
    from bidcrypt.envelope import Attribute

    listed = Attribute(RECIPIENT_CERTIFICATES, tuple(c.public_bytes(Encoding.DER) for c in (bidder, forged)))
    substituted = tmp_path / "substituted.bid"
    with _p12(pki, "bidder-a/enc") as key:  # the bidder's own recipient rewrapped; the attribute replaced
        reencrypt(
            package,
            substituted,
            key,
            [Recipient(bidder)],
            keep_others=True,
            unauthenticated_attributes=[listed],
        )
    with (
        _p12(pki, "bidder-a/enc") as old_key,
        pytest.raises(PackageError, match="no certificate that carries"),
    ):
        reencrypt_package(
            substituted,
            tmp_path / "fresh.bid",
            old_key,
            load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=trust,
            fresh_key=True,
        )
    assert not (tmp_path / "fresh.bid").exists()


@pytest.mark.parametrize("transport", [KeyTransport.OAEP_SHA1, KeyTransport.PKCS1V15])
def test_a_damaged_package_leaves_nothing_behind(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, transport: KeyTransport
) -> None:
    package = packer("bidder-a", key_transport=transport).output
    data = bytearray(package.read_bytes())
    header = read_header_file(package)
    data[header.content.end - 100] ^= 0x01  # deep in the last segment: found only by the tag, at the end
    package.write_bytes(bytes(data))
    # After OAEP the file is named altered; after PKCS#1 v1.5 it cannot be told from a wrong key.
    error = IntegrityError if transport is KeyTransport.OAEP_SHA1 else OldKeyUnavailableError
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(error):
        reencrypt_package(
            package, tmp_path / "fresh.bid", old_key, load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=trust, fresh_key=True,
        )  # fmt: skip
    assert not (tmp_path / "fresh.bid").exists() and not list(tmp_path.glob("*.part"))
    assert package.read_bytes() == bytes(data)


def test_an_interrupted_fresh_key_run_leaves_the_package_as_it_was(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = packer("bidder-a").output
    original = package.read_bytes()
    real = refresh_module.PlaintextReader._next
    calls = []

    def interrupted(self: refresh_module.PlaintextReader) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C (or SIGTERM, handled like it) in the middle
        return real(self)

    monkeypatch.setattr(refresh_module.PlaintextReader, "_next", interrupted)
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(KeyboardInterrupt):
        reencrypt_package(
            package,
            None,
            old_key,
            load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=trust,
            fresh_key=True,
        )
    assert package.read_bytes() == original
    assert (
        sorted(p.name for p in package.parent.iterdir() if p.name.startswith(".") or p.suffix == ".part")
        == []
    )


def test_the_plaintext_reader_streams_with_the_checks_at_the_end(pki: Pki, tmp_path: Path) -> None:
    from bidcrypt.envelope import EnvelopeBuilder, read_header

    plain = bytes(range(256)) * 4099
    for cipher in (ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC):
        builder = EnvelopeBuilder().set_cipher(cipher).set_chunk_size(4096)
        sealed = builder.add_recipient(load_certificate(pki.cert("bidder-b/enc"))).encrypt_bytes(plain)
        with _p12(pki, "bidder-b/enc") as keys:
            header = read_header(io.BytesIO(sealed))
            key = unwrap_content_key(header, keys).key
        reader = refresh_module.PlaintextReader(io.BytesIO(sealed), header, key, chunk_size=1000)
        out = bytearray()
        view = bytearray(777)
        while count := reader.readinto(view):
            out += view[:count]
        assert bytes(out) == plain
        damaged = bytearray(sealed)
        damaged[header.content.end - 30] ^= 0x01
        reader = refresh_module.PlaintextReader(io.BytesIO(bytes(damaged)), header, key, chunk_size=1000)
        with pytest.raises(IntegrityError):
            while reader.readinto(view):
                pass
    assert decrypt_bytes(sealed, _p12(pki, "bidder-b/enc")) == plain


def test_without_the_old_key_it_says_so(pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path) -> None:
    package = packer("bidder-a").output
    with _p12(pki, "bidder-a/enc-changed") as other, pytest.raises(OldKeyUnavailableError):
        reencrypt_package(
            package, tmp_path / "x.bid", other, load_certificate(pki.cert("bidder-a/enc-replaced")),
            trust=trust, fresh_key=True,
        )  # fmt: skip
    assert not (tmp_path / "x.bid").exists()
