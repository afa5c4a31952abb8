"""A key entry that counts its private-key operations: the proof of one unwrap per bid.

Every unwrapping operation of :class:`~bidcrypt.keys.KeyEntry` is passed on
and counted: RSA decryption, ECDH, SM2 decryption, and the import of a
content key into a token that decrypts the content itself.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from bidcrypt.keys import KeyEntry, TokenContentKey


class CountingEntry(KeyEntry):
    """*inner*, counting each private-key decryption (RSA, SM2) or key agreement in ``counter[0]``."""

    def __init__(self, inner: KeyEntry, counter: list[int]) -> None:
        super().__init__(inner.label, inner.key_id, inner.certificate, inner.source)
        self._inner = inner
        self._counter = counter

    @property
    def has_private_key(self) -> bool:
        """Whether the inner entry holds its private key."""
        return self._inner.has_private_key

    def rsa_decrypt(self, ciphertext: bytes, scheme: str) -> bytes:
        """The inner entry's RSA decryption, counted."""
        self._counter[0] += 1
        return self._inner.rsa_decrypt(ciphertext, scheme)

    def ecdh(self, peer: ec.EllipticCurvePublicKey) -> bytes:
        """The inner entry's key agreement, counted."""
        self._counter[0] += 1
        return self._inner.ecdh(peer)

    def sm2_decrypt(self, ciphertext: bytes) -> bytes:
        """The inner entry's SM2 decryption, counted."""
        self._counter[0] += 1
        return self._inner.sm2_decrypt(ciphertext)

    @property
    def returns_content_keys(self) -> bool:  # type: ignore[override]
        """Whether the inner entry hands out content keys (else it imports them into its token)."""
        return self._inner.returns_content_keys

    def import_content_key(self, wrapped: bytes, wrap: str, cipher: str) -> TokenContentKey:
        """The inner entry's import of a content key into its token, counted."""
        self._counter[0] += 1
        return self._inner.import_content_key(wrapped, wrap, cipher)

    def sm2_sign_digest(self, digest: bytes) -> bytes:
        """The inner entry's raw SM2 signature (not counted: an opening never signs)."""
        return self._inner.sm2_sign_digest(digest)

    def sign(self, data: bytes, hash_name: str = "sha256") -> bytes:
        """The inner entry's signature (not counted: an opening never signs)."""
        return self._inner.sign(data, hash_name)

    def claimed_rsa_schemes(self) -> tuple[str, ...]:
        """The RSA decryption schemes the inner entry claims."""
        return self._inner.claimed_rsa_schemes()
