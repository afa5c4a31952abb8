"""The envelope builder: an immutable description of an envelope, then one call to encrypt.

Modelled on cryptography's ``PKCS7EnvelopeBuilder``: every ``add_*`` /
``set_*`` checks its argument once and returns a new builder; the
``encrypt*`` calls check the whole (validity at the chosen time, trust) before
a single byte is written::

    builder = (
        EnvelopeBuilder()
        .add_recipient(bidder_certificate, key_transport=KeyTransport.PKCS1V15)
        .add_recipient(authority_certificate)
    )
    builder.encrypt_file(Path("bid.zip"), Path("bid.zip.p7m"))
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cryptography import x509

from bidcrypt.envelope import _ber as ber
from bidcrypt.envelope import _der as der
from bidcrypt.envelope import algorithms as alg
from bidcrypt.envelope._stream import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, EnvelopePlan, write_envelope
from bidcrypt.envelope.algorithms import KeyTransport
from bidcrypt.envelope.header import Attribute
from bidcrypt.envelope.recipients import (
    Recipient,
    RecipientIdentifier,
    check_all,
    check_suite,
    new_content_key,
)
from bidcrypt.errors import InputError
from bidcrypt.files import (
    ByteProgress,
    PathArg,
    Sink,
    as_path,
    atomic_output,
    check_output,
    input_error,
    open_input,
)

if TYPE_CHECKING:
    from bidcrypt.trust import TrustStore


@dataclass(frozen=True)
class EncryptResult:
    """What an encryption produced."""

    output: Path | None
    cipher: alg.ContentCipher
    recipients: tuple[str, ...]
    plaintext_size: int
    envelope_size: int


@dataclass(frozen=True)
class _State:
    recipients: tuple[Recipient, ...] = ()
    #: None: chosen from the recipients (see :func:`suite_cipher`).
    cipher: alg.ContentCipher | None = None
    attributes: tuple[Attribute, ...] = ()
    unauthenticated: tuple[Attribute, ...] = ()
    #: Authenticated where the suite allows it (AES-GCM), unprotected otherwise (CBC, GM/T 0010).
    readable: tuple[Attribute, ...] = ()
    #: None: id-data of the suite (GM/T 0010's for SM4, PKCS#7's otherwise).
    content_type: str | None = None
    at: dt.datetime | None = None
    trust: TrustStore | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    #: None: DER for a GM/T 0010 envelope whose input size is known, BER otherwise.
    definite: bool | None = None
    reserve: int = 0


def suite_cipher(recipients: tuple[Recipient, ...] | list[Recipient]) -> alg.ContentCipher:
    """The content cipher an envelope to *recipients* gets when none is chosen.

    SM4-CBC in a GM/T 0010 EnvelopedData as soon as one recipient is SM2 (SM2
    key transport is defined only there, and a GM reader expects SM4), with
    any RSA or EC recipients beside it; AES-256-GCM in AuthEnvelopedData
    otherwise.
    """
    if any(recipient.is_sm2 for recipient in recipients):
        return alg.ContentCipher.SM4_CBC
    return alg.ContentCipher.AES_256_GCM


class EnvelopeBuilder:
    """Builds CMS envelopes: AuthEnvelopedData with AES-256-GCM, EnvelopedData with AES-CBC, GM/T 0010.

    The suite follows the recipients unless a cipher is set: an SM2
    recipient makes a GM/T 0010 (GB/T 35275) EnvelopedData with SM4-CBC,
    DER when the input size is known (what GmSSL writes and reads); without
    one, AES-256-GCM. Recipients are checked when added (an encryption
    certificate, a supported key) and again, with validity and trust, when
    encrypting.
    """

    def __init__(self, _state: _State | None = None) -> None:
        self._state = _state or _State()

    def _with(self, **changes: object) -> EnvelopeBuilder:
        return EnvelopeBuilder(replace(self._state, **changes))  # type: ignore[arg-type]

    @property
    def recipients(self) -> tuple[Recipient, ...]:
        """The recipients added so far."""
        return self._state.recipients

    @property
    def cipher(self) -> alg.ContentCipher:
        """The content cipher: the one set, or the suite's of the recipients so far."""
        return self._state.cipher or suite_cipher(self._state.recipients)

    def add_recipient(
        self,
        certificate: x509.Certificate | Recipient,
        *,
        key_transport: KeyTransport = KeyTransport.OAEP_SHA256,
        identifier: RecipientIdentifier | None = None,
        chain: tuple[x509.Certificate, ...] = (),
        sm2_encryption: alg.Sm2KeyEncryption = alg.Sm2KeyEncryption.GMSSL,
    ) -> EnvelopeBuilder:
        """Encrypt to *certificate* too (a checked :class:`Recipient`, or a certificate to check now).

        ``key_transport``, ``identifier`` and ``sm2_encryption`` apply to a
        bare certificate; ``key_transport`` only matters for RSA,
        ``sm2_encryption`` for SM2 (GmSSL's ``1.2.156.10197.1.301.2`` by
        default; GB/T 35275's ``.301.3`` on request). ``identifier`` None is
        the suite's default (see :class:`Recipient`). A certificate already added
        is not added twice. Raises the certificate errors of
        :mod:`bidcrypt.certs` for a certificate not meant for encryption,
        and checks validity and trust at once when they are already set.
        """
        recipient = (
            certificate
            if isinstance(certificate, Recipient)
            else Recipient(
                certificate,
                key_transport=key_transport,
                identifier=identifier,
                chain=chain,
                sm2_encryption=sm2_encryption,
            )
        )
        recipient.check(self._state.at, self._state.trust)
        if any(r.certificate == recipient.certificate for r in self._state.recipients):
            return self
        return self._with(recipients=(*self._state.recipients, recipient))

    def set_cipher(self, cipher: alg.ContentCipher | None) -> EnvelopeBuilder:
        """Choose the content cipher: AES-GCM gives AuthEnvelopedData, AES-CBC EnvelopedData,
        SM4-CBC the GM/T 0010 EnvelopedData; None lets the recipients choose (:func:`suite_cipher`).

        SM2 recipients need SM4-CBC: another cipher with one of them is
        refused when encrypting (:class:`~bidcrypt.errors.UnsupportedAlgorithmError`).
        """
        if cipher is not None and not isinstance(cipher, alg.ContentCipher):
            raise TypeError("cipher must be a ContentCipher")
        return self._with(cipher=cipher)

    def set_content_type(self, oid: str) -> EnvelopeBuilder:
        """The type of the content being encrypted (default id-data: GM/T 0010's in a GM envelope)."""
        der.oid(oid)
        return self._with(content_type=oid)

    def add_authenticated_attribute(self, oid: str, *values: bytes) -> EnvelopeBuilder:
        """Add an authenticated attribute (AuthEnvelopedData only): its type and DER-encoded values.

        They are fed to AES-GCM as additional authenticated data (RFC 5083),
        so they cannot be changed without the opening failing, and anyone can
        read them without a key (:attr:`EnvelopeHeader.authenticated_attributes`).
        The content-type attribute is added by the builder itself.
        """
        if oid == alg.CONTENT_TYPE_ATTRIBUTE:
            raise ValueError("the content-type attribute is set by the builder")
        attribute = _attribute(oid, values, self._state.attributes)
        return self._with(attributes=(*self._state.attributes, attribute))

    def add_unauthenticated_attribute(self, oid: str, *values: bytes) -> EnvelopeBuilder:
        """Add an attribute nobody authenticates: unauthAttrs (GCM) or unprotectedAttrs (CBC).

        For what may change without breaking the envelope, such as copies of
        the recipients' certificates; :func:`reencrypt` can replace them.
        """
        attribute = _attribute(oid, values, self._state.unauthenticated)
        return self._with(unauthenticated=(*self._state.unauthenticated, attribute))

    def add_readable_attribute(self, oid: str, *values: bytes) -> EnvelopeBuilder:
        """Add an attribute anyone reads without a key, authenticated where the suite allows it.

        In an AES-GCM envelope it is an authenticated attribute (the tag
        covers it); in an EnvelopedData (AES-CBC, and the GM/T 0010 suite,
        which has no AuthEnvelopedData) it goes in unprotectedAttrs, where
        nothing authenticates it: the caller binds it some other way (a bid
        package by its signed manifest). The place is settled when
        encrypting, once the recipients have chosen the suite;
        :attr:`EnvelopeHeader.readable_attributes` reads it back from either.
        """
        if oid == alg.CONTENT_TYPE_ATTRIBUTE:
            raise ValueError("the content-type attribute is set by the builder")
        attribute = _attribute(oid, values, self._state.readable + self._state.attributes)
        return self._with(readable=(*self._state.readable, attribute))

    def set_validation_time(self, at: dt.datetime) -> EnvelopeBuilder:
        """Check certificate validity (and trust) at *at* instead of now."""
        if at.tzinfo is None:
            raise ValueError("the validation time must be timezone-aware")
        for recipient in self._state.recipients:
            recipient.check(at, self._state.trust)
        return self._with(at=at)

    def set_trust_store(self, trust: TrustStore | None) -> EnvelopeBuilder:
        """Refuse recipients whose certificates do not chain to *trust* (None: no trust check)."""
        if trust is not None:
            for recipient in self._state.recipients:
                recipient.check(self._state.at, trust)
        return self._with(trust=trust)

    def set_chunk_size(self, size: int) -> EnvelopeBuilder:
        """Bytes of plaintext per cipher call and per BER segment (a multiple of 16)."""
        if size <= 0 or size % 16 or size > MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be a positive multiple of 16 up to {MAX_CHUNK_SIZE}")
        return self._with(chunk_size=size)

    def set_reserve(self, size: int) -> EnvelopeBuilder:
        """Leave *size* bytes of empty segments before the ciphertext (BER only).

        The room lets the envelope be re-encrypted in place later
        (:func:`~bidcrypt.envelope.reencrypt` with no output) to recipients whose
        RecipientInfos are longer than the present ones.
        """
        if size < 0 or size == 1:
            raise ValueError("the reserve is 0 or at least 2 bytes")
        return self._with(reserve=size)

    def set_der(self, definite: bool | None = True) -> EnvelopeBuilder:
        """Write DER (definite lengths; the input size must be known) instead of indefinite-length BER.

        None (the default) writes DER for a GM/T 0010 envelope when the input
        size is known (GmSSL reads DER only), and BER otherwise.
        """
        return self._with(definite=definite)

    # --- encrypting ------------------------------------------------------------------------

    def _plan(self) -> EnvelopePlan:
        state = self._state
        if not state.recipients:
            raise ValueError("an envelope needs at least one recipient")
        check_all(state.recipients, state.at, state.trust)
        cipher = self.cipher
        check_suite(cipher, state.recipients)
        if state.attributes and not cipher.is_aead:
            raise ValueError("authenticated attributes need an AES-GCM (AuthEnvelopedData) envelope")
        content_type = state.content_type or cipher.data_type
        authenticated = state.attributes + state.readable if cipher.is_aead else state.attributes
        unauthenticated = state.unauthenticated + (() if cipher.is_aead else state.readable)
        if len({a.oid for a in unauthenticated}) != len(unauthenticated):
            raise ValueError("an attribute is set twice")
        auth_attrs = aad = b""
        if cipher.is_aead and (authenticated or content_type != alg.DATA):
            attributes = (
                Attribute(alg.CONTENT_TYPE_ATTRIBUTE, (der.oid(content_type),)),
                *authenticated,
            )
            encoded = [attribute.encode() for attribute in attributes]
            auth_attrs = der.context(1, b"".join(sorted(encoded)))
            aad = der.set_of(encoded)
        unauth_attrs = b""
        if unauthenticated:
            tag = 2 if cipher.is_aead else 1
            unauth_attrs = der.context(tag, b"".join(sorted(a.encode() for a in unauthenticated)))
        key = new_content_key(cipher)
        if cipher.is_aead:
            parameters = alg.CipherParameters(cipher, os.urandom(alg.GCM_NONCE_LENGTH), alg.GCM_TAG_LENGTH)
        else:
            parameters = alg.CipherParameters(cipher, os.urandom(alg.CBC_IV_LENGTH))
        return EnvelopePlan(
            cipher=parameters,
            content_key=key,
            recipient_infos=der.set_of(recipient.wrap(key) for recipient in state.recipients),
            inner_content_type=content_type,
            auth_attrs=auth_attrs,
            aad=aad,
            definite=bool(state.definite),
            chunk_size=state.chunk_size,
            unauth_attrs=unauth_attrs,
            reserve=0 if state.definite else state.reserve,
        )

    def _plan_for(self, size: int | None) -> EnvelopePlan:
        """The plan, with the encoding settled for an input of *size* bytes (None: unknown)."""
        plan = self._plan()
        if self._state.definite is None and plan.cipher.cipher.is_gm and size is not None:
            return replace(plan, definite=True, reserve=0)
        return plan

    def _result(self, output: Path | None, plaintext: int, envelope: int) -> EncryptResult:
        return EncryptResult(
            output=output,
            cipher=self.cipher,
            recipients=tuple(r.describe() for r in self._state.recipients),
            plaintext_size=plaintext,
            envelope_size=envelope,
        )

    def encrypt(
        self,
        source: BinaryIO,
        sink: Sink,
        size: int | None = None,
        *,
        progress: ByteProgress | None = None,
    ) -> int:
        """Encrypt the binary stream *source* into *sink*, streaming; return the plaintext length.

        *size* (the exact length of *source*) is required for DER output.
        Nothing here makes *sink* atomic: see :meth:`encrypt_file`.
        *progress* is called after each chunk with the plaintext bytes read and *size*.
        """
        plan = self._plan_for(size)
        return write_envelope(plan, source, _Counting(sink), size, progress)

    def encrypt_bytes(self, data: bytes) -> bytes:
        """The envelope of *data*, in memory."""
        out = io.BytesIO()
        self.encrypt(io.BytesIO(data), out, len(data))
        return out.getvalue()

    def encrypt_file(
        self,
        source: PathArg,
        output: PathArg,
        *,
        force: bool = False,
        durable: bool = True,
        progress: ByteProgress | None = None,
    ) -> EncryptResult:
        """Encrypt the file *source* to *output*, which appears only when complete.

        An existing *output* is an :class:`~bidcrypt.errors.OutputExistsError`
        unless *force*. ``durable=False`` skips the sync to the disk (see
        :func:`bidcrypt.files.atomic_output`). *progress* is called after each
        chunk with the plaintext bytes read and the file's size (None for a pipe).
        """
        source, output = as_path(source), as_path(output)
        check_output(output, force)
        plan = self._plan()
        with open_input(source, streams=True) as stream:
            size = os.fstat(stream.fileno()).st_size if source.is_file() else None
            if self._state.definite is None and plan.cipher.cipher.is_gm and size is not None:
                plan = replace(plan, definite=True, reserve=0)
            if plan.definite and size is None:
                raise InputError("DER output needs a regular file as input", path=source)
            with atomic_output(output, force=force, durable=durable) as sink:
                counting = _Counting(sink)
                try:
                    plaintext = write_envelope(plan, stream, counting, size, progress)
                except OSError as exc:
                    raise input_error(exc, source) from exc
        return self._result(output, plaintext, counting.count)


def _attribute(oid: str, values: tuple[bytes, ...], existing: tuple[Attribute, ...]) -> Attribute:
    der.oid(oid)
    if not values:
        raise ValueError("an attribute needs at least one value")
    for value in values:
        node = ber.parse(value, "attribute value")
        if node.head.length is None:
            raise ValueError("attribute values must be DER")
    if any(a.oid == oid for a in existing):
        raise ValueError(f"attribute {oid} is already set")
    return Attribute(oid, tuple(values))


class _Counting:
    """Counts what passes to the sink."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self.sink.write(data)
        self.count += len(data)
        return len(data)
