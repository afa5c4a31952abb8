"""Signature schemes: what a key source's signature is, for each kind of key, in CMS terms.

A key source signs bytes (:meth:`~bidcrypt.keys.KeyEntry.sign`): PKCS#1 v1.5
with an RSA key, a DER ECDSA-Sig-Value with an EC key. A
:class:`SignatureScheme` says, for one kind of key, how such a signature is
named in CMS (its ``SignatureAlgorithmIdentifier``), how it is checked with
the certificate's public key, and how long it can be (a placeholder while a
PDF signature is sized). Every CMS signature bidcrypt makes or checks goes
through :data:`SCHEMES`, so a new algorithm (SM2 with SM3) is one more
scheme here and its hash in :data:`HASHES`, not another signing path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from asn1crypto import algos
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

#: The hashes a signature may be made with, by their CMS names (see :meth:`KeyEntry.sign`).
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SignatureScheme(ABC):
    """One signature algorithm: its CMS name, its check, its largest size."""

    #: The algorithm's name as asn1crypto gives it (``SignedDigestAlgorithm.signature_algo``).
    name: str

    @abstractmethod
    def owns(self, public_key: PublicKeyTypes) -> bool:
        """True when *public_key* makes signatures of this scheme."""

    @abstractmethod
    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """The CMS ``SignatureAlgorithmIdentifier`` with the hash *hash_name*.

        Without a hash, the identifier of the scheme alone, or a
        :class:`ValueError` when the scheme must name its hash (ECDSA).
        """

    @abstractmethod
    def verify(self, public_key: PublicKeyTypes, signature: bytes, data: bytes, hash_name: str) -> None:
        """Raise :class:`cryptography.exceptions.InvalidSignature` unless *signature* is over *data*."""

    @abstractmethod
    def placeholder(self, public_key: PublicKeyTypes) -> bytes:
        """Zero bytes as long as the longest signature *public_key*'s private key makes."""


class RsaPkcs1v15(SignatureScheme):
    """RSASSA-PKCS1-v1_5 (RFC 8017), what every UKey signs with an RSA key."""

    name = "rsassa_pkcs1v15"

    def owns(self, public_key: PublicKeyTypes) -> bool:
        """An RSA key."""
        return isinstance(public_key, rsa.RSAPublicKey)

    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """``sha256WithRSAEncryption`` and the like; ``rsaEncryption`` without a hash."""
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa" if hash_name else self.name})

    def verify(self, public_key: PublicKeyTypes, signature: bytes, data: bytes, hash_name: str) -> None:
        """PKCS#1 v1.5 verification."""
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, data, padding.PKCS1v15(), HASHES[hash_name]())

    def placeholder(self, public_key: PublicKeyTypes) -> bytes:
        """As long as the modulus."""
        assert isinstance(public_key, rsa.RSAPublicKey)
        return bytes((public_key.key_size + 7) // 8)


class Ecdsa(SignatureScheme):
    """ECDSA (RFC 5753: the identifier names the hash), a DER ECDSA-Sig-Value."""

    name = "ecdsa"

    def owns(self, public_key: PublicKeyTypes) -> bool:
        """An EC key (on a curve other than SM2's, once SM2 is a scheme of its own)."""
        return isinstance(public_key, ec.EllipticCurvePublicKey)

    def identifier(self, hash_name: str | None) -> algos.SignedDigestAlgorithm:
        """``ecdsa-with-SHA256`` and the like."""
        if hash_name is None:
            raise ValueError("an ECDSA signature algorithm names its hash")
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"})

    def verify(self, public_key: PublicKeyTypes, signature: bytes, data: bytes, hash_name: str) -> None:
        """ECDSA verification."""
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(signature, data, ec.ECDSA(HASHES[hash_name]()))

    def placeholder(self, public_key: PublicKeyTypes) -> bytes:
        """Both integers at their longest: the order's size plus a leading zero byte."""
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        longest = 1 << (8 * ((public_key.curve.key_size + 7) // 8) - 1)
        return bytes(algos.DSASignature({"r": longest, "s": longest}).dump())


#: Every scheme bidcrypt signs and checks with, the most specific first.
SCHEMES: tuple[SignatureScheme, ...] = (RsaPkcs1v15(), Ecdsa())


def scheme_for_key(public_key: PublicKeyTypes) -> SignatureScheme | None:
    """The scheme *public_key* signs with, or None when bidcrypt has none for it."""
    return next((scheme for scheme in SCHEMES if scheme.owns(public_key)), None)


def scheme_named(identifier: algos.SignedDigestAlgorithm) -> SignatureScheme | None:
    """The scheme a CMS ``SignatureAlgorithmIdentifier`` names, or None when bidcrypt has none."""
    try:
        name = identifier.signature_algo
    except (ValueError, KeyError, TypeError):  # an algorithm asn1crypto does not know
        return None
    return next((scheme for scheme in SCHEMES if scheme.name == name), None)


def hash_named(identifier: algos.SignedDigestAlgorithm, default: str | None) -> str | None:
    """The hash a ``SignatureAlgorithmIdentifier`` names, else *default*; None when not in :data:`HASHES`."""
    try:
        name = identifier.hash_algo
    except (ValueError, KeyError, TypeError):  # no hash named (rsaEncryption), or malformed parameters
        name = default
    return name if name in HASHES else None


__all__ = [
    "HASHES",
    "SCHEMES",
    "Ecdsa",
    "RsaPkcs1v15",
    "SignatureScheme",
    "hash_named",
    "scheme_for_key",
    "scheme_named",
]
