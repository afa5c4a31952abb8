"""A PKCS#12 file (.p12 / .pfx) as a key source: the software key of demos and opening authorities."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12

from bidcrypt import certs, gm
from bidcrypt.errors import (
    InputError,
    KeyNotFoundError,
    MechanismUnsupportedError,
    PinIncorrectError,
    WrongKeyError,
)
from bidcrypt.files import PKCS12, PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys.base import RSA_DECRYPTION_SCHEMES, RSA_SCHEMES, KeyEntry, KeySource, rsa_padding
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.schemes import HASHES

#: Larger PKCS#12 files are not key stores; refuse before reading them into memory.
MAX_PKCS12_SIZE = PKCS12.max_size


class Pkcs12Source(KeySource):
    """The key and certificate of one PKCS#12 file, decrypted with a password on first use."""

    def __init__(self, path: PathArg, pin_source: PinSource | None = None) -> None:
        self.path = as_path(path)
        self.description = self.path.name
        self.pin_source = pin_source or PinSource()
        self._data = read_input(self.path, PKCS12)
        self._entries: list[KeyEntry] | None = None

    def entries(self) -> list[KeyEntry]:
        """The file's certificate with its key (the password is asked for once)."""
        if self._entries is None:
            password = self.pin_source.obtain(self.description).value.encode()
            try:
                loaded = pkcs12.load_pkcs12(self._data, password)
            except UnsupportedAlgorithm:  # an SM2 key: cryptography has no SM2, libcrypto has
                self._entries = [self._sm2_entry(password)]
                return list(self._entries)
            except ValueError as exc:
                if _looks_like_pkcs12(self._data):
                    raise PinIncorrectError(source=self.description) from exc
                raise InputError(Text("not a PKCS#12 file", "不是 PKCS#12 文件"), path=self.path) from exc
            if loaded.cert is None:
                raise KeyNotFoundError(what=Text("certificate", "证书"), ref=self.description)
            key = loaded.key
            if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise KeyNotFoundError(
                    what=Text("RSA or EC private key", "RSA 或 EC 私钥"), ref=self.description
                )
            name = loaded.cert.friendly_name
            label = name.decode("utf-8", errors="replace") if name else self.path.stem
            self._entries = [SoftwareEntry(label, loaded.cert.certificate, key, self.description)]
        return list(self._entries)

    def _sm2_entry(self, password: bytes) -> KeyEntry:
        try:
            loaded = gm.load_pkcs12(self._data, password)
        except gm.Pkcs12Error as exc:
            raise PinIncorrectError(source=self.description) from exc
        except gm.Sm2Error as exc:
            raise InputError(
                Text("its key cannot be read: {reason}", "其私钥无法读取：{reason}", reason=str(exc)),
                path=self.path,
            ) from exc
        if loaded.certificate is None:
            raise KeyNotFoundError(what=Text("certificate", "证书"), ref=self.description)
        if loaded.key is None:
            raise KeyNotFoundError(what=Text("SM2 private key", "SM2 私钥"), ref=self.description)
        certificate = x509.load_der_x509_certificate(loaded.certificate)
        if certs.public_key(certificate) != loaded.key.public_key():
            what = Text("the certificate's private key", "证书对应的私钥")
            raise KeyNotFoundError(what=what, ref=self.description)
        return SoftwareEntry(self.path.stem, certificate, loaded.key, self.description)


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE whose first element is INTEGER 3 (the PFX version)."""
    return len(data) > 8 and data[0] == 0x30 and b"\x02\x01\x03" in data[:8]


class SoftwareEntry(KeyEntry):
    """A certificate with its private key held in memory."""

    def __init__(
        self,
        label: str,
        certificate: x509.Certificate,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | gm.Sm2PrivateKey,
        source: str,
    ) -> None:
        super().__init__(label, b"", certificate, source)
        self._key = key

    @property
    def has_private_key(self) -> bool:
        """Always true: a PKCS#12 entry comes with its key."""
        return True

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """Unwrap with the RSA key in software."""
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="RSA decryption")
        if scheme not in RSA_DECRYPTION_SCHEMES:
            raise MechanismUnsupportedError(source=self.source, operation=f"RSA decryption ({scheme})")
        try:
            return self._key.decrypt(ciphertext, rsa_padding(scheme))
        except ValueError as exc:
            raise WrongKeyError() from exc

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The ECDH shared secret computed in software."""
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="ECDH")
        if peer.curve.name != self._key.curve.name:
            raise WrongKeyError()
        return self._key.exchange(ec.ECDH(), peer)

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """Unwrap with the SM2 key in software (libcrypto)."""
        if not isinstance(self._key, gm.Sm2PrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="SM2 decryption")
        try:
            return self._key.decrypt(ciphertext)
        except gm.Sm2Error as exc:
            raise WrongKeyError() from exc

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """PKCS#1 v1.5 or ECDSA over the *hash_name* digest of *data*; SM2 with SM3 (Z ‖ *data*)."""
        if isinstance(self._key, gm.Sm2PrivateKey):
            if hash_name != "sm3":
                raise MechanismUnsupportedError(source=self.source, operation=f"SM2 with {hash_name}")
            return self._key.sign(data)
        if hash_name not in HASHES or hash_name == "sm3":
            raise MechanismUnsupportedError(source=self.source, operation=f"signature with {hash_name}")
        algorithm = HASHES[hash_name]()
        digest = hashes.Hash(algorithm)
        digest.update(data)
        prehashed = Prehashed(algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(digest.finalize(), padding.PKCS1v15(), prehashed)
        return self._key.sign(digest.finalize(), ec.ECDSA(prehashed))

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """Every scheme: software does them all."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            return RSA_SCHEMES
        return ()
