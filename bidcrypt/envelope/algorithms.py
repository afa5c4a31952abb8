"""The algorithms of an envelope: content ciphers, RSA key transport, ECDH key agreement.

Object identifiers and their parameters are encoded and parsed here, and
nowhere else; an envelope naming anything not in these tables is refused
with :class:`~bidcrypt.errors.UnsupportedAlgorithmError`. SM4-CBC is the
content cipher of the GM/T 0010 (GB/T 35275) suite; SM2 key transport is in
:mod:`~bidcrypt.envelope.sm2_transport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from asn1crypto import algos, core
from cryptography.hazmat.primitives.asymmetric import padding

from bidcrypt.envelope import _asn1, _der
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope.ecdh_algorithms import AES128_WRAP as AES128_WRAP
from bidcrypt.envelope.ecdh_algorithms import AES192_WRAP as AES192_WRAP
from bidcrypt.envelope.ecdh_algorithms import AES256_WRAP as AES256_WRAP
from bidcrypt.envelope.ecdh_algorithms import CURVES as CURVES
from bidcrypt.envelope.ecdh_algorithms import KEY_AGREEMENT_SCHEMES as KEY_AGREEMENT_SCHEMES
from bidcrypt.envelope.ecdh_algorithms import KEY_WRAPS as KEY_WRAPS
from bidcrypt.envelope.ecdh_algorithms import SECP256R1 as SECP256R1
from bidcrypt.envelope.ecdh_algorithms import SECP384R1 as SECP384R1
from bidcrypt.envelope.ecdh_algorithms import Curve as Curve
from bidcrypt.envelope.ecdh_algorithms import KeyAgreementScheme as KeyAgreementScheme
from bidcrypt.envelope.ecdh_algorithms import curve_of as curve_of
from bidcrypt.envelope.ecdh_algorithms import ecc_cms_shared_info as ecc_cms_shared_info
from bidcrypt.envelope.ecdh_algorithms import key_wrap_algorithm as key_wrap_algorithm
from bidcrypt.envelope.ecdh_algorithms import key_wrap_for as key_wrap_for
from bidcrypt.errors import UnsupportedAlgorithmError
from bidcrypt.gm import oids as gm_oids
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

#: GM/T 0010 content types: envelopedData and data (besides PKCS#7's).
GM_ENVELOPED_DATA = gm_oids.GM_ENVELOPED_DATA
GM_DATA = gm_oids.GM_DATA
#: The EnvelopedData version GM/T 0010 writes (GmSSL refuses any other).
GM_ENVELOPED_DATA_VERSION = 1

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
    gm_oids.SM4: "sm4",
    gm_oids.SM4_ECB: "sm4-ecb",
    gm_oids.SM4_GCM: "sm4-gcm",
    gm_oids.SM2_CURVE: "sm2",
    GM_ENVELOPED_DATA: "envelopedData (GM/T 0010)",
    GM_DATA: "data (GM/T 0010)",
    gm_oids.SM2_ENCRYPT_GMSSL: "sm2encrypt (1.2.156.10197.1.301.2)",
    gm_oids.SM2_ENCRYPT: "sm2encrypt (1.2.156.10197.1.301.3)",
}


def is_enveloped_data(content_type: str) -> bool:
    """True for EnvelopedData under PKCS#7's OID or GM/T 0010's."""
    return content_type in (ENVELOPED_DATA, GM_ENVELOPED_DATA)


def is_data(content_type: str) -> bool:
    """True for id-data under PKCS#7's OID or GM/T 0010's."""
    return content_type in (DATA, GM_DATA)


def name_of(oid: str) -> str:
    """The readable name of *oid*, or the dotted form."""
    return NAMES.get(oid, oid)


# --- content encryption -----------------------------------------------------------------


class ContentCipher(Enum):
    """How the content is encrypted. GCM goes in AuthEnvelopedData, CBC in EnvelopedData.

    SM4-CBC makes the GM/T 0010 (GB/T 35275) EnvelopedData: its own content
    types, version 1, SM2 recipients.
    """

    AES_256_GCM = "aes-256-gcm"
    AES_192_GCM = "aes-192-gcm"
    AES_128_GCM = "aes-128-gcm"
    AES_256_CBC = "aes-256-cbc"
    AES_192_CBC = "aes-192-cbc"
    AES_128_CBC = "aes-128-cbc"
    SM4_CBC = "sm4-cbc"

    @property
    def oid(self) -> str:
        """The algorithm's object identifier (RFC 3565, RFC 5084, GM/T 0006)."""
        return _CIPHER_OIDS[self]

    @property
    def key_size(self) -> int:
        """Content-encryption key length in bytes."""
        if self.is_gm:
            return 16
        return int(self.value.split("-")[1]) // 8

    @property
    def is_gm(self) -> bool:
        """True for SM4: the content cipher of the GM/T 0010 suite."""
        return self is ContentCipher.SM4_CBC

    @property
    def is_aead(self) -> bool:
        """True for AES-GCM: authenticated, carried in AuthEnvelopedData."""
        return self.value.endswith("gcm")

    @property
    def content_type(self) -> str:
        """The CMS content type that carries this cipher (GM/T 0010's envelopedData for SM4)."""
        if self.is_gm:
            return GM_ENVELOPED_DATA
        return AUTH_ENVELOPED_DATA if self.is_aead else ENVELOPED_DATA

    @property
    def data_type(self) -> str:
        """The id-data OID written for the encrypted content by default (GM/T 0010's for SM4)."""
        return GM_DATA if self.is_gm else DATA

    @classmethod
    def from_oid(cls, oid: str) -> ContentCipher:
        """The cipher of *oid*, or :class:`UnsupportedAlgorithmError`.

        The bare SM4 OID (``1.2.156.10197.1.104``, as CFCA writes it) reads as SM4-CBC.
        """
        if oid == gm_oids.SM4:
            return cls.SM4_CBC
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
    ContentCipher.SM4_CBC: gm_oids.SM4_CBC,
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
        "AuthEnvelopedData needs an authenticated cipher (AES-GCM, RFC 5083); CBC goes in EnvelopedData",
        "AuthEnvelopedData 需要认证加密算法（AES-GCM，RFC 5083）；CBC 只能用于 EnvelopedData",
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
        KeyTransport.PKCS1V15: "RSAES-PKCS1-v1_5",
    }[transport]


# --- SM2 key transport (GM/T 0010): the names of its algorithm ----------------------------


class Sm2KeyEncryption(Enum):
    """How the SM2 key-encryption algorithm is named in a RecipientInfo."""

    #: ``1.2.156.10197.1.301.2``, parameters absent: what GmSSL 3 writes and the only form it opens.
    GMSSL = "301.2"
    #: ``1.2.156.10197.1.301.3`` (GB/T 35275's sm2encrypt), parameters absent.
    GBT35275 = "301.3"
    #: ``1.2.156.10197.1.301.3`` with NULL parameters (emmansun/gmsm).
    GBT35275_NULL = "301.3-null"
    #: ``1.2.156.10197.1.301.2`` with NULL parameters: read, never written (GmSSL refuses it).
    GMSSL_NULL = "301.2-null"

    @property
    def oid(self) -> str:
        """The algorithm's OID."""
        return gm_oids.SM2_ENCRYPT_GMSSL if self.value.startswith("301.2") else gm_oids.SM2_ENCRYPT

    @property
    def null_parameters(self) -> bool:
        """True when the parameters are an explicit NULL."""
        return self.value.endswith("-null")

    @property
    def offered(self) -> bool:
        """True for the forms bidcrypt writes on request."""
        return self is not Sm2KeyEncryption.GMSSL_NULL

    def encode(self) -> bytes:
        """The DER KeyEncryptionAlgorithmIdentifier."""
        return _der.algorithm(self.oid, _der.null() if self.null_parameters else None)

    def describe(self) -> str:
        """``SM2 encryption (1.2.156.10197.1.301.2)``-style name."""
        return f"SM2 encryption ({self.oid}{', NULL parameters' if self.null_parameters else ''})"


# --- ECDH key agreement (RFC 5753): in ecdh_algorithms, imported above ------------------------

NAMES.update({oid: scheme.name for oid, scheme in KEY_AGREEMENT_SCHEMES.items()})
