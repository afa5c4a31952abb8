"""CMS signatures with a key source, through pyHanko: one SignedData path for seals, manifests, the rest.

:class:`KeyEntrySigner` is pyHanko's :class:`~pyhanko.sign.signers.pdf_cms.Signer`
over a bidcrypt key entry (UKey or PKCS#12): pyHanko builds the SignedData
(PAdES seals through its PDF signer, anything else through
:func:`async_sign_data`), the key source signs. The key source hashes in
software and the token signs the digest; the token is logged in to once by
the key source, never by this adapter. Every real signature is checked
against the certificate's public key before pyHanko embeds it, which is how
a key that does not belong to its certificate is caught
(:class:`~bidcrypt.errors.KeyCertificateMismatchError`) before any output
exists. :class:`SchemeSignatureValidator` checks signatures for pyHanko's
validation with the same schemes (:mod:`bidcrypt.keys.schemes`).

SM2 keys sign SM2 with SM3 (``1.2.156.10197.1.501``) over SM3 digests
(``1.2.156.10197.1.401``). pyHanko needs nothing registered for that: it
hashes with ``getattr(cryptography.hazmat.primitives.hashes, name.upper())``
(``pyhanko_certvalidator.util.get_pyca_cryptography_hash``), which is
``hashes.SM3`` for ``sm3``, and names the digest through asn1crypto, which
knows ``sm3`` once :mod:`bidcrypt.gm` is imported (:mod:`bidcrypt.certs`
imports it). The hash of a scheme that fixes one (SM2) is the default here.

This module imports pyHanko: import it where a signature is made or checked,
not at start-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from asn1crypto import algos, keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    SignatureValidationContext,
    SignatureValidator,
)

from bidcrypt import certs
from bidcrypt.aio import run_sync
from bidcrypt.errors import KeyCertificateMismatchError, MechanismUnsupportedError
from bidcrypt.keys.base import KeyEntry
from bidcrypt.keys.schemes import HASHES, SignatureScheme, hash_named, scheme_for_key, scheme_named


def signing_scheme(certificate: x509.Certificate) -> SignatureScheme:
    """The scheme the certificate's key signs with; :class:`MechanismUnsupportedError` when there is none."""
    scheme = scheme_for_key(certs.public_key(certificate))
    if scheme is None:
        raise MechanismUnsupportedError(source=certs.display_name(certificate), operation="signing")
    return scheme


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

    def get_signature_mechanism_for_digest(self, digest_algorithm: str | None) -> algos.SignedDigestAlgorithm:
        """The signature algorithm identifier of the entry's scheme, with *digest_algorithm*."""
        return signing_scheme(self.entry.certificate).identifier(digest_algorithm)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """The key source's signature over *data*; a dummy of the right size when *dry_run*."""
        scheme = signing_scheme(self.entry.certificate)
        if digest_algorithm not in HASHES or scheme.fixed_hash not in (None, digest_algorithm):
            raise MechanismUnsupportedError(
                source=self.entry.source, operation=f"{digest_algorithm} signatures"
            )
        if dry_run:
            return scheme.placeholder(certs.public_key(self.entry.certificate))
        signature = self.entry.sign(data, digest_algorithm)
        self.signatures += 1
        check_signature(self.entry.certificate, signature, data, digest_algorithm)
        return signature


def check_signature(certificate: x509.Certificate, signature: bytes, data: bytes, hash_name: str) -> None:
    """Raise :class:`KeyCertificateMismatchError` unless *signature* verifies with the certificate's key."""
    public_key = certs.public_key(certificate)
    try:
        signing_scheme(certificate).verify(public_key, signature, data, hash_name)
    except InvalidSignature as exc:
        raise KeyCertificateMismatchError(subject=certs.display_name(certificate)) from exc


async def async_sign_data(
    content: bytes,
    entry: KeyEntry,
    *,
    signing_time: dt.datetime | None = None,
    chain: Sequence[x509.Certificate] = (),
    hash_name: str | None = None,
    detached: bool = False,
) -> bytes:
    """DER ContentInfo(SignedData) over *content*, signed by *entry*'s key.

    *hash_name* is the digest (default: the scheme's own, SM3 for SM2, else
    SHA-256); one the scheme does not sign with is
    :class:`MechanismUnsupportedError`. The content is attached unless
    *detached*. Signed attributes (pyHanko's generic CMS set): content-type, message-digest, the ESS
    signing-certificate-v2 attribute, CMS algorithm protection (RFC 6211)
    and, when given, signing-time. The signer is named by issuer and serial
    number; its certificate and *chain* (without self-signed roots) go in.
    """
    scheme = signing_scheme(entry.certificate)
    hash_name = hash_name or scheme.signing_hash
    if hash_name not in HASHES or scheme.fixed_hash not in (None, hash_name):
        raise MechanismUnsupportedError(source=entry.source, operation=f"{hash_name} signatures")
    signer = KeyEntrySigner(entry, chain)
    attributes = PdfCMSSignedAttributes(signing_time=signing_time)
    signed = await signer.async_sign_general_data(
        content, hash_name, detached=detached, signed_attr_settings=attributes
    )
    return bytes(signed.dump())


def sign_data(
    content: bytes,
    entry: KeyEntry,
    *,
    signing_time: dt.datetime | None = None,
    chain: Sequence[x509.Certificate] = (),
    hash_name: str | None = None,
    detached: bool = False,
) -> bytes:
    """:func:`async_sign_data`, for synchronous callers."""
    return run_sync(
        async_sign_data(
            content, entry, signing_time=signing_time, chain=chain, hash_name=hash_name, detached=detached
        )
    )


class SchemeSignatureValidator(SignatureValidator):
    """pyHanko's signature check, by bidcrypt's schemes.

    An algorithm without a scheme is not supported, or, with a *fallback*,
    goes to it (pyHanko's own check, for signatures of other software that
    bidcrypt never makes: RSASSA-PSS, EdDSA).
    """

    def __init__(self, fallback: SignatureValidator | None = None) -> None:
        self.fallback = fallback

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        """Raise :class:`InvalidSignature` unless *signature* is over *signed_data*."""
        try:
            self._by_scheme(signature, signed_data, public_key_info, signature_algorithm, context)
        except AlgorithmNotSupported:
            if self.fallback is None:
                raise
            self.fallback.validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )

    def _by_scheme(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext,
    ) -> None:
        try:
            public_key = certs.public_key_from_spki(public_key_info.dump())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise AlgorithmNotSupported(f"the signer's public key cannot be read: {exc}") from None
        scheme = scheme_named(signature_algorithm)
        if scheme is None or not scheme.owns(public_key) or context.prehashed:
            raise AlgorithmNotSupported(_unsupported(signature_algorithm))
        hash_name = hash_named(signature_algorithm, context.contextual_md_algorithm)
        if hash_name is None:
            raise AlgorithmNotSupported(_unsupported(signature_algorithm))
        scheme.verify(public_key, signature, signed_data, hash_name)


def _unsupported(signature_algorithm: algos.SignedDigestAlgorithm) -> str:
    return f"signature algorithm {signature_algorithm['algorithm'].dotted} is not supported here"


__all__ = [
    "KeyEntrySigner",
    "SchemeSignatureValidator",
    "async_sign_data",
    "check_signature",
    "sign_data",
    "signing_scheme",
]
