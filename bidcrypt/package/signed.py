"""CMS SignedData (RFC 5652) over the manifest, made with a key source and checked without one.

The content is attached (the manifest bytes are inside). It is signed through
bidcrypt's one SignedData path (:mod:`bidcrypt.keys.pyhanko_signer`: pyHanko
builds it, :meth:`KeyEntry.sign` signs — on the UKey when the key is there —
so RSA PKCS#1 v1.5, ECDSA or SM2 with SM3, whatever the signing key is).
Signed attributes: content-type, message-digest (SHA-256; SM3 with an SM2
key), signing-time, the ESS
signing-certificate-v2 and CMS algorithm protection (RFC 6211). The signer is
identified by issuer and serial number; its certificate is included.

Checking goes through bidcrypt's one SignedData verifier
(:func:`bidcrypt.keys.verify_signed_data`, which also checks releases and
sign-ins): exactly one signer, the attached content, the signed content type
and message digest, the signer's certificate inside, a signature algorithm
of one of bidcrypt's schemes for that certificate's key
(:mod:`bidcrypt.keys.schemes`), and the signature. As pyHanko's
``validate_sig_integrity`` does, it also refuses an ESS attribute naming
another certificate, an algorithm protection attribute that disagrees with
the algorithms used, and an attribute given twice; it makes these checks
itself, with the schemes, which is several times faster, and a bulk opening
checks one manifest per bid. Here, the digest must also be the one bidcrypt
signs with: SHA-256 (SM3 for SM2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from bidcrypt import certs
from bidcrypt.aio import run_sync
from bidcrypt.errors import ManifestError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, scheme_for_key, verify_signed_data


@dataclass(frozen=True)
class SignedContent:
    """A verified SignedData: the content, who signed it, and when they said they did."""

    content: bytes
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None


async def async_sign(content: bytes, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """DER ContentInfo(SignedData) over *content*, signed by *entry*'s key."""
    from bidcrypt.keys import async_sign_data

    scheme = scheme_for_key(certs.public_key(entry.certificate))
    if scheme is None:
        raise ManifestError(Text("the signing key is neither RSA, EC nor SM2", "签名密钥不是 RSA、EC 或 SM2"))
    moment = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return await async_sign_data(content, entry, signing_time=moment, hash_name=_hash_name(entry.certificate))


def sign(content: bytes, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """:func:`async_sign`, for synchronous callers."""
    return run_sync(async_sign(content, entry, signing_time))


def verify(der: bytes, content_type: str = "data") -> SignedContent:
    """Check the one signature of a SignedData and return what it covers.

    Checks the structure, the content type (``data`` for a manifest or a
    profile), the message digest, the signed attributes and the signature
    with the included signer certificate, through bidcrypt's one SignedData
    verifier (:func:`bidcrypt.keys.verify_signed_data`); and that the digest
    is the one bidcrypt signs with for that signer (SHA-256, SM3 for SM2).
    Whether the certificate is trusted is the caller's question (see
    :mod:`bidcrypt.trust`). Every refusal is a :class:`ManifestError`.
    """
    verified = verify_signed_data(
        der, content_type=content_type, error=ManifestError, what=_BAD, signing_digest_only=True
    )
    return SignedContent(
        content=verified.content,
        signer=verified.signer,
        certificates=verified.certificates,
        signing_time=verified.signing_time,
    )


_BAD = Text("manifest signature invalid", "文件清单签名无效")


def _hash_name(certificate: x509.Certificate) -> str:
    """The manifest's digest for this signer: SHA-256, or SM3 for a scheme that fixes it (SM2)."""
    scheme = scheme_for_key(certs.public_key(certificate))
    return scheme.signing_hash if scheme is not None else "sha256"
