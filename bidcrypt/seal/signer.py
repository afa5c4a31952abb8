"""pyHanko's :class:`~pyhanko.sign.signers.pdf_cms.Signer` over a bidcrypt key entry (UKey or PKCS#12).

The key source hashes in software and the token signs the digest; the token
is logged in to once by the key source, never by this adapter. Every real
signature is checked against the certificate's public key before pyHanko
embeds it, which is how a key that does not belong to its certificate is
caught (:class:`~bidcrypt.errors.KeyCertificateMismatchError`) before any
output exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from bidcrypt import certs
from bidcrypt.errors import KeyCertificateMismatchError, MechanismUnsupportedError
from bidcrypt.keys import KeyEntry
from bidcrypt.keys.base import SIGNATURE_HASHES

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeyEntrySigner(Signer):
    """Signs CMS signed attributes with a :class:`~bidcrypt.keys.KeyEntry`.

    *chain* holds the issuing CA certificates to embed with the signature, so
    that verifiers can build the path to their trusted root. Self-signed roots
    in it are left out: a verifier's trust comes from its own store, and a
    root embedded beside it confuses some (NSS, hence poppler's pdfsig, fails
    the second seal made with the same certificate).
    """

    def __init__(self, entry: KeyEntry, chain: Sequence[x509.Certificate] = ()) -> None:
        registry = SimpleCertificateStore.from_certs([certs.to_asn1(c) for c in chain])  # type: ignore[no-untyped-call]
        super().__init__(
            signing_cert=certs.to_asn1(entry.certificate), cert_registry=registry, embed_roots=False
        )
        self.entry = entry
        #: How many real signatures the key source made.
        self.signatures = 0

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """PKCS#1 v1.5 (RSA) or DER ECDSA over *data*; a dummy of the right size when *dry_run*."""
        if digest_algorithm not in SIGNATURE_HASHES:
            raise MechanismUnsupportedError(
                source=self.entry.source, operation=f"{digest_algorithm} signatures"
            )
        if dry_run:
            return placeholder_signature(self.entry.certificate)
        signature = self.entry.sign(data, digest_algorithm)
        self.signatures += 1
        check_signature(self.entry.certificate, signature, data, digest_algorithm)
        return signature


def placeholder_signature(certificate: x509.Certificate) -> bytes:
    """Zero bytes as long as the longest signature the certificate's key can make."""
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        return bytes((public_key.key_size + 7) // 8)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        # Both integers at their longest: the order's size plus a leading zero byte.
        longest = 1 << (8 * ((public_key.curve.key_size + 7) // 8) - 1)
        return bytes(algos.DSASignature({"r": longest, "s": longest}).dump())
    raise MechanismUnsupportedError(source=certs.display_name(certificate), operation="signing")


def check_signature(certificate: x509.Certificate, signature: bytes, data: bytes, hash_name: str) -> None:
    """Raise :class:`KeyCertificateMismatchError` unless *signature* verifies with the certificate's key."""
    public_key = certificate.public_key()
    algorithm = _HASHES[hash_name]()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise MechanismUnsupportedError(source=certs.display_name(certificate), operation="signing")
    except InvalidSignature as exc:
        raise KeyCertificateMismatchError(subject=certs.display_name(certificate)) from exc
