"""The algorithms of an envelope: content ciphers, RSA key transport, ECDH key agreement.

Object identifiers and their parameters are encoded and parsed here, and
nowhere else; an envelope naming anything not in these tables is refused
with :class:`~bidcrypt.errors.UnsupportedAlgorithmError`. The tables are
the place where SM2/SM4 (GM/T 0010) join later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from asn1crypto import algos, cms, core
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from bidcrypt.envelope import _asn1
from bidcrypt.envelope import _ber as ber
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import rsa_padding

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
        supported = ", ".join(cipher.value for cipher in cls)
        raise UnsupportedAlgorithmError(
            Text("supported: {supported}", "支持：{supported}", supported=supported),
            algorithm=name_of(oid),
        )


_CIPHER_OIDS = {
    ContentCipher.AES_128_CBC: "2.16.840.1.101.3.4.1.2",
    ContentCipher.AES_192_CBC: "2.16.840.1.101.3.4.1.22",
    ContentCipher.AES_256_CBC: "2.16.840.1.101.3.4.1.42",
    ContentCipher.AES_128_GCM: "2.16.840.1.101.3.4.1.6",
    ContentCipher.AES_192_GCM: "2.16.840.1.101.3.4.1.26",
    ContentCipher.AES_256_GCM: "2.16.840.1.101.3.4.1.46",
}
NAMES.update({oid: cipher.value for cipher, oid in _CIPHER_OIDS.items()})


def misplaced(cipher: ContentCipher) -> str:
    """Why *cipher* is refused in the other content type than its own (RFC 5083, RFC 5084)."""
    if cipher.is_aead:
        return pick(
            "RFC 5084 puts AES-GCM in AuthEnvelopedData (RFC 5083): EnvelopedData has no place for its tag",
            "RFC 5084 规定 AES-GCM 只能用于 AuthEnvelopedData（RFC 5083）：EnvelopedData 中没有认证标签",
        )
    return pick(
        "AuthEnvelopedData needs an authenticated cipher (AES-GCM, RFC 5083); AES-CBC goes in EnvelopedData",
        "AuthEnvelopedData 需要认证加密算法（AES-GCM，RFC 5083）；AES-CBC 只能用于 EnvelopedData",
    )


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
        """The DER ContentEncryptionAlgorithmIdentifier."""
        parameters: core.Asn1Value
        if self.cipher.is_aead:
            parameters = _asn1.GcmParameters({"aes_nonce": self.iv, "aes_icvlen": self.tag_length})
        else:
            parameters = core.OctetString(self.iv)
        value = algos.EncryptionAlgorithm({"algorithm": self.cipher.oid, "parameters": parameters})
        return bytes(value.dump())

    @classmethod
    def parse(cls, encoded: bytes) -> CipherParameters:
        """Decode a ContentEncryptionAlgorithmIdentifier (DER or BER)."""
        what = "content encryption algorithm"
        value = _asn1.load(algos.EncryptionAlgorithm, encoded, what)
        cipher = ContentCipher.from_oid(value["algorithm"].dotted)
        parameters = value["parameters"]
        if isinstance(parameters, core.Void):
            raise ber.malformed(Text("missing {value} parameters", "缺少 {value} 参数", value=cipher.value))
        if cipher.is_aead:
            gcm = _asn1.load(_asn1.GcmParameters, parameters.dump(), "GCM parameters")
            nonce, tag_length = bytes(gcm["aes_nonce"].native), int(gcm["aes_icvlen"].native)
            if len(nonce) not in GCM_NONCE_RANGE or tag_length not in GCM_TAG_LENGTHS:
                raise ber.malformed(Text("bad GCM nonce or tag length", "GCM 随机数或标签长度错误"))
            return cls(cipher, nonce, tag_length)
        with _asn1.parsing("CBC IV"):
            iv = bytes(core.OctetString.load(parameters.dump(), strict=True).native)
        if len(iv) != CBC_IV_LENGTH:
            raise ber.malformed(Text("bad CBC IV length", "CBC 初始向量长度错误"))
        return cls(cipher, iv)

    def describe(self) -> str:
        """``aes-256-gcm (nonce 12 bytes, tag 16 bytes)``-style text."""
        if self.cipher.is_aead:
            return f"{self.cipher.value} (nonce {len(self.iv)} bytes, tag {self.tag_length} bytes)"
        return self.cipher.value


# --- RSA key transport (RFC 8017, RFC 4055) ------------------------------------------------


class KeyTransport(Enum):
    """How an RSA recipient's content-encryption key is wrapped.

    The transports bidcrypt offers come first, strongest first; then
    OAEP-SHA512, which it opens (PKI.js writes it by default, RFC 8017 allows
    it) but never offers: see :attr:`offered`.
    """

    OAEP_SHA256 = "oaep"
    OAEP_SHA1 = "oaep-sha1"
    PKCS1V15 = "pkcs1v15"
    OAEP_SHA512 = "oaep-sha512"

    @property
    def offered(self) -> bool:
        """True for the transports bidcrypt chooses from (options, trials of a key); False for OAEP-SHA512."""
        return self is not KeyTransport.OAEP_SHA512

    @property
    def scheme(self) -> str:
        """The key sources' name of the RSA decryption scheme (see :data:`bidcrypt.keys.RSA_SCHEMES`)."""
        return _SCHEMES[self]

    @classmethod
    def of_scheme(cls, scheme: str) -> KeyTransport | None:
        """The key transport of a key source's RSA decryption scheme, or None."""
        for transport, known in _SCHEMES.items():
            if known == scheme:
                return transport
        return None

    def padding(self) -> padding.AsymmetricPadding:
        """The matching padding object of ``cryptography``."""
        return rsa_padding(self.scheme)


_SCHEMES = {
    KeyTransport.OAEP_SHA256: "oaep-sha256",
    KeyTransport.OAEP_SHA1: "oaep-sha1",
    KeyTransport.PKCS1V15: "pkcs1v15",
    KeyTransport.OAEP_SHA512: "oaep-sha512",
}


def describe_key_transport(transport: KeyTransport) -> str:
    """``RSAES-OAEP (SHA-256)``-style name."""
    return {
        KeyTransport.OAEP_SHA256: "RSAES-OAEP (SHA-256)",
        KeyTransport.OAEP_SHA1: "RSAES-OAEP (SHA-1)",
        KeyTransport.OAEP_SHA512: "RSAES-OAEP (SHA-512)",
        KeyTransport.OAEP_SHA512: "RSAES-OAEP (SHA-512)",
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


def key_wrap_algorithm(oid: str) -> bytes:
    """The DER AlgorithmIdentifier of an AES key wrap (parameters absent, RFC 3565 section 2.3.2)."""
    return bytes(cms.KeyEncryptionAlgorithm({"algorithm": oid}).dump())


def ecc_cms_shared_info(key_wrap: bytes, ukm: bytes | None, kek_length: int) -> bytes:
    """The DER ECC-CMS-SharedInfo fed to the X9.63 KDF (RFC 5753 section 7.2)."""
    value = _asn1.EccCmsSharedInfo(
        {
            "key_info": cms.KeyEncryptionAlgorithm.load(key_wrap),
            "entity_u_info": ukm,
            "supp_pub_info": (kek_length * 8).to_bytes(4, "big"),
        }
    )
    return bytes(value.dump())
