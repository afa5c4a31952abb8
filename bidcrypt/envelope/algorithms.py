"""The algorithms of an envelope: content ciphers, RSA key transport, ECDH key agreement.

Object identifiers and their parameters are encoded and parsed here, and
nowhere else; an envelope naming anything not in these tables is refused
with :class:`~bidcrypt.errors.UnsupportedAlgorithmError`. The tables are
the place where SM2/SM4 (GM/T 0010) join later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyTransport

# --- object identifiers ----------------------------------------------------------------

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
AUTHENTICATED_DATA = "1.2.840.113549.1.9.16.1.2"
AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"

CONTENT_TYPE_ATTRIBUTE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST_ATTRIBUTE = "1.2.840.113549.1.9.4"
SIGNING_TIME_ATTRIBUTE = "1.2.840.113549.1.9.5"

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSAES_OAEP = "1.2.840.113549.1.1.7"
MGF1 = "1.2.840.113549.1.1.8"
P_SPECIFIED = "1.2.840.113549.1.1.9"

SHA1 = "1.3.14.3.2.26"
SHA224 = "2.16.840.1.101.3.4.2.4"
SHA256 = "2.16.840.1.101.3.4.2.1"
SHA384 = "2.16.840.1.101.3.4.2.2"
SHA512 = "2.16.840.1.101.3.4.2.3"

EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SECP256R1 = "1.2.840.10045.3.1.7"
SECP384R1 = "1.3.132.0.34"

AES128_WRAP = "2.16.840.1.101.3.4.1.5"
AES192_WRAP = "2.16.840.1.101.3.4.1.25"
AES256_WRAP = "2.16.840.1.101.3.4.1.45"

#: Readable names of the identifiers bidcrypt shows in ``inspect``.
NAMES = {
    DATA: "data",
    SIGNED_DATA: "signedData",
    ENVELOPED_DATA: "envelopedData",
    ENCRYPTED_DATA: "encryptedData",
    AUTHENTICATED_DATA: "authenticatedData",
    AUTH_ENVELOPED_DATA: "authEnvelopedData",
    CONTENT_TYPE_ATTRIBUTE: "contentType",
    MESSAGE_DIGEST_ATTRIBUTE: "messageDigest",
    SIGNING_TIME_ATTRIBUTE: "signingTime",
    RSA_ENCRYPTION: "rsaEncryption",
    RSAES_OAEP: "RSAES-OAEP",
    SHA1: "sha1",
    SHA224: "sha224",
    SHA256: "sha256",
    SHA384: "sha384",
    SHA512: "sha512",
    EC_PUBLIC_KEY: "id-ecPublicKey",
    SECP256R1: "P-256",
    SECP384R1: "P-384",
    AES128_WRAP: "aes128-wrap",
    AES192_WRAP: "aes192-wrap",
    AES256_WRAP: "aes256-wrap",
    "1.2.840.113549.3.7": "des-ede3-cbc",
    "1.2.156.10197.1.104": "sm4",
    "1.2.156.10197.1.301": "sm2",
}


def name_of(oid: str) -> str:
    """The readable name of *oid*, or the dotted form."""
    return NAMES.get(oid, oid)


# --- content encryption -----------------------------------------------------------------


class ContentCipher(Enum):
    """How the content is encrypted. GCM goes in AuthEnvelopedData, CBC in EnvelopedData."""

    AES_256_GCM = "aes-256-gcm"
    AES_192_GCM = "aes-192-gcm"
    AES_128_GCM = "aes-128-gcm"
    AES_256_CBC = "aes-256-cbc"
    AES_192_CBC = "aes-192-cbc"
    AES_128_CBC = "aes-128-cbc"

    @property
    def oid(self) -> str:
        """The algorithm's object identifier (RFC 3565, RFC 5084)."""
        return _CIPHER_OIDS[self]

    @property
    def key_size(self) -> int:
        """Content-encryption key length in bytes."""
        return int(self.value.split("-")[1]) // 8

    @property
    def is_aead(self) -> bool:
        """True for AES-GCM: authenticated, carried in AuthEnvelopedData."""
        return self.value.endswith("gcm")

    @property
    def content_type(self) -> str:
        """The CMS content type that carries this cipher."""
        return AUTH_ENVELOPED_DATA if self.is_aead else ENVELOPED_DATA

    @classmethod
    def from_oid(cls, oid: str) -> ContentCipher:
        """The cipher of *oid*, or :class:`UnsupportedAlgorithmError`."""
        for cipher, known in _CIPHER_OIDS.items():
            if known == oid:
                return cipher
        raise UnsupportedAlgorithmError(algorithm=name_of(oid))


_CIPHER_OIDS = {
    ContentCipher.AES_128_CBC: "2.16.840.1.101.3.4.1.2",
    ContentCipher.AES_192_CBC: "2.16.840.1.101.3.4.1.22",
    ContentCipher.AES_256_CBC: "2.16.840.1.101.3.4.1.42",
    ContentCipher.AES_128_GCM: "2.16.840.1.101.3.4.1.6",
    ContentCipher.AES_192_GCM: "2.16.840.1.101.3.4.1.26",
    ContentCipher.AES_256_GCM: "2.16.840.1.101.3.4.1.46",
}
NAMES.update({oid: cipher.value for cipher, oid in _CIPHER_OIDS.items()})

#: GCM nonce length bidcrypt writes (RFC 5084 recommends 12 octets) and the accepted range.
GCM_NONCE_LENGTH = 12
GCM_NONCE_RANGE = range(8, 65)
#: GCM tag length bidcrypt writes, and the lengths RFC 5084 allows.
GCM_TAG_LENGTH = 16
GCM_TAG_LENGTHS = (12, 13, 14, 15, 16)
CBC_IV_LENGTH = 16


@dataclass(frozen=True)
class CipherParameters:
    """The content cipher and its parameters as found in an envelope."""

    cipher: ContentCipher
    #: The CBC IV or the GCM nonce.
    iv: bytes
    #: The GCM tag (ICV) length; 0 for CBC.
    tag_length: int = 0

    def encode(self) -> bytes:
        """The ContentEncryptionAlgorithmIdentifier."""
        if self.cipher.is_aead:
            parameters = der.sequence(der.octet_string(self.iv), der.integer(self.tag_length))
        else:
            parameters = der.octet_string(self.iv)
        return der.algorithm(self.cipher.oid, parameters)

    @classmethod
    def parse(cls, node: ber.Node) -> CipherParameters:
        """Decode a ContentEncryptionAlgorithmIdentifier."""
        algorithm, parameters = split_algorithm(node, "content encryption algorithm")
        cipher = ContentCipher.from_oid(algorithm)
        if cipher.is_aead:
            if len(parameters) != 1:
                raise ber.malformed(Text("missing GCM parameters", "缺少 GCM 参数"))
            fields = ber.expect(parameters[0], ber.UNIVERSAL, ber.SEQUENCE, "GCM parameters").children
            if not 1 <= len(fields) <= 2:
                raise ber.malformed(Text("bad GCM parameters", "GCM 参数错误"))
            nonce = ber.octets(ber.expect(fields[0], ber.UNIVERSAL, ber.OCTET_STRING, "GCM nonce"))
            tag_length = ber.decode_integer(fields[1]) if len(fields) == 2 else 12
            if len(nonce) not in GCM_NONCE_RANGE or tag_length not in GCM_TAG_LENGTHS:
                raise ber.malformed(Text("bad GCM nonce or tag length", "GCM 随机数或标签长度错误"))
            return cls(cipher, nonce, tag_length)
        if len(parameters) != 1:
            raise ber.malformed(Text("missing CBC IV", "缺少 CBC 初始向量"))
        iv = ber.octets(ber.expect(parameters[0], ber.UNIVERSAL, ber.OCTET_STRING, "CBC IV"))
        if len(iv) != CBC_IV_LENGTH:
            raise ber.malformed(Text("bad CBC IV length", "CBC 初始向量长度错误"))
        return cls(cipher, iv)

    def describe(self) -> str:
        """``aes-256-gcm (nonce 12 bytes, tag 16 bytes)``-style text."""
        if self.cipher.is_aead:
            return f"{self.cipher.value} (nonce {len(self.iv)} bytes, tag {self.tag_length} bytes)"
        return self.cipher.value


def split_algorithm(node: ber.Node, what: str) -> tuple[str, tuple[ber.Node, ...]]:
    """An AlgorithmIdentifier as (dotted OID, parameter nodes: none or one)."""
    ber.expect(node, ber.UNIVERSAL, ber.SEQUENCE, what, constructed=True)
    if not 1 <= len(node.children) <= 2:
        raise ber.malformed(
            Text(
                "bad {what}",
                "{what} 格式错误",
                what=what,
            )
        )
    return ber.decode_oid(node.children[0]), node.children[1:]


# --- RSA key transport (RFC 8017, RFC 4055) ------------------------------------------------

_OAEP_HASHES = {KeyTransport.OAEP_SHA256: SHA256, KeyTransport.OAEP_SHA1: SHA1}


def encode_key_transport(transport: KeyTransport) -> bytes:
    """The KeyEncryptionAlgorithmIdentifier of an RSA key transport.

    PKCS#1 v1.5 is rsaEncryption with NULL parameters. OAEP-SHA1 is
    id-RSAES-OAEP with every field at its default (an empty SEQUENCE);
    OAEP-SHA256 names SHA-256 for the hash and for MGF1, the label empty.
    """
    if transport is KeyTransport.PKCS1V15:
        return der.algorithm(RSA_ENCRYPTION, der.null())
    if transport is KeyTransport.OAEP_SHA1:
        return der.algorithm(RSAES_OAEP, der.sequence())
    sha256 = der.algorithm(SHA256)
    return der.algorithm(
        RSAES_OAEP,
        der.sequence(der.context(0, sha256), der.context(1, der.algorithm(MGF1, sha256))),
    )


def parse_key_transport(node: ber.Node) -> KeyTransport:
    """The RSA key transport named by a KeyEncryptionAlgorithmIdentifier.

    Strict: OAEP parameters must be present and name the same hash for the
    digest and MGF1 (SHA-1 or SHA-256) with an empty label; nothing falls
    back to PKCS#1 v1.5.
    """
    algorithm, parameters = split_algorithm(node, "key encryption algorithm")
    if algorithm == RSA_ENCRYPTION:
        ber.decode_null_or_absent(parameters, "rsaEncryption")
        return KeyTransport.PKCS1V15
    if algorithm != RSAES_OAEP:
        raise UnsupportedAlgorithmError(algorithm=name_of(algorithm))
    if len(parameters) != 1:
        raise ber.malformed(Text("RSAES-OAEP parameters missing", "缺少 RSAES-OAEP 参数"))
    fields = ber.expect(parameters[0], ber.UNIVERSAL, ber.SEQUENCE, "RSAES-OAEP parameters").children
    hash_oid, mgf_hash_oid, label = SHA1, SHA1, b""
    last = -1
    for field_node in fields:
        number = field_node.head.number
        if (
            field_node.head.cls != ber.CONTEXT
            or not field_node.head.constructed
            or number <= last
            or number > 2
        ):
            raise ber.malformed(Text("bad RSAES-OAEP parameters", "RSAES-OAEP 参数错误"))
        last = number
        if len(field_node.children) != 1:
            raise ber.malformed(Text("bad RSAES-OAEP parameters", "RSAES-OAEP 参数错误"))
        inner = field_node.children[0]
        if number == 0:
            hash_oid = _hash_algorithm(inner)
        elif number == 1:
            mgf, mgf_parameters = split_algorithm(inner, "mask generation function")
            if mgf != MGF1:
                raise UnsupportedAlgorithmError(algorithm=name_of(mgf))
            if len(mgf_parameters) != 1:
                raise ber.malformed(Text("MGF1 hash missing", "缺少 MGF1 哈希算法"))
            mgf_hash_oid = _hash_algorithm(mgf_parameters[0])
        else:
            source, source_parameters = split_algorithm(inner, "OAEP label source")
            if source != P_SPECIFIED or len(source_parameters) != 1:
                raise UnsupportedAlgorithmError(algorithm=name_of(source))
            label = ber.octets(
                ber.expect(source_parameters[0], ber.UNIVERSAL, ber.OCTET_STRING, "OAEP label")
            )
    for transport, oid in _OAEP_HASHES.items():
        if hash_oid == oid and mgf_hash_oid == oid and not label:
            return transport
    described = f"RSAES-OAEP ({name_of(hash_oid)}, MGF1 {name_of(mgf_hash_oid)}{', label' if label else ''})"
    raise UnsupportedAlgorithmError(algorithm=described)


def _hash_algorithm(node: ber.Node) -> str:
    algorithm, parameters = split_algorithm(node, "hash algorithm")
    ber.decode_null_or_absent(parameters, name_of(algorithm))
    return algorithm


def describe_key_transport(transport: KeyTransport) -> str:
    """``RSAES-OAEP (SHA-256)``-style name."""
    return {
        KeyTransport.OAEP_SHA256: "RSAES-OAEP (SHA-256)",
        KeyTransport.OAEP_SHA1: "RSAES-OAEP (SHA-1)",
        KeyTransport.PKCS1V15: "RSAES-PKCS1-v1_5",
    }[transport]


# --- ECDH key agreement (RFC 5753) --------------------------------------------------------


@dataclass(frozen=True)
class KeyAgreementScheme:
    """A dhSinglePass scheme: ephemeral-static ECDH and the X9.63 KDF with one hash."""

    oid: str
    name: str
    hash_name: str
    cofactor: bool

    def hash(self) -> hashes.HashAlgorithm:
        """A fresh instance of the KDF hash."""
        return _KDF_HASHES[self.hash_name]()


_KDF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

#: Every dhSinglePass scheme bidcrypt opens. The cofactor variants compute the same
#: secret on the NIST curves (cofactor 1).
KEY_AGREEMENT_SCHEMES = {
    scheme.oid: scheme
    for scheme in (
        KeyAgreementScheme("1.3.133.16.840.63.0.2", "dhSinglePass-stdDH-sha1kdf-scheme", "sha1", False),
        KeyAgreementScheme("1.3.132.1.11.0", "dhSinglePass-stdDH-sha224kdf-scheme", "sha224", False),
        KeyAgreementScheme("1.3.132.1.11.1", "dhSinglePass-stdDH-sha256kdf-scheme", "sha256", False),
        KeyAgreementScheme("1.3.132.1.11.2", "dhSinglePass-stdDH-sha384kdf-scheme", "sha384", False),
        KeyAgreementScheme("1.3.132.1.11.3", "dhSinglePass-stdDH-sha512kdf-scheme", "sha512", False),
        KeyAgreementScheme("1.3.133.16.840.63.0.3", "dhSinglePass-cofactorDH-sha1kdf-scheme", "sha1", True),
        KeyAgreementScheme("1.3.132.1.14.0", "dhSinglePass-cofactorDH-sha224kdf-scheme", "sha224", True),
        KeyAgreementScheme("1.3.132.1.14.1", "dhSinglePass-cofactorDH-sha256kdf-scheme", "sha256", True),
        KeyAgreementScheme("1.3.132.1.14.2", "dhSinglePass-cofactorDH-sha384kdf-scheme", "sha384", True),
        KeyAgreementScheme("1.3.132.1.14.3", "dhSinglePass-cofactorDH-sha512kdf-scheme", "sha512", True),
    )
}
NAMES.update({oid: scheme.name for oid, scheme in KEY_AGREEMENT_SCHEMES.items()})

#: AES key wrap (RFC 3394) algorithms and their key-encryption-key lengths.
KEY_WRAPS = {AES128_WRAP: 16, AES192_WRAP: 24, AES256_WRAP: 32}


@dataclass(frozen=True)
class Curve:
    """An elliptic curve bidcrypt encrypts to, with the scheme it uses for it."""

    oid: str
    name: str
    curve: type[ec.EllipticCurve]
    #: The scheme bidcrypt writes: the KDF hash matches the curve's strength.
    scheme_oid: str


CURVES = {
    curve.oid: curve
    for curve in (
        Curve(SECP256R1, "P-256", ec.SECP256R1, "1.3.132.1.11.1"),
        Curve(SECP384R1, "P-384", ec.SECP384R1, "1.3.132.1.11.2"),
    )
}


def curve_of(public_key: ec.EllipticCurvePublicKey) -> Curve | None:
    """The supported curve of *public_key*, or None."""
    for curve in CURVES.values():
        if isinstance(public_key.curve, curve.curve):
            return curve
    return None


def key_wrap_for(key_size: int) -> str:
    """The AES key wrap whose key is as long as the content key (as OpenSSL chooses)."""
    for oid, size in KEY_WRAPS.items():
        if size == key_size:
            return oid
    raise ValueError(f"no AES key wrap for a {key_size}-byte key")


def ecc_cms_shared_info(key_wrap: bytes, ukm: bytes | None, kek_length: int) -> bytes:
    """The DER ECC-CMS-SharedInfo fed to the X9.63 KDF (RFC 5753 section 7.2)."""
    return der.sequence(
        key_wrap,
        der.context(0, der.octet_string(ukm)) if ukm is not None else b"",
        der.context(2, der.octet_string((kek_length * 8).to_bytes(4, "big"))),
    )
