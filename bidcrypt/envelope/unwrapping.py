"""Unwrapping the content key: which recipients a key may open, and what may go wrong, and whose fault.

A key is tried only on the recipients that name it: by a key identifier
computed from its public key or the SubjectKeyIdentifier of the key
source's own certificate, by the issuer and serial number of that
certificate, or by the issuer and serial number of another certificate
known to the caller that certifies the very same public key (a renewal
that kept the key, named the old way). No other recipient is tried, with
one exception: when nothing names any key, an SM2 recipient named by the
issuer and serial of the SM2 key's own CA (GM/T 0010 names recipients that
way, so after a renewal the envelope names the old serial) is tried, since
SM2 decryption checks its own hash and a key that is not the recipient's
fails cleanly (:func:`renewal_candidates`). RSA and EC recipients are never
tried that way.

What :func:`unwrap_content_key` raises says whose fault a failure is:

* the envelope's (a bid's outcome): :class:`~bidcrypt.errors.EnvelopeError`
  and its subclasses -- :class:`~bidcrypt.errors.WrongKeyError` (nothing
  names the key, or the wrapped key does not unwrap),
  :class:`~bidcrypt.errors.UnsupportedAlgorithmError` (an algorithm
  bidcrypt does not implement), :class:`~bidcrypt.errors.KeyTransportUnsupportedError`
  (an RSA key transport this key cannot undo), :class:`~bidcrypt.errors.MalformedEnvelopeError`
  (an invalid ECDH point, an SM2 encryptedKey that is no SM2 ciphertext);
* the machine's: :class:`~bidcrypt.errors.KeySourceError` and its
  subclasses (token removed, PIN, a token failure, a key that cannot do
  ECDH at all, no private key for the named certificate).

With RSA PKCS#1 v1.5 the unwrap never fails (RFC 3218 section 2.3): a
wrong key or a bad wrapped key shows only when the content is decrypted,
as one :class:`~bidcrypt.errors.WrongKeyError` (see :mod:`bidcrypt.envelope.opening`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, SupportsIndex

from cryptography import x509
from cryptography.hazmat.primitives import keywrap
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bidcrypt import certs
from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.header import EnvelopeHeader, RecipientsPart
from bidcrypt.envelope.identifiers import EnvelopeRecipient, RecipientId, RecipientKind
from bidcrypt.envelope.key_agreement import derive_kek
from bidcrypt.envelope.sm2_transport import sm2_unwrap
from bidcrypt.envelope.token_import import import_content_key
from bidcrypt.errors import (
    EnvelopeError,
    KeyNotFoundError,
    KeyTransportUnsupportedError,
    MechanismUnsupportedError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.gm import Sm2PublicKey
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, KeySource, TokenContentKey

Keys = KeySource | KeyEntry | Sequence[KeyEntry]
"""What can open an envelope: a key source, one of its entries, or a list of entries."""


@dataclass(frozen=True)
class ContentKey:
    """An unwrapped content-encryption key and which recipient and key it came from.

    The key is its bytes (plain data, picklable: handed to a worker process
    with the header), or, from a key source that never hands out content
    keys (an SKF UKey's standard path), a :class:`~bidcrypt.keys.TokenContentKey`
    imported into the token: the content is then decrypted on the token, in
    this process only (:attr:`on_token`), and such a key refuses to be
    pickled. Use it as a context manager, or :meth:`close` it: that
    destroys a key on the token (nothing for bytes).
    """

    key: bytes | TokenContentKey = field(repr=False)
    cipher: alg.ContentCipher
    #: Index of the RecipientInfo that was opened.
    recipient_index: int
    #: The key source entry used: ``source:label``.
    entry: str
    #: The subject of the certificate of that entry.
    subject: str

    @property
    def on_token(self) -> bool:
        """True when the key is held by the token, which decrypts the content itself."""
        return isinstance(self.key, TokenContentKey)

    def exportable(self) -> bytes:
        """The key's bytes, to wrap it to other recipients; refused for a key held by a token."""
        if isinstance(self.key, TokenContentKey):
            raise MechanismUnsupportedError(
                Text(
                    "the UKey keeps the content key inside it, so it cannot be wrapped to another "
                    "certificate; re-encrypt under a fresh content key (--fresh-key)",
                    "U-KEY 不导出内容密钥，无法将其封装给其他证书；请以新内容密钥重新加密（--fresh-key）",
                ),
                source=self.entry,
                operation=Text("a content-key rewrap", "内容密钥重新封装"),
            )
        return self.key

    def close(self) -> None:
        """Destroy a key held by the token (idempotent); nothing for a key in memory."""
        if isinstance(self.key, TokenContentKey):
            self.key.close()

    def __enter__(self) -> ContentKey:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        if isinstance(self.key, TokenContentKey):
            raise TypeError("a content key held by a token cannot leave the process that imported it")
        return super().__reduce_ex__(protocol)


def entries_of(keys: Keys) -> list[KeyEntry]:
    """The key entries of *keys* (a source, one entry, or a list of them)."""
    if isinstance(keys, KeySource):
        return keys.entries()
    if isinstance(keys, KeyEntry):
        return [keys]
    return list(keys)


def _describe_entry(entry: KeyEntry) -> str:
    return f"{entry.source}:{entry.label}"


def _wrong_key(header: EnvelopeHeader | RecipientsPart, entries: Sequence[KeyEntry]) -> WrongKeyError:
    wanted = "; ".join(r.rid.describe() for r in header.recipients if r.rid) or "-"
    held = "; ".join(
        f"{certs.display_name(e.certificate)} (SKI {certs.subject_key_identifier(e.certificate).hex()})"
        for e in entries
    )
    return WrongKeyError(
        Text(
            "encrypted to {wanted}; the key source holds {value}",
            "加密给：{wanted}；密钥源中的证书：{value2}",
            wanted=wanted,
            value=held or "no certificate",
            value2=held or "无",
        )
    )


def _same_key(first: x509.Certificate, second: x509.Certificate) -> bool:
    try:
        return certs.same_public_key(first, second)
    except (ValueError, TypeError):  # an unreadable key in a certificate from an untrusted place
        return False


def names(rid: RecipientId, own: x509.Certificate, known: Sequence[x509.Certificate] = ()) -> bool:
    """True when *rid* names the key of the key source's own certificate *own*.

    By a key identifier computed from its key or its own SKI extension, by
    its issuer and serial; or by the issuer and serial of one of the *known*
    certificates (from anywhere: they are only believed for a certificate
    that carries exactly the key of *own*).
    """
    if rid.matches(own):
        return True
    if rid.subject_key_identifier is not None:
        return False
    return any(_same_key(certificate, own) and rid.matches(certificate) for certificate in known)


def candidates(
    header: EnvelopeHeader | RecipientsPart,
    entries: Sequence[KeyEntry],
    certificates: Sequence[x509.Certificate] = (),
) -> list[tuple[EnvelopeRecipient, KeyEntry]]:
    """The (recipient, key) pairs to try: every recipient that names an entry's key (see :func:`names`).

    Empty when the envelope is not for any of these keys: nothing else is
    ever tried. *certificates* are other certificates the caller knows (for
    a package, the recipient certificates it lists), which let a recipient
    named by the issuer and serial of an older certificate of the same key
    match.
    """
    return [
        (recipient, entry)
        for recipient in header.recipients
        for entry in entries
        if recipient.rid is not None and names(recipient.rid, entry.certificate, certificates)
    ]


#: The most SM2 recipients tried by the renewal rule for one envelope: a real envelope names one or
#: two keys of a CA; a hostile one listing thousands must not cost thousands of token operations.
MAX_RENEWAL_TRIES = 4
#: The most (recipient, key) pairs tried for one envelope, for the same reason: a real envelope
#: names a key once, and a few keys at most are held.
MAX_UNWRAP_TRIES = 8


def renewal_candidates(
    header: EnvelopeHeader | RecipientsPart, entries: Sequence[KeyEntry]
) -> list[tuple[EnvelopeRecipient, KeyEntry]]:
    """SM2 recipients named by issuer and serial from the issuer of an SM2 entry's certificate.

    GM/T 0010 envelopes name recipients by issuer and serial (GmSSL opens
    nothing else), so after a renewal that kept the key the envelope names
    the old certificate. When nothing names any entry, these pairs are
    tried: an SM2 decryption checks its own hash (C3), so a key that is not
    the recipient's fails cleanly, with nothing to learn from it (unlike RSA
    PKCS#1 v1.5, which is why RSA recipients are never tried this way). One
    token operation per such recipient, usually one, and never more than
    :data:`MAX_RENEWAL_TRIES`.
    """
    found = []
    for recipient in header.recipients:
        rid = recipient.rid
        if recipient.sm2_encryption is None or rid is None or rid.issuer is None:
            continue
        for entry in entries:
            if isinstance(certs.public_key(entry.certificate), Sm2PublicKey) and rid.same_issuer(
                entry.certificate
            ):
                found.append((recipient, entry))
    return found[:MAX_RENEWAL_TRIES]


def unwrap_content_key(
    header: EnvelopeHeader | RecipientsPart, keys: Keys, *, certificates: Sequence[x509.Certificate] = ()
) -> ContentKey:
    """Unwrap the content key with the first key of *keys* that opens a recipient naming it.

    One private-key operation per pair tried (usually exactly one, never more
    than :data:`MAX_UNWRAP_TRIES`). When no
    recipient names any of the keys, SM2 recipients named by issuer and
    serial from the same issuer are tried (:func:`renewal_candidates`). The
    errors say whose fault a failure is (see the module's documentation):
    :class:`WrongKeyError` when no recipient names any of the keys (saying
    whom the file was encrypted to) or none of those unwraps; the other
    envelope errors of the recipients that name a key; and the key
    source's errors (token, PIN) as they come. With RSA PKCS#1 v1.5 a bad
    unwrap returns a random key, which fails on the content. From a key
    source that never hands out content keys, the key is imported into the
    token (:func:`obtain`): the caller must close the result.
    """
    entries = entries_of(keys)
    refused: EnvelopeError | None = None
    missing: KeyNotFoundError | None = None
    pairs = candidates(header, entries, certificates) or renewal_candidates(header, entries)
    for recipient, entry in pairs[:MAX_UNWRAP_TRIES]:
        if not entry.has_private_key:
            what = Text("private key", "私钥")
            missing = missing or KeyNotFoundError(what=what, ref=_describe_entry(entry))
            continue
        try:
            key = obtain(recipient, entry, header.cipher.cipher)
        except WrongKeyError:
            continue
        except EnvelopeError as exc:
            refused = refused or exc
            continue
        return ContentKey(
            key=key,
            cipher=header.cipher.cipher,
            recipient_index=recipient.index,
            entry=_describe_entry(entry),
            subject=certs.display_name(entry.certificate),
        )
    if refused is not None:
        raise refused
    if missing is not None:
        raise missing
    raise _wrong_key(header, entries)


def compatible(recipient: EnvelopeRecipient, certificate: x509.Certificate) -> bool:
    """True when the key of *certificate* could have been used for *recipient* (type and size)."""
    public_key = certs.public_key(certificate)
    if recipient.sm2_encryption is not None:
        return isinstance(public_key, Sm2PublicKey)
    if recipient.kind is RecipientKind.KEY_TRANSPORT:
        # Exactly the modulus length, or a few bytes less from producers that drop leading zeros.
        return (
            isinstance(public_key, rsa.RSAPublicKey)
            and (public_key.key_size + 7) // 8 - 8
            <= len(recipient.encrypted_key)
            <= (public_key.key_size + 7) // 8
        )
    if recipient.kind is RecipientKind.KEY_AGREEMENT:
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return False
        curve = alg.curve_of(public_key)
        return curve is not None and recipient.originator_curve in (None, curve.oid)
    return False


def obtain(
    recipient: EnvelopeRecipient, entry: KeyEntry, cipher: alg.ContentCipher
) -> bytes | TokenContentKey:
    """The content key of *recipient*: unwrapped by *entry* (:func:`unwrap`), or imported into its token.

    An entry that does not return content keys (``returns_content_keys``
    False) imports the wrapped key into the token instead
    (:func:`~bidcrypt.envelope.token_import.import_content_key`): one token
    operation, and the errors of :func:`unwrap`, with
    :class:`~bidcrypt.errors.TokenCipherUnsupportedError` for what the token
    cannot decrypt.
    """
    if entry.returns_content_keys:
        return unwrap(recipient, entry, cipher)
    if recipient.problem:
        raise UnsupportedAlgorithmError(
            recipient.problem, algorithm=recipient.problem_algorithm or recipient.algorithm_name
        )
    return import_content_key(recipient, entry, cipher)


def unwrap(recipient: EnvelopeRecipient, entry: KeyEntry, cipher: alg.ContentCipher) -> bytes:
    """The content key of *recipient*, using the private key of *entry*.

    Errors of the envelope: :class:`UnsupportedAlgorithmError` for an
    algorithm bidcrypt does not implement, :class:`KeyTransportUnsupportedError`
    for an RSA key transport this key cannot undo, :class:`MalformedEnvelopeError`
    for an invalid ECDH point or an SM2 encryptedKey that is no SM2
    ciphertext, :class:`WrongKeyError` when the key or the
    wrapped data is wrong (no padding oracle). After PKCS#1 v1.5 nothing
    fails here: see :func:`_transport_unwrap`. Errors of the key source
    (token removed, PIN) pass as they come.
    """
    if recipient.problem:
        raise UnsupportedAlgorithmError(
            recipient.problem, algorithm=recipient.problem_algorithm or recipient.algorithm_name
        )
    if recipient.sm2_encryption is not None:
        return sm2_unwrap(recipient, entry, cipher.key_size)
    if recipient.kind is RecipientKind.KEY_TRANSPORT:
        return _transport_unwrap(recipient, entry, cipher)
    if not compatible(recipient, entry.certificate):
        raise WrongKeyError()
    content_key = _agree_and_unwrap(recipient, entry)
    if len(content_key) != cipher.key_size:
        raise WrongKeyError()
    return content_key


def _transport_unwrap(recipient: EnvelopeRecipient, entry: KeyEntry, cipher: alg.ContentCipher) -> bytes:
    """RSA key transport. With PKCS#1 v1.5, RFC 3218 section 2.3: no error at all.

    A random content key is drawn first; when the unwrap fails, or yields a
    key of the wrong length, the random key is returned instead, and the
    opening takes the same path and fails on the content with one and the
    same message, whatever happened (a Bleichenbacher attacker learns
    nothing). OAEP, whose decoding does not leak that way, says
    :class:`WrongKeyError` at once.
    """
    transport = recipient.key_transport
    assert transport is not None
    public_key = certs.public_key(entry.certificate)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise WrongKeyError()
    implicit = transport is KeyTransport.PKCS1V15
    substitute = os.urandom(cipher.key_size)
    if not compatible(recipient, entry.certificate):
        if implicit:
            return substitute
        raise WrongKeyError()
    ciphertext = recipient.encrypted_key.rjust((public_key.key_size + 7) // 8, b"\0")
    try:
        content_key = entry.rsa_decrypt(ciphertext, transport.scheme)
    except WrongKeyError:
        if implicit:
            return substitute
        raise
    except MechanismUnsupportedError as exc:
        raise KeyTransportUnsupportedError(
            algorithm=alg.describe_key_transport(transport), source=entry.source
        ) from exc
    if len(content_key) != cipher.key_size:
        if implicit:
            return substitute
        raise WrongKeyError()
    return content_key


def _agree_and_unwrap(recipient: EnvelopeRecipient, entry: KeyEntry) -> bytes:
    public_key = certs.public_key(entry.certificate)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert recipient.originator_point is not None and recipient.key_wrap is not None
    assert recipient.key_wrap_oid is not None
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(public_key.curve, recipient.originator_point)
    except ValueError as exc:
        raise ber.malformed(Text("bad originator public key", "发送方公钥错误")) from exc
    scheme = alg.KEY_AGREEMENT_SCHEMES[recipient.algorithm]
    shared = entry.ecdh(peer)
    size = alg.KEY_WRAPS[recipient.key_wrap_oid]
    kek = derive_kek(scheme, shared, recipient.key_wrap, recipient.ukm, size)
    try:
        return keywrap.aes_key_unwrap(kek, recipient.encrypted_key)
    except (keywrap.InvalidUnwrap, ValueError) as exc:
        raise WrongKeyError() from exc
