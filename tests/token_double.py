"""A test double of a token that never hands out content keys (an SKF UKey on its standard path).

:class:`ImportOnlyEntry` wraps a software key entry (PKCS#12 or PEM): it
refuses ``rsa_decrypt`` and ``sm2_decrypt`` as such a token does
(``returns_content_keys`` False) and implements ``import_content_key`` in
software: the wrapped key is decrypted (SM2, or RSA PKCS#1 v1.5) and kept
inside a :class:`DoubleContentKey`, whose decryptor checks what a token
would (whole blocks, at most ``max_chunk`` bytes a call, a 16-byte IV, a
key not closed) and counts its calls. :class:`TokenLedger` holds the counts
and the faults to inject (a token error on the n-th import or update).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bidcrypt.errors import BidcryptError, MechanismUnsupportedError, WrongKeyError
from bidcrypt.keys import TOKEN_CIPHERS, KeyEntry, KeySource, TokenContentKey, TokenDecryptor

_KEY_SIZES = {"sm4-cbc": 16, "aes-128-cbc": 16, "aes-192-cbc": 24, "aes-256-cbc": 32}


@dataclass
class TokenLedger:
    """What the double token did, and what it should fail at."""

    max_chunk: int = 4096
    imports: int = 0
    updates: int = 0
    finals: int = 0
    opened: int = 0
    closed: int = 0
    #: Every ``update`` size, in order.
    sizes: list[int] = field(default_factory=list)
    #: Raise this error on the import of this number (1-based), or on the update of that number.
    fail_import: tuple[int, BidcryptError] | None = None
    fail_update: tuple[int, BidcryptError] | None = None

    @property
    def open_keys(self) -> int:
        """Keys imported and not closed."""
        return self.opened - self.closed


class _Decryptor(TokenDecryptor):
    def __init__(self, key: DoubleContentKey, iv: bytes) -> None:
        assert len(iv) == 16, "a CBC IV is one block"
        self._key = key
        self._context = Cipher(_block(key.cipher, key.secret), modes.CBC(iv)).decryptor()
        self._done = False

    def update(self, data: bytes) -> bytes:
        ledger = self._key.ledger
        assert not self._key.closed, "the key was destroyed on the token"
        assert not self._done, "update after finalize"
        assert isinstance(data, bytes), "the binding gives the token bytes"
        assert 0 < len(data) <= self._key.max_chunk, (
            f"{len(data)} bytes in one call (max {self._key.max_chunk})"
        )
        assert len(data) % 16 == 0, "the token decrypts whole blocks only (no padding on the token)"
        ledger.updates += 1
        ledger.sizes.append(len(data))
        if ledger.fail_update is not None and ledger.fail_update[0] == ledger.updates:
            raise ledger.fail_update[1]
        return self._context.update(data)

    def finalize(self) -> bytes:
        assert not self._key.closed
        self._done = True
        self._key.ledger.finals += 1
        return self._context.finalize()


def _block(cipher: str, key: bytes) -> algorithms.AES | algorithms.SM4:
    return algorithms.SM4(key) if cipher == "sm4-cbc" else algorithms.AES(key)


class DoubleContentKey(TokenContentKey):
    """A content key "on the token": kept here, usable only through :meth:`decryptor`."""

    def __init__(self, secret: bytes, cipher: str, ledger: TokenLedger) -> None:
        self.secret = secret
        self.cipher = cipher
        self.max_chunk = ledger.max_chunk
        self.ledger = ledger
        self.closed = False
        ledger.opened += 1

    def decryptor(self, iv: bytes) -> TokenDecryptor:
        assert not self.closed
        return _Decryptor(self, iv)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.ledger.closed += 1


class ImportOnlyEntry(KeyEntry):
    """*inner*'s certificate and key, behind the interface of a token that only imports content keys."""

    returns_content_keys = False

    def __init__(self, inner: KeyEntry, ledger: TokenLedger) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, "double-token")
        self._inner = inner
        self.ledger = ledger

    @property
    def has_private_key(self) -> bool:
        return self._inner.has_private_key

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        raise MechanismUnsupportedError(source=self.source, operation="RSA decryption")

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        raise MechanismUnsupportedError(source=self.source, operation="SM2 decryption")

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        raise MechanismUnsupportedError(source=self.source, operation="ECDH")

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        return self._inner.sign(data, hash_name)

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        return ()

    def import_content_key(self, wrapped: bytes, wrap: str, cipher: str) -> TokenContentKey:
        assert cipher in TOKEN_CIPHERS, cipher
        self.ledger.imports += 1
        if self.ledger.fail_import is not None and self.ledger.fail_import[0] == self.ledger.imports:
            raise self.ledger.fail_import[1]
        if wrap == "sm2":
            assert wrapped[:1] == b"\x30", "an SM2 import takes a DER SM2Cipher"
            secret = self._inner.sm2_decrypt(wrapped)
        elif wrap == "pkcs1v15":
            secret = self._inner.rsa_decrypt(wrapped, "pkcs1v15")
        else:
            raise AssertionError(wrap)
        if len(secret) != _KEY_SIZES[cipher]:  # a token refuses a key of the wrong length
            raise WrongKeyError()
        return DoubleContentKey(secret, cipher, self.ledger)


class ImportOnlySource(KeySource):
    """The entries of *inner*, each behind :class:`ImportOnlyEntry`, sharing one ledger."""

    def __init__(self, inner: KeySource, ledger: TokenLedger | None = None) -> None:
        self.ledger = ledger or TokenLedger()
        self.description = f"double token ({inner.description})"
        self._entries: list[KeyEntry] = [ImportOnlyEntry(e, self.ledger) for e in inner.entries()]

    def entries(self) -> list[KeyEntry]:
        return list(self._entries)
