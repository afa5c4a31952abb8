"""A certificate on a PKCS#11 token and its private key: the token's decryption, key agreement and signing.

The operations run through the :class:`~bidcrypt.keys.pkcs11_token.Pkcs11Source`
that found the entry: under its session lock, with its one login, its error
translation and, for keys that ask for the PIN before each use, its
context-specific login. A key the token does not allow to decrypt, agree or
sign (its ``CKA_DECRYPT`` / ``CKA_DERIVE`` / ``CKA_SIGN`` is false) is
refused with that reason. Digests are computed in software and the token
signs with the plain ``CKM_RSA_PKCS`` / ``CKM_ECDSA`` mechanisms most UKeys
support.

PKCS#11 has no SM2 mechanism, and neither has SoftHSM2: an entry whose
certificate holds an SM2 key refuses SM2 signing and decryption with
:class:`~bidcrypt.errors.MechanismUnsupportedError`, before it touches the
token (Chinese UKeys do SM2 through their SKF interface instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import KDF, MGF, Attribute, KeyType, Mechanism
from pkcs11.util.ec import encode_ecdsa_signature

from bidcrypt import certs
from bidcrypt.errors import MechanismUnsupportedError
from bidcrypt.i18n import Text
from bidcrypt.keys import pkcs11_login as login
from bidcrypt.keys.base import PKCS1V15, KeyEntry
from bidcrypt.keys.schemes import HASHES

if TYPE_CHECKING:
    from bidcrypt.keys.pkcs11_token import Pkcs11Source

_DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_OAEP_PARAMETERS = {
    "oaep-sha1": (Mechanism.SHA_1, MGF.SHA1, None),
    "oaep-sha256": (Mechanism.SHA256, MGF.SHA256, None),
    "oaep-sha512": (Mechanism.SHA512, MGF.SHA512, None),
}


class Pkcs11Entry(KeyEntry):
    """A certificate on a token and, once looked up, its private key."""

    def __init__(
        self, source: Pkcs11Source, label: str, key_id: bytes, certificate: x509.Certificate
    ) -> None:
        super().__init__(label, key_id, certificate, source.description)
        self._token = source
        self._key: Any = None
        self._looked_up = False
        self._always_authenticate: bool | None = None

    def _private_key(self) -> Any:
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        self._require_private_key()
        return self._key

    def _key_for(self, method: str, attribute: str, what_en: str, what_zh: str) -> Any:
        """The private key, when the token lets it do *method*; else say which attribute forbids it."""
        key = self._private_key()
        if not hasattr(key, method):  # python-pkcs11 gives a key only the operations its attributes allow
            raise MechanismUnsupportedError(
                Text(
                    "the key {label} on the token does not allow {what_en} ({attribute} is not set)",
                    "U-KEY 上的密钥 {label2} 不允许{what_zh}（未设置 {attribute}）",
                    label=repr(self.label),
                    what_en=what_en,
                    attribute=attribute,
                    label2=self.label,
                    what_zh=what_zh,
                ),
                source=self.source,
                operation=Text(what_en, what_zh),
            )
        return key

    def _refuse_sm2(self, operation: str) -> None:
        """Refuse *operation* on an SM2 key: the token's PKCS#11 module has no SM2 mechanism."""
        if certs.is_sm2(self.certificate):
            raise MechanismUnsupportedError(
                Text(
                    "the certificate {label} holds an SM2 key, and PKCS#11 (this token's module, "
                    "SoftHSM2 alike) has no SM2 mechanism",
                    "证书 {label} 的密钥为 SM2，而 PKCS#11（此 U-KEY 的驱动模块，SoftHSM2 亦然）"
                    "不支持 SM2 算法",
                    label=self.label,
                ),
                source=self.source,
                operation=operation,
            )

    def _operation_pin(self, key: Any) -> dict[str, str]:
        """``{"pin": PIN}`` for a key that needs a context-specific login before each use, else ``{}``."""
        if self._always_authenticate is None:
            self._always_authenticate = self._token.run(lambda: login.always_authenticate(key))
        return {"pin": self._token.context_pin()} if self._always_authenticate else {}

    @property
    def has_private_key(self) -> bool:
        """True when the token holds the private key (logs in to find out)."""
        if not self._looked_up:
            self._key = self._token.private_key(self)
            self._looked_up = True
        return self._key is not None

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Unwrap with ``CKM_RSA_PKCS`` or ``CKM_RSA_PKCS_OAEP`` on the token."""
        self._refuse_sm2(f"RSA decryption ({scheme})")
        key = self._key_for("decrypt", "CKA_DECRYPT", "decryption", "解密")
        pin = self._operation_pin(key)
        if scheme == PKCS1V15:
            return bytes(
                self._token.unwrap(lambda: key.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS, **pin))
            )
        parameters = _OAEP_PARAMETERS.get(scheme)
        if parameters is None:
            raise MechanismUnsupportedError(source=self.source, operation=f"RSA decryption ({scheme})")
        return bytes(
            self._token.unwrap(
                lambda: key.decrypt(
                    ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=parameters, **pin
                )
            )
        )

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """Derive the raw shared secret with ``CKM_ECDH1_DERIVE`` (no KDF) and read it out.

        No context-specific login: ``CKA_ALWAYS_AUTHENTICATE`` concerns signing and decryption.
        """
        self._refuse_sm2("ECDH")
        key = self._key_for("derive_key", "CKA_DERIVE", "key agreement", "密钥协商")
        point = peer.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        size = (peer.curve.key_size + 7) // 8

        def derive() -> bytes:
            secret = key.derive_key(
                KeyType.GENERIC_SECRET,
                size * 8,
                mechanism=Mechanism.ECDH1_DERIVE,
                mechanism_param=(KDF.NULL, None, point),
                template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.TOKEN: False},
            )
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()

        return self._token.unwrap(derive)

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """Hash in software, sign the digest on the token (RSA or ECDSA; SM2 is refused)."""
        self._refuse_sm2("SM2 with SM3" if hash_name == "sm3" else f"signature with {hash_name}")
        if hash_name not in HASHES or hash_name == "sm3":
            raise MechanismUnsupportedError(source=self.source, operation=f"signature with {hash_name}")
        key = self._key_for("sign", "CKA_SIGN", "signing", "签名")
        pin = self._operation_pin(key)
        digest = hashes.Hash(HASHES[hash_name]())
        digest.update(data)
        value = digest.finalize()
        public_key = certs.public_key(self.certificate)
        if isinstance(public_key, rsa.RSAPublicKey):
            to_sign = _DIGEST_INFO_PREFIX[hash_name] + value
            return bytes(self._token.run(lambda: key.sign(to_sign, mechanism=Mechanism.RSA_PKCS, **pin)))
        raw = bytes(self._token.run(lambda: key.sign(value, mechanism=Mechanism.ECDSA, **pin)))
        return bytes(encode_ecdsa_signature(raw))

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Refused: PKCS#11 has no SM2 decryption (see the module's docstring)."""
        self._refuse_sm2("SM2 decryption")
        raise MechanismUnsupportedError(source=self.source, operation="SM2 decryption")

    def sm2_sign_digest(self, digest: bytes) -> bytes:
        """Refused: PKCS#11 has no SM2 signature (see the module's docstring)."""
        self._refuse_sm2("SM2 signature")
        raise MechanismUnsupportedError(source=self.source, operation="SM2 signature")

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """From the slot's mechanism list: OAEP (both hashes) and/or PKCS#1 v1.5."""
        if not isinstance(certs.public_key(self.certificate), rsa.RSAPublicKey):
            return ()
        mechanisms = self._token.mechanisms()
        claimed: list[str] = []
        if Mechanism.RSA_PKCS_OAEP in mechanisms:
            claimed += ["oaep-sha256", "oaep-sha1"]
        if Mechanism.RSA_PKCS in mechanisms:
            claimed.append(PKCS1V15)
        return tuple(claimed)


__all__ = ["Pkcs11Entry"]
