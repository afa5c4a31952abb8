"""A PKCS#12 file (.p12 / .pfx) as a key source: the software key of demos and opening authorities."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs12

from bidcrypt import certs, gm
from bidcrypt.errors import InputError, KeyCertificateMismatchError, KeyNotFoundError, PinIncorrectError
from bidcrypt.files import PKCS12, PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys.base import KeyEntry, KeySource
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.software import SoftwareEntry

#: Larger PKCS#12 files are not key stores; refuse before reading them into memory.
MAX_PKCS12_SIZE = PKCS12.max_size


class Pkcs12Source(KeySource):
    """The key and certificate of one PKCS#12 file, decrypted with a password on first use."""

    def __init__(self, path: PathArg, pin_source: PinSource | None = None, data: bytes | None = None) -> None:
        """*data* is the file's contents when the caller has read them already."""
        self.path = as_path(path)
        self.description = self.path.name
        self.pin_source = pin_source or PinSource()
        self._data = read_input(self.path, PKCS12) if data is None else data
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
            try:
                certs.fully_parsed(loaded.cert.certificate)
            except certs.UNREADABLE as exc:
                raise InputError(
                    Text("its certificate cannot be read", "其证书无法读取"), path=self.path
                ) from exc
            key = loaded.key
            if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise KeyNotFoundError(
                    what=Text("RSA or EC private key", "RSA 或 EC 私钥"), ref=self.description
                )
            if certs.public_key_der(loaded.cert.certificate) != _public_key_der(key):
                raise KeyCertificateMismatchError(subject=certs.display_name(loaded.cert.certificate))
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
        try:
            certificate = certs.from_der(loaded.certificate)
        except certs.UNREADABLE as exc:
            raise InputError(
                Text("its certificate cannot be read", "其证书无法读取"), path=self.path
            ) from exc
        if certs.public_key(certificate) != loaded.key.public_key():
            raise KeyCertificateMismatchError(subject=certs.display_name(certificate))
        return SoftwareEntry(self.path.stem, certificate, loaded.key, self.description)


def _public_key_der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE whose first element is INTEGER 3 (the PFX version)."""
    return len(data) > 8 and data[0] == 0x30 and b"\x02\x01\x03" in data[:8]


__all__ = ["MAX_PKCS12_SIZE", "Pkcs12Source", "SoftwareEntry"]
