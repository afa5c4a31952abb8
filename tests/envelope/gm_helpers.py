"""Helpers of the GM/T 0010 envelope tests: the vectors, a DER walker, envelopes assembled by hand."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bidcrypt.envelope import RecipientId, RecipientIdentifier
from bidcrypt.envelope import _der as der
from bidcrypt.gm import Sm2PublicKey, oids, to_raw
from bidcrypt.keys import KeyEntry
from tests.gm.envelope_pki import VECTORS, Sm2Identity

PKCS7_DATA = "1.2.840.113549.1.7.1"
PKCS7_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
SHORT_SHA256 = "c09b603df0d3d6cd9d93e5ce8ce24cb93948019343ab3b847b1477c5881ffc1f"
BULK_SHA256 = "a1527544f5919e9169e8ad4b759707a3b586750bb02270d0effb8d433489f671"
PASSWORD = "gm-vectors"


def vector(name: str) -> Path:
    """A file of the GmSSL vectors."""
    return VECTORS / name


def sha256(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Tlv:
    """One DER element: where it is, its tag, and its content."""

    offset: int
    depth: int
    tag: int
    header_length: int
    content: bytes

    @property
    def constructed(self) -> bool:
        """True for a constructed encoding."""
        return bool(self.tag & 0x20)


def walk(data: bytes, depth: int = 0, offset: int = 0, into_octets: bool = False) -> list[Tlv]:
    """Every element of DER *data*, depth first; fails on an indefinite length (not DER)."""
    found: list[Tlv] = []
    position = 0
    while position < len(data):
        tag = data[position]
        first = data[position + 1]
        assert first != 0x80, "indefinite length: not DER"
        if first < 0x80:
            length, size = first, 1
        else:
            count = first & 0x7F
            length = int.from_bytes(data[position + 2 : position + 2 + count], "big")
            size = 1 + count
        header = 1 + size
        content = data[position + header : position + header + length]
        assert len(content) == length, "truncated"
        found.append(Tlv(offset + position, depth, tag, header, content))
        if tag & 0x20:
            found.extend(walk(content, depth + 1, offset + position + header))
        position += header + length
    return found


def skeleton(data: bytes) -> list[tuple[int, int, object]]:
    """The fixed structure of a GM envelope: (depth, tag, what is fixed about the content).

    OIDs and INTEGERs are compared whole, the issuer Name too; the SM2Cipher,
    the IV and the ciphertext by kind only (they are random), constructed
    elements by their tag and depth.
    """
    shape: list[tuple[int, int, object]] = []
    for element in walk(data):
        if element.constructed:
            shape.append((element.depth, element.tag, None))
        elif element.tag in (0x06, 0x02, 0x13, 0x0C, 0x05):  # OID, INTEGER, strings, NULL
            shape.append((element.depth, element.tag, element.content))
        else:
            shape.append((element.depth, element.tag, "random"))
    return shape


def sm4_cbc(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding, by cryptography directly."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def encrypted_key(public_key: Sm2PublicKey, key: bytes, encoding: str) -> bytes:
    """*key* encrypted to *public_key* in *encoding*: ``der``, or ``c1c3c2``/``c1c2c3`` with ``+04``."""
    ciphertext = public_key.encrypt(key)
    if encoding == "der":
        return ciphertext
    order, _, prefix = encoding.partition("+")
    return to_raw(ciphertext, order, prefix=prefix == "04")  # type: ignore[arg-type]


def recipient_info(
    identity: Sm2Identity,
    key: bytes,
    *,
    rid: str = "issuer-serial",
    algorithm: str = oids.SM2_ENCRYPT_GMSSL,
    null: bool = False,
    encoding: str = "der",
    version: int | None = None,
    wrapped: bytes | None = None,
) -> bytes:
    """An SM2 KeyTransRecipientInfo built by hand, in any of the forms met in the field."""
    if rid == "ski":
        identifier = RecipientId.of(identity.certificate, RecipientIdentifier.SUBJECT_KEY_IDENTIFIER)
        assert identifier.subject_key_identifier is not None
        rid_der = der.context(0, identifier.subject_key_identifier, constructed=False)
        default_version = 2
    else:
        identifier = RecipientId.of(identity.certificate, RecipientIdentifier.ISSUER_AND_SERIAL)
        rid_der = bytes(identifier.issuer_and_serial().dump())
        default_version = 1
    from bidcrypt import certs

    public_key = certs.public_key(identity.certificate)
    assert isinstance(public_key, Sm2PublicKey)
    return der.sequence(
        der.integer(default_version if version is None else version),
        rid_der,
        der.algorithm(algorithm, der.null() if null else None),
        der.octet_string(wrapped if wrapped is not None else encrypted_key(public_key, key, encoding)),
    )


def assemble(
    infos: list[bytes],
    key: bytes,
    plaintext: bytes,
    *,
    outer: str = oids.GM_ENVELOPED_DATA,
    inner: str = oids.GM_DATA,
    cipher: str = oids.SM4_CBC,
    version: int = 1,
    iv: bytes = bytes(range(16)),
    shared_info: tuple[bytes, ...] = (),
) -> bytes:
    """A DER GM/T 0010 EnvelopedData assembled by hand (the variants other writers make).

    *shared_info*: sharedInfo1 and sharedInfo2 of GM/T 0010's EncryptedContentInfo.
    """
    eci = der.sequence(
        der.oid(inner),
        der.algorithm(cipher, der.octet_string(iv)),
        der.tlv(0x80, sm4_cbc(key, iv, plaintext)),
        *(der.tlv(0x81 + number, value) for number, value in enumerate(shared_info)),
    )
    body = der.sequence(der.integer(version), der.set_of(infos), eci)
    return der.sequence(der.oid(outer), der.context(0, body))


class CountingEntry(KeyEntry):
    """A key entry that counts its SM2 decryptions and passes them to another entry."""

    def __init__(self, inner: KeyEntry) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)
        self.inner = inner
        self.sm2_calls = 0

    @property
    def has_private_key(self) -> bool:
        """As the inner entry."""
        return True

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Count, then decrypt on the inner entry."""
        self.sm2_calls += 1
        return self.inner.sm2_decrypt(ciphertext)

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Not used."""
        raise AssertionError("no RSA here")

    def ecdh(self, peer: object) -> bytes:  # type: ignore[override]
        """Not used."""
        raise AssertionError("no ECDH here")

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """Not used."""
        raise AssertionError("no signing here")

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """None."""
        return ()
