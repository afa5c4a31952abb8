"""A PKCS#12 file (.p12 / .pfx) as a key source: the software key of demos and opening authorities."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12

from bidcrypt.errors import (
    InputError,
    KeyNotFoundError,
    MechanismUnsupportedError,
    PinIncorrectError,
    WrongKeyError,
)
from bidcrypt.files import PKCS12, PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys.base import KeyEntry, KeySource, KeyTransport
from bidcrypt.keys.pin import PinSource

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
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


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE whose first element is INTEGER 3 (the PFX version)."""
    return len(data) > 8 and data[0] == 0x30 and b"\x02\x01\x03" in data[:8]


class SoftwareEntry(KeyEntry):
    """A certificate with its private key held in memory."""

    def __init__(
        self,
        label: str,
        certificate: x509.Certificate,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        source: str,
    ) -> None:
        super().__init__(label, b"", certificate, source)
        self._key = key

    @property
    def has_private_key(self) -> bool:
        """Always true: a PKCS#12 entry comes with its key."""
        return True

    def rsa_decrypt(self, ciphertext: bytes, transport: KeyTransport) -> bytes:
        """Unwrap with the RSA key in software."""
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="RSA decryption")
        try:
            return self._key.decrypt(ciphertext, transport.padding())
        except ValueError as exc:
            raise WrongKeyError() from exc

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The ECDH shared secret computed in software."""
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise MechanismUnsupportedError(source=self.source, operation="ECDH")
        if peer.curve.name != self._key.curve.name:
            raise WrongKeyError()
        return self._key.exchange(ec.ECDH(), peer)

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """PKCS#1 v1.5 or ECDSA over the *hash_name* digest of *data*."""
        algorithm = _HASHES[hash_name]()
        digest = hashes.Hash(algorithm)
        digest.update(data)
        prehashed = Prehashed(algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(digest.finalize(), padding.PKCS1v15(), prehashed)
        return self._key.sign(digest.finalize(), ec.ECDSA(prehashed))

    def claimed_transports(self) -> tuple[KeyTransport, ...]:
        """Every transport: software does them all."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            return tuple(KeyTransport)
        return ()
