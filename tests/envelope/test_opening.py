"""Opening: who can open what, the two-step API of bulk opening, test-open, re-encryption, files."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt.envelope import (
    Attribute,
    ContentCipher,
    EnvelopeBuilder,
    KeyTransport,
    RecipientIdentifier,
    decrypt_bytes,
    decrypt_content,
    decrypt_file,
    matching_recipients,
    read_header,
    read_header_file,
    reencrypt,
    test_open,
    unwrap_content_key,
)
from bidcrypt.envelope import _der as der
from bidcrypt.envelope._align import ContentFrame
from bidcrypt.envelope.opening import candidates
from bidcrypt.errors import (
    IntegrityError,
    KeyNotFoundError,
    MalformedEnvelopeError,
    OutputExistsError,
    WrongKeyError,
)
from bidcrypt.keys import KeyEntry

from .conftest import AUTHORITY, EC256, EC384, P12, RSA, Cert, leftovers

_DER = Encoding.DER


def envelope(cert: Cert, *names: str, **options: object) -> EnvelopeBuilder:
    builder = EnvelopeBuilder()
    for name in names:
        builder = builder.add_recipient(cert(name), **options)  # type: ignore[arg-type]
    return builder


def test_two_recipients_open_with_either_key(cert: Cert, p12: P12) -> None:
    sealed = envelope(cert, RSA, AUTHORITY).encrypt_bytes(b"bid")
    assert decrypt_bytes(sealed, p12(RSA)) == b"bid"
    assert decrypt_bytes(sealed, p12(AUTHORITY)) == b"bid"
    with pytest.raises(WrongKeyError):
        decrypt_bytes(sealed, p12(EC256))


@pytest.mark.parametrize("identifier", list(RecipientIdentifier))
def test_renewed_certificate_with_the_same_key_still_opens(
    cert: Cert, p12: P12, identifier: RecipientIdentifier
) -> None:
    """Encrypted to the renewed certificate, opened with the key of the original (and the reverse).

    Named by a key identifier, the key itself is named. Named by issuer and serial, the named
    certificate must be known (a package lists its recipients' certificates): it is believed
    because it carries the very key of the key source's certificate.
    """
    renewed_cert = cert("bidder-a/enc-renewed")
    renewed = envelope(cert, "bidder-a/enc-renewed", identifier=identifier).encrypt_bytes(b"bid")
    original = envelope(cert, RSA, identifier=identifier).encrypt_bytes(b"bid")
    if identifier is RecipientIdentifier.ISSUER_AND_SERIAL:
        with pytest.raises(WrongKeyError, match="encrypted to issuer"):  # no trial decryption
            decrypt_bytes(renewed, p12(RSA))
        assert decrypt_bytes(renewed, p12(RSA), certificates=[cert(EC256), renewed_cert]) == b"bid"
        assert decrypt_bytes(original, p12("bidder-a/enc-renewed"), certificates=[cert(RSA)]) == b"bid"
        # A known certificate of another key that claims the issuer and serial does not make a match.
        with pytest.raises(WrongKeyError, match="encrypted to issuer"):
            decrypt_bytes(renewed, p12("bidder-a/enc-replaced"), certificates=[renewed_cert])
    else:
        assert decrypt_bytes(renewed, p12(RSA)) == b"bid"
        assert decrypt_bytes(original, p12("bidder-a/enc-renewed")) == b"bid"


@pytest.mark.parametrize("name", ["bidder-a/enc-replaced", "bidder-a/enc-changed"])
def test_a_replaced_key_cannot_open_and_says_why(cert: Cert, p12: P12, name: str) -> None:
    sealed = envelope(cert, RSA).encrypt_bytes(b"bid")
    with pytest.raises(WrongKeyError) as caught:
        decrypt_bytes(sealed, p12(name))
    message = caught.value.message("en")
    ski = cert(RSA).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    assert ski in message and "encrypted to" in message
    assert caught.value.hint("en")


def test_matching_recipients_by_certificate_or_key(cert: Cert) -> None:
    header = read_header(io.BytesIO(envelope(cert, RSA, EC256).encrypt_bytes(b"")))
    renewed = matching_recipients(header, cert("bidder-a/enc-renewed"))
    assert [r.kind.value for r in renewed] == ["KeyTransRecipientInfo"]
    assert matching_recipients(header, cert("bidder-a/enc-replaced")) == []
    assert [r.kind.value for r in matching_recipients(header, cert(EC256))] == ["KeyAgreeRecipientInfo"]


def test_a_key_identifier_computed_by_another_method_matches(cert: Cert, p12: P12) -> None:
    """RFC 7093 method 1 (SHA-256 of the key bits, 160 bits): matched by the public key."""
    from bidcrypt.envelope import identifiers as rec

    sealed = envelope(cert, EC256).encrypt_bytes(b"bid")
    _, bits = rec._spki_parts(cert(EC256))
    other_ski = hashlib.sha256(bits).digest()[:20]
    original_ski = cert(EC256).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert other_ski != original_ski
    patched = sealed.replace(original_ski, other_ski)
    assert read_header(io.BytesIO(patched)).recipients[0].rid.subject_key_identifier == other_ski  # type: ignore[union-attr]
    assert decrypt_bytes(patched, p12(EC256)) == b"bid"


@pytest.mark.parametrize("transport", list(KeyTransport))
def test_a_recipient_that_does_not_name_the_key_is_never_tried(
    cert: Cert, p12: P12, transport: KeyTransport
) -> None:
    """No trial decryption: not even of a recipient of the same key type and size."""
    sealed = envelope(cert, RSA, key_transport=transport).encrypt_bytes(b"bid")
    original_ski = cert(RSA).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    patched = sealed.replace(original_ski, b"\x01" * 20)
    header = read_header(io.BytesIO(patched))
    keys = p12(RSA).entries()
    assert candidates(header, keys) == []
    tried: list[bytes] = []
    spy = _Spy(keys[0], tried)
    with pytest.raises(WrongKeyError, match="encrypted to SKI 0101010101"):
        unwrap_content_key(header, [spy])
    assert tried == []  # not one private-key operation


def _forged(ski: bytes, serial: int, issuer: x509.Name) -> x509.Certificate:
    """A certificate anyone can make: another key, with a chosen SKI extension, issuer and serial."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=forged"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_a_forged_certificate_does_not_make_a_match(cert: Cert) -> None:
    """Only the key source's own certificate is believed on its SKI extension, issuer and serial."""
    from bidcrypt.envelope.unwrapping import names

    own = cert(RSA)
    ski = own.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    forged = _forged(ski, own.serial_number, own.issuer)
    for identifier in RecipientIdentifier:
        sealed = envelope(cert, RSA, identifier=identifier).encrypt_bytes(b"bid")
        rid = read_header(io.BytesIO(sealed)).recipients[0].rid
        assert rid is not None and rid.matches(forged)  # what the forged certificate claims
        assert not rid.names_key_of(forged)  # what its key says
        assert names(rid, own)
        assert names(rid, cert("bidder-a/enc-renewed")) == (
            identifier is RecipientIdentifier.SUBJECT_KEY_IDENTIFIER
        )
        # Listed beside the envelope, it lets no other key of the source match.
        assert not names(rid, cert("bidder-a/enc-replaced"), [forged, own])


class _Spy(KeyEntry):
    """A key entry that records every private-key operation and passes it on."""

    def __init__(self, inner: KeyEntry, tried: list[bytes]) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)
        self.inner = inner
        self.tried = tried

    @property
    def has_private_key(self) -> bool:
        return True

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        self.tried.append(ciphertext)
        return self.inner.rsa_decrypt(ciphertext, scheme)

    def ecdh(self, peer: object) -> bytes:  # type: ignore[override]
        self.tried.append(b"ecdh")
        return self.inner.ecdh(peer)  # type: ignore[arg-type]

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        raise AssertionError("no signing here")

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        return self.inner.claimed_rsa_schemes()


def test_entries_without_private_keys_are_reported(cert: Cert, p12: P12) -> None:
    class CertificateOnly(KeyEntry):
        has_private_key = False  # type: ignore[assignment]

        def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
            raise AssertionError("no private key")

        def ecdh(self, peer: object) -> bytes:  # type: ignore[override]
            raise AssertionError("no private key")

        def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
            raise AssertionError("no private key")

        def claimed_rsa_schemes(self) -> tuple[str, ...]:
            return ()

    header = read_header(io.BytesIO(envelope(cert, RSA).encrypt_bytes(b"bid")))
    with pytest.raises(KeyNotFoundError, match="private key"):
        unwrap_content_key(header, [CertificateOnly("enc", b"", cert(RSA), "token")])


def _decrypt_in_worker(args: tuple[str, bytes, bytes, str]) -> str:
    path, header_pickle, key_pickle, out = args
    result = decrypt_content(Path(path), pickle.loads(header_pickle), pickle.loads(key_pickle), Path(out))  # noqa: S301
    return str(result.output)


def test_unwrap_once_then_decrypt_in_a_worker_process(cert: Cert, p12: P12, tmp_path: Path) -> None:
    """Bulk opening: the key is unwrapped here, the content decrypted in another process."""
    plain = bytes(range(256)) * 4096
    (tmp_path / "bid.bin").write_bytes(plain)
    envelope(cert, EC384).set_chunk_size(65536).encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m")
    header = read_header_file(tmp_path / "bid.p7m")
    key = unwrap_content_key(header, p12(EC384))
    assert repr(key).count(key.key.hex()) == 0  # the key never shows in a repr
    job = (str(tmp_path / "bid.p7m"), pickle.dumps(header), pickle.dumps(key), str(tmp_path / "out.bin"))
    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_decrypt_in_worker, job).result() == str(tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == plain


def test_decrypt_content_refuses_a_file_that_changed(cert: Cert, p12: P12, tmp_path: Path) -> None:
    path = tmp_path / "bid.p7m"
    path.write_bytes(envelope(cert, RSA).encrypt_bytes(b"x" * 1000))
    header = read_header_file(path)
    key = unwrap_content_key(header, p12(RSA))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(MalformedEnvelopeError, match="changed"):
        decrypt_content(path, header, key, tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
def test_test_open_writes_nothing(cert: Cert, p12: P12, tmp_path: Path, cipher: ContentCipher) -> None:
    plain = b"PK\x03\x04" + bytes(3 << 20)
    (tmp_path / "bid.zip").write_bytes(plain)
    envelope(cert, RSA).set_cipher(cipher).encrypt_file(tmp_path / "bid.zip", tmp_path / "bid.p7m")
    before = sorted(tmp_path.iterdir())
    quick = test_open(tmp_path / "bid.p7m", p12(RSA))
    assert quick.prefix == plain[:4096] and not quick.verified
    full = test_open(tmp_path / "bid.p7m", p12(RSA), full=True)
    assert full.verified and full.prefix.startswith(b"PK\x03\x04")
    assert sorted(tmp_path.iterdir()) == before
    with pytest.raises(WrongKeyError):
        test_open(tmp_path / "bid.p7m", p12(AUTHORITY))


def test_full_test_open_detects_tampering_the_quick_one_cannot(cert: Cert, p12: P12, tmp_path: Path) -> None:
    data = bytearray(envelope(cert, RSA).set_der().encrypt_bytes(bytes(3 << 20)))
    data[-100] ^= 1  # in the last chunk of ciphertext
    (tmp_path / "bid.p7m").write_bytes(data)
    assert test_open(tmp_path / "bid.p7m", p12(RSA)).prefix == bytes(4096)
    with pytest.raises(IntegrityError):
        test_open(tmp_path / "bid.p7m", p12(RSA), full=True)


# --- attributes and re-encryption ------------------------------------------------------


def _sealed_package(cert: Cert, tmp_path: Path, cipher: ContentCipher = ContentCipher.AES_256_GCM) -> Path:
    builder = envelope(cert, RSA, AUTHORITY, key_transport=KeyTransport.PKCS1V15).set_cipher(cipher)
    if cipher.is_aead:
        builder = builder.add_authenticated_attribute("2.25.7.1", core.UTF8String("标段一").dump())
    builder = builder.add_unauthenticated_attribute("2.25.7.2", cert(RSA).public_bytes(_DER))
    (tmp_path / "bid.bin").write_bytes(b"sealed bid " * 5000)
    builder.encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m")
    return tmp_path / "bid.p7m"


def test_attributes_are_read_without_a_key(cert: Cert, tmp_path: Path) -> None:
    header = read_header_file(_sealed_package(cert, tmp_path))
    lot = header.attribute("2.25.7.1")
    assert lot is not None and lot.value_texts() == ["标段一"]
    assert header.attribute("1.2.840.113549.1.9.3") is not None  # content-type, added by the builder
    assert header.unauthenticated_attributes[0].values == (cert(RSA).public_bytes(_DER),)
    from asn1crypto import cms

    assert header.aad is not None
    assert {a["type"].dotted for a in cms.CMSAttributes.load(header.aad)} == {
        "2.25.7.1",
        "1.2.840.113549.1.9.3",
    }


def test_changing_an_authenticated_attribute_breaks_the_opening(cert: Cert, p12: P12, tmp_path: Path) -> None:
    path = _sealed_package(cert, tmp_path)
    data = path.read_bytes()
    old, new = "标段一".encode(), "标段二".encode()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    assert read_header_file(path).attribute("2.25.7.1").value_texts() == ["标段二"]  # type: ignore[union-attr]
    # The recipients use PKCS#1 v1.5: a failed check cannot be told from a wrong key (no padding oracle).
    with pytest.raises(WrongKeyError, match="cannot tell a wrong key from a damaged or altered file"):
        decrypt_file(path, tmp_path / "out", p12(RSA))
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_after_oaep_a_changed_attribute_is_named_as_tampering(cert: Cert, p12: P12, tmp_path: Path) -> None:
    builder = envelope(cert, RSA, key_transport=KeyTransport.OAEP_SHA1)
    builder = builder.add_authenticated_attribute("2.25.7.1", core.UTF8String("标段一").dump())
    data = builder.encrypt_bytes(b"sealed bid")
    path = tmp_path / "bid.p7m"
    path.write_bytes(data.replace("标段一".encode(), "标段二".encode()))
    with pytest.raises(IntegrityError):
        decrypt_file(path, tmp_path / "out", p12(RSA))
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
def test_reencrypt_to_a_replaced_key_keeps_the_content(
    cert: Cert, p12: P12, tmp_path: Path, cipher: ContentCipher
) -> None:
    path = _sealed_package(cert, tmp_path, cipher)
    old = read_header_file(path)
    result = reencrypt(
        path,
        tmp_path / "new.p7m",
        p12(RSA),
        [cert("bidder-a/enc-replaced")],
        keep_others=True,
        unauthenticated_attributes=[
            Attribute("2.25.7.2", (cert("bidder-a/enc-replaced").public_bytes(_DER),))
        ],
    )
    assert result.kept == 1
    new = read_header_file(tmp_path / "new.p7m")
    old_bytes, new_bytes = path.read_bytes(), (tmp_path / "new.p7m").read_bytes()
    # The encrypted content, attributes and tag are copied byte for byte, at the same block offset.
    old_start, new_start = _ciphertext_start(path), _ciphertext_start(tmp_path / "new.p7m")
    copied = old_bytes[old_start : old.unauthenticated_attributes_offset]
    assert new_bytes[new_start : new.unauthenticated_attributes_offset] == copied
    assert new_start % 4096 == old_start % 4096
    assert new.authenticated_attributes == old.authenticated_attributes
    assert new.unauthenticated_attributes[0].values == (cert("bidder-a/enc-replaced").public_bytes(_DER),)
    assert decrypt_bytes(new_bytes, p12("bidder-a/enc-replaced")) == b"sealed bid " * 5000
    assert decrypt_bytes(new_bytes, p12(AUTHORITY)) == b"sealed bid " * 5000
    with pytest.raises(WrongKeyError):
        decrypt_bytes(new_bytes, p12(RSA))
    if cipher is ContentCipher.AES_256_CBC:
        assert new.version == 2


@pytest.mark.parametrize("way", ["kernel", "kernel-declines", "pem"])
def test_reencrypt_copies_the_content_byte_for_byte_however_it_copies(
    cert: Cert, p12: P12, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    path = _sealed_package(cert, tmp_path)
    old_bytes = path.read_bytes()
    if way == "pem":  # decoded into a temporary file first
        body = base64.encodebytes(old_bytes).decode()
        path = tmp_path / "bid.pem"
        path.write_text(f"-----BEGIN CMS-----\n{body}-----END CMS-----\n")
    calls: list[int] = []
    real = os.copy_file_range

    def copy_file_range(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        calls.append(count)
        if way == "kernel-declines":
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst, count, offset_src)

    monkeypatch.setattr(os, "copy_file_range", copy_file_range)
    reencrypt(path, tmp_path / "new.p7m", p12(RSA), [cert(EC256)], keep_others=True)
    assert calls  # the kernel was asked (and in one case declined: the loop copied)
    old, new = read_header_file(tmp_path / "bid.p7m"), read_header_file(tmp_path / "new.p7m")
    new_bytes = (tmp_path / "new.p7m").read_bytes()
    copied = old_bytes[_ciphertext_start(tmp_path / "bid.p7m") : old.fields_end]
    assert new_bytes[_ciphertext_start(tmp_path / "new.p7m") : new.fields_end] == copied
    assert decrypt_bytes(new_bytes, p12(EC256)) == b"sealed bid " * 5000


def _ciphertext_start(path: Path) -> int:
    """Offset of the first non-empty segment of the encrypted content."""
    with path.open("rb") as stream:
        return ContentFrame.read(stream, read_header(stream)).copy_from


def test_reencrypt_pads_to_the_block_offset_without_accumulating(
    cert: Cert, p12: P12, tmp_path: Path
) -> None:
    path = _sealed_package(cert, tmp_path)
    chain = [(path, RSA, EC256), (tmp_path / "1.p7m", EC256, RSA), (tmp_path / "2.p7m", RSA, EC256)]
    for number, (source, old_key, new_cert) in enumerate(chain, start=1):
        reencrypt(source, tmp_path / f"{number}.p7m", p12(old_key), [cert(new_cert)])
        assert _ciphertext_start(tmp_path / f"{number}.p7m") % 4096 == _ciphertext_start(path) % 4096
    # The same recipient twice: the same front, the old padding dropped, the same size.
    assert (tmp_path / "3.p7m").stat().st_size == (tmp_path / "1.p7m").stat().st_size
    assert decrypt_bytes((tmp_path / "3.p7m").read_bytes(), p12(EC256)) == b"sealed bid " * 5000


@pytest.mark.parametrize("name", [RSA, EC256])
def test_reencrypt_refuses_a_damaged_envelope(cert: Cert, p12: P12, tmp_path: Path, name: str) -> None:
    path = tmp_path / "bid.p7m"
    builder = envelope(cert, RSA, key_transport=KeyTransport.PKCS1V15).add_recipient(cert(EC256))
    data = bytearray(builder.encrypt_bytes(b"sealed bid " * 5000))
    header = read_header(io.BytesIO(bytes(data)))
    data[header.content.offset + 100] ^= 0x40
    path.write_bytes(data)
    # Opened with PKCS#1 v1.5 (the RSA recipient), a damaged file reads as a wrong key (RFC 3218).
    error = WrongKeyError if name == RSA else IntegrityError
    with pytest.raises(error):
        reencrypt(path, tmp_path / "new.p7m", p12(name), [cert("bidder-a/enc-replaced")])
    assert not (tmp_path / "new.p7m").exists() and leftovers(tmp_path) == []


def test_reencrypt_checks_the_new_certificates(cert: Cert, p12: P12, tmp_path: Path) -> None:
    from bidcrypt.errors import WrongKeyUsageError

    path = _sealed_package(cert, tmp_path)
    with pytest.raises(WrongKeyUsageError):
        reencrypt(path, tmp_path / "new.p7m", p12(RSA), [cert("bidder-a/sign")])


# --- files ------------------------------------------------------------------------------


def test_pem_input_is_accepted(cert: Cert, p12: P12, tmp_path: Path) -> None:
    sealed = envelope(cert, EC256).encrypt_bytes(b"pem bid")
    body = base64.encodebytes(sealed).decode()
    for label in ("CMS", "PKCS7"):
        path = tmp_path / f"{label}.pem"
        path.write_text(f"\n-----BEGIN {label}-----\n{body}-----END {label}-----\n")
        decrypt_file(path, tmp_path / f"{label}.out", p12(EC256))
        assert (tmp_path / f"{label}.out").read_bytes() == b"pem bid"
        assert read_header_file(path).size == len(sealed)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a CMS envelope"),
        ("-----BEGIN CMS-----\nAA*A\n-----END CMS-----\n", "base64"),
        ("-----BEGIN CMS-----\nAAAA\n", "no END"),
        ("-----BEGIN CMS-----\nMAA=\n-----END PKCS7-----\n", "does not match"),
    ],
)
def test_bad_pem_is_malformed(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "x.pem").write_text(text)
    with pytest.raises(MalformedEnvelopeError, match=reason):
        read_header_file(tmp_path / "x.pem")


def test_outputs_are_never_overwritten_without_force(cert: Cert, p12: P12, tmp_path: Path) -> None:
    (tmp_path / "bid.bin").write_bytes(b"new")
    (tmp_path / "bid.p7m").write_bytes(b"precious")
    builder = envelope(cert, RSA)
    with pytest.raises(OutputExistsError):
        builder.encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m")
    assert (tmp_path / "bid.p7m").read_bytes() == b"precious"
    builder.encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m", force=True)
    (tmp_path / "out").write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        decrypt_file(tmp_path / "bid.p7m", tmp_path / "out", p12(RSA))
    assert (tmp_path / "out").read_bytes() == b"precious"
    decrypt_file(tmp_path / "bid.p7m", tmp_path / "out", p12(RSA), force=True)
    assert (tmp_path / "out").read_bytes() == b"new"
    assert (tmp_path / "out").stat().st_mode & 0o077 == 0  # plaintext is the owner's only
    assert leftovers(tmp_path) == []


def test_an_unreadable_output_directory_is_an_output_error(cert: Cert, tmp_path: Path) -> None:
    from bidcrypt.errors import OutputError

    (tmp_path / "bid.bin").write_bytes(b"x")
    with pytest.raises(OutputError):
        envelope(cert, RSA).encrypt_file(tmp_path / "bid.bin", tmp_path / "missing" / "bid.p7m")


def test_version_and_structure_survive_reencryption_of_der(cert: Cert, p12: P12, tmp_path: Path) -> None:
    (tmp_path / "bid.bin").write_bytes(b"x" * 100)
    envelope(cert, RSA).set_der().encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m")
    reencrypt(tmp_path / "bid.p7m", tmp_path / "new.p7m", p12(RSA), [cert(EC256)])
    new = read_header_file(tmp_path / "new.p7m")
    assert not new.indefinite  # still DER
    assert der.oid(new.inner_content_type)  # sanity
    assert decrypt_bytes((tmp_path / "new.p7m").read_bytes(), p12(EC256)) == b"x" * 100


def test_reencrypt_does_not_duplicate_a_kept_recipient(cert: Cert, p12: P12, tmp_path: Path) -> None:
    path = _sealed_package(cert, tmp_path)
    result = reencrypt(path, tmp_path / "new.p7m", p12(RSA), [cert(EC256), cert(AUTHORITY)], keep_others=True)
    assert result.kept == 0
    header = read_header_file(tmp_path / "new.p7m")
    assert len(header.recipients) == 2
    assert decrypt_bytes((tmp_path / "new.p7m").read_bytes(), p12(AUTHORITY)) == b"sealed bid " * 5000


def test_front_of_the_envelope_is_enough_to_unwrap(tmp_path: Path) -> None:
    """read_recipients stops after the cipher; its recipients are the full header's, and they unwrap."""
    from bidcrypt.certs import load_certificate
    from bidcrypt.envelope import EnvelopeBuilder, read_header_file, read_recipients, unwrap_content_key
    from bidcrypt.keys import PinSource, open_key_source

    from ..conftest import PKI

    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 3_000_000)
    envelope = tmp_path / "in.p7m"
    (
        EnvelopeBuilder()
        .add_recipient(load_certificate(PKI / "bidder-a/enc.pem"))
        .add_recipient(load_certificate(PKI / "bidder-b/enc.pem"))
        .encrypt_file(source, envelope)
    )
    front = read_recipients(envelope)
    header = read_header_file(envelope)
    assert front.recipients == header.recipients and front.cipher == header.cipher
    with open_key_source(str(PKI / "bidder-b/enc.p12"), PinSource.of_value("12345678")) as key:
        assert unwrap_content_key(front, key).key == unwrap_content_key(header, key).key
    truncated = tmp_path / "front-only.p7m"
    truncated.write_bytes(envelope.read_bytes()[:4000])  # the front survives, the content does not
    assert read_recipients(truncated).recipients == header.recipients


@pytest.mark.parametrize("cipher", [ContentCipher.AES_256_GCM, ContentCipher.AES_256_CBC])
def test_results_say_whether_the_content_was_authenticated(
    cert: Cert, p12: P12, tmp_path: Path, cipher: ContentCipher
) -> None:
    """AES-GCM authenticates the content; AES-CBC checks only its padding, and the results say so."""
    path = tmp_path / "bid.p7m"
    path.write_bytes(envelope(cert, EC256).set_cipher(cipher).encrypt_bytes(b"sealed bid " * 100))
    result = decrypt_file(path, tmp_path / "out", p12(EC256))
    assert result.authenticated is cipher.is_aead
    assert read_header_file(path).is_authenticated is cipher.is_aead
    full = test_open(path, p12(EC256), full=True)
    assert full.verified and full.authenticated is cipher.is_aead
    quick = test_open(path, p12(EC256))
    assert not quick.verified and not quick.authenticated
