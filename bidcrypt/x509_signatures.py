"""Issuers' signatures on certificates and CRLs, SM2 with SM3 among them.

pyhanko-certvalidator checks every signature of a chain (certificates, CRLs,
their issuers' paths) through one :class:`~pyhanko_certvalidator.sig_validate.SignatureValidator`;
its default one uses ``cryptography``, which has no SM2.
:class:`Sm2AwareSignatureValidator` checks SM2-with-SM3 signatures
(``1.2.156.10197.1.501``, and ``1.2.156.10197.1.301.1`` as some writers name
it) with :class:`bidcrypt.gm.Sm2PublicKey`, Z computed with the default
distinguishing ID ``1234567812345678`` (how CAs, openssl ``-sigopt distid:…``
and GmSSL sign certificates and CRLs), and hands every other algorithm to
the default. Everything else of RFC 5280 (validity, CA bits, key usage,
path length, revocation) stays pyhanko-certvalidator's, alike for every
algorithm. :func:`sm2_signature_holds` is the same check for a CRL read with
``cryptography`` (:meth:`bidcrypt.trust.TrustStore.revocation_status`).

This module imports pyhanko-certvalidator: import it where a chain is
validated, not at start-up.
"""

from __future__ import annotations

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

from bidcrypt.gm import Sm2Error, Sm2PublicKey, is_sm2_public_key_info, oids

#: The signature algorithm OIDs read as SM2 with SM3 (GM/T 0006's, and sm2-1 as emmansun/gmsm writes it).
SM2_SIGNATURE_ALGORITHMS = frozenset({oids.SM2_WITH_SM3, oids.SM2_SIGN})


def is_sm2_algorithm(algorithm: algos.SignedDigestAlgorithm) -> bool:
    """True when a ``SignatureAlgorithmIdentifier`` names SM2 with SM3."""
    try:
        return algorithm["algorithm"].dotted in SM2_SIGNATURE_ALGORITHMS
    except (ValueError, KeyError, TypeError):
        return False


def sm2_signature_holds(
    algorithm_oid: str, signature: bytes, signed: bytes, public_key: Sm2PublicKey
) -> bool:
    """True when *signature* is SM2 with SM3 (named by *algorithm_oid*) over *signed* by *public_key*.

    Z is computed with the default distinguishing ID, as issuers sign.
    """
    if algorithm_oid not in SM2_SIGNATURE_ALGORITHMS:
        return False
    try:
        public_key.verify(signature, signed)
    except (InvalidSignature, Sm2Error):
        return False
    return True


class Sm2AwareSignatureValidator(SignatureValidator):
    """pyhanko-certvalidator's signature check with SM2 with SM3; the rest goes to *fallback*.

    An SM2 key with another algorithm, an SM2 algorithm with another key,
    and a key ``cryptography`` cannot read are bad signatures
    (:class:`~cryptography.exceptions.InvalidSignature`: the validator then
    says the path does not validate), never an exception of another kind.
    """

    def __init__(self, fallback: SignatureValidator | None = None) -> None:
        self.fallback = fallback or DefaultSignatureValidator()

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        """Raise :class:`InvalidSignature` unless *signature* is over *signed_data* by the key."""
        sm2_key = is_sm2_public_key_info(public_key_info)
        if is_sm2_algorithm(signature_algorithm):
            if context.prehashed:
                raise AlgorithmNotSupported("SM2 with SM3 is checked over the message, not a digest")
            if not sm2_key or signature_algorithm["parameters"].native is not None:
                raise InvalidSignature("SM2 with SM3 needs an SM2 key and no parameters")
            try:
                public_key = Sm2PublicKey.from_spki_der(public_key_info.dump())
            except Sm2Error as exc:
                raise InvalidSignature(f"the SM2 public key cannot be read: {exc}") from None
            if not sm2_signature_holds(
                signature_algorithm["algorithm"].dotted, signature, signed_data, public_key
            ):
                raise InvalidSignature("SM2 signature does not verify")
            return
        if sm2_key:
            raise InvalidSignature("an SM2 key signs with SM2 with SM3 only")
        try:
            self.fallback.validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )
        except (UnsupportedAlgorithm, ValueError) as exc:  # a key or parameters cryptography cannot read
            raise InvalidSignature(f"the signature cannot be checked: {exc}") from None


__all__ = [
    "SM2_SIGNATURE_ALGORITHMS",
    "Sm2AwareSignatureValidator",
    "is_sm2_algorithm",
    "sm2_signature_holds",
]
