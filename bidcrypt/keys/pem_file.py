"""A PEM key file as a key source: a private key and its certificate, RSA, EC or SM2.

The convention (see the README, "Key references"):

- The KEYREF is the PEM file holding the private key (any form
  :mod:`bidcrypt.keys.pem_keys` reads: PKCS#8 plain or encrypted, GmSSL's
  encrypted form, SEC 1, PKCS#1). The password of an encrypted key comes from
  the PIN source (``BIDCRYPT_PIN`` or the prompt), never from the command line.
- Its certificate is in the same file, optionally followed by chain
  certificates (``cat key.pem cert.pem chain.pem > bidder.pem``). The
  certificate whose public key is the key's is the entry's; the others are
  kept as :attr:`PemSource.chain`.
- A file holding only the key takes its certificates from the file beside
  it: for ``NAME.key.pem`` (or ``NAME.anything.pem``), ``NAME.pem``,
  ``NAME.crt`` or ``NAME.cer``, the first that exists; for ``key.pem``,
  ``cert.pem``. This is how ``openssl genpkey`` / ``openssl req`` leave a key
  and its certificate, and how GmSSL's ``*.gmssl.key.pem`` sit beside theirs.

A key that matches none of the certificates is refused
(:class:`~bidcrypt.errors.KeyCertificateMismatchError`), a wrong password is
:class:`~bidcrypt.errors.PinIncorrectError`, anything unreadable an
:class:`~bidcrypt.errors.InputError`.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bidcrypt import certs, gm
from bidcrypt.errors import (
    InputError,
    KeyCertificateMismatchError,
    KeyNotFoundError,
    PinIncorrectError,
)
from bidcrypt.files import InputKind, PathArg, as_path, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys.base import KeyEntry, KeySource
from bidcrypt.keys.pem_keys import KeyFormatError, KeyPasswordError, PemBlock, load_private_key, pem_blocks
from bidcrypt.keys.pin import PinSource
from bidcrypt.keys.software import SoftwareEntry, SoftwareKey

#: Key files (PKCS#12 or PEM) are small; a larger file is no key file.
KEY_FILE = InputKind("a key file", "密钥文件", 1 << 20)
#: The certificate files looked for beside a PEM file holding only a key, by suffix.
CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer")


class PemSource(KeySource):
    """The private key of a PEM file and its certificate (in the file, or beside it)."""

    def __init__(self, path: PathArg, pin_source: PinSource | None = None, data: bytes | None = None) -> None:
        """*data* is the file's contents when the caller has read them already."""
        self.path = as_path(path)
        self.description = self.path.name
        self.pin_source = pin_source or PinSource()
        self._data = read_input(self.path, KEY_FILE) if data is None else data
        self._entries: list[KeyEntry] | None = None
        #: The certificates of the file (or its neighbour) other than the entry's: the chain.
        self.chain: list[x509.Certificate] = []

    def entries(self) -> list[KeyEntry]:
        """The key with its certificate (the password, when the key is encrypted, is asked for once)."""
        if self._entries is None:
            blocks = self._blocks()
            keys = [block for block in blocks if block.is_private_key]
            if not keys:
                only_certificates = any(block.label == "CERTIFICATE" for block in blocks)
                raise KeyNotFoundError(
                    Text(
                        "the file holds certificates only: name the file of the private key",
                        "该文件只有证书：请指定私钥文件",
                    )
                    if only_certificates
                    else None,
                    what=Text("private key", "私钥"),
                    ref=self.description,
                )
            if len(keys) > 1:
                raise self._refusal(Text("it holds more than one private key", "其中有多个私钥"))
            certificates = self._certificates(
                blocks
            )  # before the password is asked: a missing one is cheaper
            key = self._key(keys[0])
            mine = [c for c in certificates if _public_key_matches(key, c)]
            if not mine:
                raise KeyCertificateMismatchError(subject=certs.display_name(certificates[0]))
            self.chain = [c for c in certificates if c is not mine[0]]
            self._entries = [SoftwareEntry(self._label(), mine[0], key, self.description)]
        return list(self._entries)

    def _blocks(self) -> list[PemBlock]:
        try:
            return pem_blocks(self._data)
        except KeyFormatError as exc:
            raise self._refusal(
                Text("not a PEM key file ({reason})", "不是 PEM 密钥文件（{reason}）", reason=str(exc))
            ) from exc

    def _key(self, block: PemBlock) -> SoftwareKey:
        password = self.pin_source.obtain(self.description).value.encode() if block.encrypted else None
        try:
            return load_private_key(block, password)
        except KeyPasswordError as exc:
            raise PinIncorrectError(source=self.description) from exc
        except KeyFormatError as exc:
            reason = str(exc)
            raise self._refusal(
                Text("its key cannot be read: {reason}", "其私钥无法读取：{reason}", reason=reason)
            ) from exc

    def _certificates(self, blocks: list[PemBlock]) -> list[x509.Certificate]:
        """The certificates of the file, else those of the certificate file beside it."""
        found = [block for block in blocks if block.label in ("CERTIFICATE", "X509 CERTIFICATE")]
        if found:
            try:
                return [certs.from_der(block.der) for block in found]
            except certs.UNREADABLE as exc:
                raise self._refusal(Text("a certificate in it cannot be read", "其中的证书无法读取")) from exc
        for candidate in certificate_files(self.path):
            if candidate.exists() or candidate.is_symlink():
                return certs.load_certificates(candidate)
        raise KeyNotFoundError(
            what=Text("certificate (in the file or beside it)", "证书（文件中或同目录下）"),
            ref=self.description,
        )

    def _label(self) -> str:
        return self.path.name.split(".", 1)[0] or self.path.stem

    def _refusal(self, detail: Text) -> InputError:
        return InputError(detail, path=self.path)


def certificate_files(key_file: Path) -> list[Path]:
    """Where the certificate of a PEM file holding only a key is looked for, in order."""
    base = key_file.name.split(".", 1)[0]
    names = [base + suffix for suffix in CERTIFICATE_SUFFIXES] if base else []
    if base == "key":
        names.insert(0, "cert.pem")
    return [key_file.with_name(name) for name in names if name != key_file.name]


def _public_key_matches(key: SoftwareKey, certificate: x509.Certificate) -> bool:
    """True when *certificate* certifies the public key of *key*."""
    if isinstance(key, gm.Sm2PrivateKey):
        return certs.public_key(certificate) == key.public_key()
    own = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return certs.public_key_der(certificate) == own


__all__ = ["CERTIFICATE_SUFFIXES", "KEY_FILE", "PemSource", "certificate_files"]
