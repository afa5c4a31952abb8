"""The checks of each certificate: validity and credit code, and with a login what its key really does.

With a login, a signing key makes a test signature that is verified against
its certificate, and an encryption key recovers a content key wrapped to its
certificate by the path the source offers: the fast path unwraps it (a trial
decryption of each RSA key transport the source claims; an SM2 round trip,
reported as the transport ``sm2``), the standard path imports it into the
token and decrypts a test block there, compared with the same block
encrypted in software.
"""

from __future__ import annotations

import datetime as dt
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bidcrypt import certs, gm
from bidcrypt.doctor.report import CertificateCheck, DoctorReport
from bidcrypt.envelope import probe_transports
from bidcrypt.errors import (
    BidcryptError,
    CreditCodeError,
    KeyCertificateMismatchError,
    KeyNotFoundError,
    WrongKeyError,
)
from bidcrypt.i18n import Text, pick
from bidcrypt.keys import KeyEntry, scheme_for_key

#: The name doctor gives an SM2 key's decryption in ``key_transports``.
SM2_TRANSPORT = "sm2"
#: The RSA key transport the standard path (a key imported into the token) undoes.
PKCS1V15_TRANSPORT = "pkcs1v15"
#: The content cipher of the standard path's test, by the key's kind (what a package of that kind uses).
_TEST_CIPHERS = {SM2_TRANSPORT: "sm4-cbc", PKCS1V15_TRANSPORT: "aes-256-cbc"}


def check_certificate(
    entry: KeyEntry, report: DoctorReport, moment: dt.datetime, login: bool
) -> CertificateCheck:
    """Check one certificate of the source (and its private key when *login*); problems go to *report*."""
    certificate = entry.certificate
    summary = certs.CertificateSummary.of(certificate)
    valid = True
    try:
        certs.require_valid_at(certificate, moment)
    except BidcryptError as error:
        valid = False
        report.problem(error)
    if summary.credit_code is None and certs.credit_code_candidates(certificate):
        report.problem(
            CreditCodeError(
                pick("in certificate ", "证书 ") + summary.subject,
                value=certs.credit_code_candidates(certificate)[0],
            )
        )
    purposes = certs.purposes(certificate)
    decryption = None
    if certs.Purpose.ENCRYPTION in purposes:
        decryption = "fast" if entry.returns_content_keys else "standard"
    private_key = None
    signature = None
    transports: tuple[str, ...] = ()
    if login:
        private_key = entry.has_private_key
        if not private_key:
            report.problem(
                KeyNotFoundError(what=Text("private key", "私钥"), ref=f"{entry.source}:{entry.label}")
            )
        else:
            if certs.Purpose.SIGNING in purposes:
                signature = _test_signature(entry, report)
            if certs.Purpose.ENCRYPTION in purposes:
                transports = _test_decryption(entry, report)
    return CertificateCheck(entry.label, summary, valid, private_key, transports, signature, decryption)


def _test_signature(entry: KeyEntry, report: DoctorReport) -> bool:
    """True when a signature made by *entry* over random bytes verifies against its certificate."""
    public_key = certs.public_key(entry.certificate)
    scheme = scheme_for_key(public_key)
    if scheme is None:  # a key bidcrypt cannot sign with: the certificate's summary says which
        return False
    hash_name = scheme.signing_hash
    data = b"bidcrypt doctor test signature " + os.urandom(16)
    try:
        scheme.verify(public_key, entry.sign(data, hash_name), data, hash_name)
    except InvalidSignature:
        report.problem(KeyCertificateMismatchError(subject=certs.display_name(entry.certificate)))
        return False
    except BidcryptError as error:
        report.problem(error)
        return False
    return True


def _test_decryption(entry: KeyEntry, report: DoctorReport) -> tuple[str, ...]:
    """The key transports *entry* was seen to undo (``sm2`` for an SM2 key); what failed goes to *report*."""
    public_key = certs.public_key(entry.certificate)
    is_sm2 = isinstance(public_key, gm.Sm2PublicKey)
    try:
        if not entry.returns_content_keys:
            return _imported_round_trip(entry, SM2_TRANSPORT if is_sm2 else PKCS1V15_TRANSPORT)
        if is_sm2:
            return _sm2_round_trip(entry)
        return tuple(t.value for t in probe_transports(entry))
    except WrongKeyError:
        report.problem(KeyCertificateMismatchError(subject=certs.display_name(entry.certificate)))
    except BidcryptError as error:
        report.problem(error)
    return ()


def _sm2_round_trip(entry: KeyEntry) -> tuple[str, ...]:
    """``("sm2",)`` when the entry decrypts a key SM2-encrypted to its certificate."""
    public_key = certs.public_key(entry.certificate)
    assert isinstance(public_key, gm.Sm2PublicKey)
    probe = os.urandom(16)
    if entry.sm2_decrypt(public_key.encrypt(probe)) != probe:
        raise WrongKeyError()
    return (SM2_TRANSPORT,)


def _imported_round_trip(entry: KeyEntry, wrap: str) -> tuple[str, ...]:
    """``(wrap,)`` when a key wrapped to the certificate, imported into the token, decrypts a test block.

    The block is encrypted in software with the key; the token must give the same bytes back.
    """
    cipher = _TEST_CIPHERS[wrap]
    key = os.urandom(16 if cipher == "sm4-cbc" else 32)
    public_key = certs.public_key(entry.certificate)
    if isinstance(public_key, gm.Sm2PublicKey):
        wrapped = public_key.encrypt(key)
    elif isinstance(public_key, rsa.RSAPublicKey):
        wrapped = public_key.encrypt(key, padding.PKCS1v15())
    else:
        raise WrongKeyError()
    iv = os.urandom(16)
    plaintext = os.urandom(64)
    algorithm = algorithms.SM4(key) if cipher == "sm4-cbc" else algorithms.AES(key)
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    with entry.import_content_key(wrapped, wrap, cipher) as token_key:
        decryptor = token_key.decryptor(iv)
        recovered = decryptor.update(ciphertext) + decryptor.finalize()
    if recovered != plaintext:
        raise WrongKeyError()
    return (wrap,)
