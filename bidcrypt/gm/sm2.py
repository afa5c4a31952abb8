"""SM2 keys (GM/T 0003, GB/T 32918): encryption, decryption, signatures and key generation.

Every private-key operation runs in the system libcrypto (see
:mod:`bidcrypt.gm._libcrypto`); this module holds no secret scalar in Python.

- Ciphertexts are the DER ``SM2Cipher`` of GM/T 0009 and GB/T 35276:
  ``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }``
  (C1, C3, C2). Other encodings are converted by :mod:`bidcrypt.gm.ciphertext`.
- Signatures are the DER ``SM2Signature`` ``SEQUENCE { r INTEGER, s INTEGER }``.
  :meth:`Sm2PrivateKey.sign` and :meth:`Sm2PublicKey.verify` are SM2 with SM3
  over Z‖M, Z computed from a distinguishing ID (default ``1234567812345678``);
  the ``*_digest`` forms sign or check a given 32-byte e directly (what GmSSL's
  ``cmssign`` does, and what a UKey does with a hash computed outside it).
"""

from __future__ import annotations

from typing import Any

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from bidcrypt.gm import _libcrypto as _c
from bidcrypt.gm.errors import Sm2DecryptError, Sm2Error, Sm2KeyError
from bidcrypt.gm.oids import SM2_CURVE

#: The distinguishing ID GM/T 0009 sets as the default, which GmSSL, CFCA and the UKeys use.
DEFAULT_ID = b"1234567812345678"

# The curve sm2p256v1 (GM/T 0003.5), for Z.
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
#: The order of the base point.
ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def on_curve(x: int, y: int) -> bool:
    """True when (x, y) is a point of sm2p256v1 (public values only: not constant-time)."""
    return 0 <= x < _P and 0 <= y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def uncompressed(point: bytes) -> bytes:
    """*point* as ``04 ‖ x ‖ y``; a compressed point (``02``/``03 ‖ x``) is decompressed (p ≡ 3 mod 4)."""
    if len(point) != 33 or point[0] not in (2, 3):
        return point
    x = int.from_bytes(point[1:], "big")
    y = pow((x * x * x + _A * x + _B) % _P, (_P + 1) // 4, _P)
    if y & 1 != point[0] & 1:
        y = _P - y
    if not on_curve(x, y):
        raise Sm2KeyError("the compressed SM2 point is not on the curve")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def sm3(data: bytes) -> bytes:
    """The SM3 digest of *data* (GB/T 32905), from ``cryptography``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _check_id(distid: bytes) -> None:
    if not 0 < len(distid) < 8192:
        raise Sm2Error("an SM2 distinguishing ID has 1 to 8191 bytes")


def _new_ctx(pkey: Any) -> Any:
    ctx = _c.lib().EVP_PKEY_CTX_new(pkey, _c.ffi().NULL)
    if ctx == _c.ffi().NULL:
        raise Sm2Error(f"SM2 context: {_c.last_error()}")
    return _c.ffi().gc(ctx, _c.lib().EVP_PKEY_CTX_free)


def _sized_output(operation: Any, ctx: Any, data: bytes, failure: type[Sm2Error], what: str) -> bytes:
    """Run an ``EVP_PKEY_encrypt``-shaped *operation*: ask the size, then fill the buffer."""
    ffi = _c.ffi()
    size = ffi.new("size_t *")
    if operation(ctx, ffi.NULL, size, data, len(data)) != 1:
        raise failure(f"SM2 {what}: {_c.last_error()}")
    out = ffi.new("unsigned char[]", size[0])
    if operation(ctx, out, size, data, len(data)) != 1:
        raise failure(f"SM2 {what}: {_c.last_error()}")
    return bytes(ffi.buffer(out, size[0]))


def _require_sm2(pkey: Any, what: str) -> Any:
    if pkey == _c.ffi().NULL:
        raise Sm2KeyError(f"not an SM2 {what}: {_c.last_error()}")
    if _c.lib().EVP_PKEY_is_a(pkey, b"SM2") != 1:
        _c.clear_errors()
        raise Sm2KeyError(f"not an SM2 {what}: another algorithm or curve")
    return pkey


def _digest_context(pkey: Any, distid: bytes, verify: bool) -> tuple[Any, Any]:
    """An ``EVP_MD_CTX`` set up for SM2 with SM3 and *distid*, and its key context (freed after it)."""
    library, ffi = _c.lib(), _c.ffi()
    _check_id(distid)
    pctx = _new_ctx(pkey)
    if library.EVP_PKEY_CTX_set1_id(pctx, distid, len(distid)) != 1:
        raise Sm2Error(f"SM2 distinguishing ID: {_c.last_error()}")
    mctx = library.EVP_MD_CTX_new()
    if mctx == ffi.NULL:
        raise MemoryError("EVP_MD_CTX_new")
    mctx = ffi.gc(mctx, library.EVP_MD_CTX_free)
    library.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
    init = library.EVP_DigestVerifyInit if verify else library.EVP_DigestSignInit
    if init(mctx, ffi.NULL, library.EVP_sm3(), ffi.NULL, pkey) != 1:
        raise Sm2Error(f"SM2 with SM3: {_c.last_error()}")
    return mctx, pctx


class Sm2PublicKey:
    """An SM2 public key: a point on sm2p256v1."""

    __slots__ = ("_pkey", "point")

    def __init__(self, pkey: Any) -> None:
        """Wrap a loaded OpenSSL key (use the ``from_*`` constructors)."""
        self._pkey = pkey
        info = asn1_keys.PublicKeyInfo.load(_c.i2d(_c.lib().i2d_PUBKEY, pkey))
        #: The uncompressed point, ``04 ‖ x ‖ y`` (65 bytes).
        self.point: bytes = uncompressed(bytes(info["public_key"].native))

    @classmethod
    def from_spki_der(cls, der: bytes) -> Sm2PublicKey:
        """Read a DER SubjectPublicKeyInfo (id-ecPublicKey on the SM2 curve)."""
        library = _c.lib()
        return cls(_require_sm2(_c.d2i(library.d2i_PUBKEY, library.EVP_PKEY_free, der), "public key"))

    @classmethod
    def from_point(cls, point: bytes) -> Sm2PublicKey:
        """The key whose point is *point*: ``04 ‖ x ‖ y``, or compressed (``02``/``03 ‖ x``)."""
        if len(point) not in (33, 65) or point[0] not in ((4,) if len(point) == 65 else (2, 3)):
            raise Sm2KeyError(f"an SM2 point is 65 bytes (04‖x‖y) or 33 (compressed), not {len(point)}")
        info = asn1_keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": ("named", SM2_CURVE)},
                "public_key": uncompressed(point),
            }
        )
        return cls.from_spki_der(info.dump())

    def spki_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo."""
        return _c.i2d(_c.lib().i2d_PUBKEY, self._pkey)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other.point == self.point

    def __hash__(self) -> int:
        return hash(self.point)

    def __repr__(self) -> str:
        return f"<Sm2PublicKey {self.point[1:9].hex()}…>"

    @property
    def key_size(self) -> int:
        """256: the size of the curve, as ``cryptography``'s keys say it."""
        return 256

    def z_value(self, distid: bytes = DEFAULT_ID) -> bytes:
        """Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GM/T 0003.2 §5.5): a signature covers Z ‖ M."""
        _check_id(distid)
        fields = b"".join(value.to_bytes(32, "big") for value in (_A, _B, _GX, _GY))
        return sm3((len(distid) * 8).to_bytes(2, "big") + distid + fields + self.point[1:])

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt *plaintext* (at least one byte) to this key: the DER SM2Cipher."""
        if not plaintext:
            raise Sm2Error("SM2 encrypts at least one byte")
        ctx = _new_ctx(self._pkey)
        if _c.lib().EVP_PKEY_encrypt_init(ctx) != 1:
            raise Sm2Error(f"SM2 encryption: {_c.last_error()}")
        return _sized_output(_c.lib().EVP_PKEY_encrypt, ctx, plaintext, Sm2Error, "encryption")

    def verify(self, signature: bytes, data: bytes, *, distid: bytes = DEFAULT_ID) -> None:
        """Check an SM2-with-SM3 *signature* over *data*; raise ``InvalidSignature`` unless it holds."""
        mctx, pctx = _digest_context(self._pkey, distid, verify=True)
        result = _c.lib().EVP_DigestVerify(mctx, signature, len(signature), data, len(data))
        del mctx, pctx  # the digest context first: it borrows the key context
        if result != 1:
            _c.clear_errors()
            raise InvalidSignature("SM2 signature does not verify")

    def verify_digest(self, signature: bytes, digest: bytes) -> None:
        """Check a raw SM2 *signature* over the 32-byte *digest* e (no Z); ``InvalidSignature`` if not."""
        if len(digest) != 32:
            raise Sm2Error("an SM2 digest e has 32 bytes")
        ctx = _new_ctx(self._pkey)
        library = _c.lib()
        if library.EVP_PKEY_verify_init(ctx) != 1:
            raise Sm2Error(f"SM2 verification: {_c.last_error()}")
        if library.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest)) != 1:
            _c.clear_errors()
            raise InvalidSignature("SM2 signature does not verify")


class Sm2PrivateKey:
    """An SM2 private key, held by libcrypto."""

    __slots__ = ("_pkey", "_public")

    def __init__(self, pkey: Any) -> None:
        """Wrap a loaded OpenSSL key (use the ``generate``/``from_*`` constructors)."""
        self._pkey = pkey
        self._public: Sm2PublicKey | None = None

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A new random key pair (libcrypto's generator)."""
        library, ffi = _c.lib(), _c.ffi()
        ctx = library.EVP_PKEY_CTX_new_from_name(ffi.NULL, b"SM2", ffi.NULL)
        if ctx == ffi.NULL:
            raise Sm2Error(f"SM2 key generation: {_c.last_error()}")
        ctx = ffi.gc(ctx, library.EVP_PKEY_CTX_free)
        out = ffi.new("EVP_PKEY **")
        if library.EVP_PKEY_keygen_init(ctx) != 1 or library.EVP_PKEY_generate(ctx, out) != 1:
            raise Sm2Error(f"SM2 key generation: {_c.last_error()}")
        return cls(ffi.gc(out[0], library.EVP_PKEY_free))

    @classmethod
    def from_pkcs8_der(cls, der: bytes) -> Sm2PrivateKey:
        """Read an unencrypted DER PKCS#8 PrivateKeyInfo (or an ECPrivateKey) on the SM2 curve."""
        library = _c.lib()
        pkey = _c.d2i(library.d2i_AutoPrivateKey, library.EVP_PKEY_free, der)
        return cls(_require_sm2(pkey, "private key"))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> Sm2PrivateKey:
        """Read a PEM private key (PKCS#8, encrypted with *password* or not, or SEC 1)."""
        library, ffi = _c.lib(), _c.ffi()
        bio = library.BIO_new_mem_buf(pem, len(pem))
        if bio == ffi.NULL:
            raise MemoryError("BIO_new_mem_buf")
        bio = ffi.gc(bio, library.BIO_free)
        secret = ffi.new("char[]", password) if password is not None else ffi.new("char[]", b"")
        pkey = library.PEM_read_bio_PrivateKey(bio, ffi.NULL, ffi.NULL, secret)
        if pkey != ffi.NULL:
            pkey = ffi.gc(pkey, library.EVP_PKEY_free)
        return cls(_require_sm2(pkey, "private key"))

    def public_key(self) -> Sm2PublicKey:
        """The public half."""
        if self._public is None:
            self._public = Sm2PublicKey.from_spki_der(_c.i2d(_c.lib().i2d_PUBKEY, self._pkey))
        return self._public

    def pkcs8_der(self) -> bytes:
        """The unencrypted DER PKCS#8 PrivateKeyInfo (for writing a key file; handle with care)."""
        library, ffi = _c.lib(), _c.ffi()
        info = library.EVP_PKEY2PKCS8(self._pkey)
        if info == ffi.NULL:
            raise Sm2Error(f"SM2 key export: {_c.last_error()}")
        info = ffi.gc(info, library.PKCS8_PRIV_KEY_INFO_free)
        return _c.i2d(library.i2d_PKCS8_PRIV_KEY_INFO, info)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt a DER SM2Cipher; :class:`Sm2DecryptError` when it is not for this key or was changed."""
        ctx = _new_ctx(self._pkey)
        if _c.lib().EVP_PKEY_decrypt_init(ctx) != 1:
            raise Sm2Error(f"SM2 decryption: {_c.last_error()}")
        try:
            return _sized_output(_c.lib().EVP_PKEY_decrypt, ctx, ciphertext, Sm2DecryptError, "decryption")
        except Sm2DecryptError:
            raise Sm2DecryptError("the SM2 ciphertext is not for this key, or was changed") from None

    def sign(self, data: bytes, *, distid: bytes = DEFAULT_ID) -> bytes:
        """SM2 with SM3 over Z(*distid*) ‖ *data*: a DER SM2Signature."""
        mctx, pctx = _digest_context(self._pkey, distid, verify=False)
        signature = _sized_output(_c.lib().EVP_DigestSign, mctx, data, Sm2Error, "signature")
        del mctx, pctx
        return signature

    def sign_digest(self, digest: bytes) -> bytes:
        """A raw SM2 signature over the 32-byte *digest* e, as given (no Z is added)."""
        if len(digest) != 32:
            raise Sm2Error("an SM2 digest e has 32 bytes")
        ctx = _new_ctx(self._pkey)
        if _c.lib().EVP_PKEY_sign_init(ctx) != 1:
            raise Sm2Error(f"SM2 signature: {_c.last_error()}")
        return _sized_output(_c.lib().EVP_PKEY_sign, ctx, digest, Sm2Error, "signature")


def is_sm2_public_key_info(info: asn1_keys.PublicKeyInfo) -> bool:
    """True when an asn1crypto PublicKeyInfo is id-ecPublicKey on the SM2 curve (or names id-sm2 itself)."""
    try:
        algorithm = info["algorithm"]
        if algorithm["algorithm"].dotted == SM2_CURVE:
            return True
        parameters = algorithm["parameters"]
        return bool(
            algorithm["algorithm"].native == "ec"
            and parameters.name == "named"
            and parameters.chosen.dotted == SM2_CURVE
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


__all__ = [
    "DEFAULT_ID",
    "ORDER",
    "InvalidSignature",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "is_sm2_public_key_info",
    "on_curve",
    "sm3",
]
