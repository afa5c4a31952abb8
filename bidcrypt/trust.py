"""Trust: does a certificate chain to the trusted CAs, and is it revoked?

A trust store is made of certificate files (self-signed certificates are
anchors, the others are intermediates available for path building) and,
optionally, CRLs. Everything is offline: nothing is fetched.

:meth:`TrustStore.async_validate` (and its synchronous twin
:meth:`TrustStore.validate`) is the verdict: the chain, by pyhanko-certvalidator
(the RFC 5280 path validator pyHanko is built on), refusing a certificate the
CRLs revoke; a certificate whose issuer published no CRL here is not treated
as revoked. :meth:`TrustStore.revocation_status` is the detail a report shows:
whether the CRLs were asked at all, whether one of the issuer spoke
(good / revoked, with the date and reason) and whether it was out of date.

A :class:`ValidationCache` keeps verdicts so that the same certificate,
asked about at the same time against the same store, is validated once (per
package, batch or worker process: the caller decides by holding the cache).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bidcrypt import certs
from bidcrypt.aio import run_sync
from bidcrypt.errors import (
    BidcryptError,
    CertificateExpiredError,
    CertificateRevokedError,
    CertificateUntrustedError,
    InputError,
)
from bidcrypt.files import CRL, PathArg, read_input
from bidcrypt.i18n import Text

if TYPE_CHECKING:
    from pyhanko_certvalidator import ValidationContext

#: CRLs larger than this are refused before being read.
MAX_CRL_SIZE = CRL.max_size


def _self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


RevocationState = Literal["good", "revoked", "unknown", "not-checked"]


@dataclass(frozen=True)
class RevocationStatus:
    """What the given CRLs say about one certificate.

    ``good``: a CRL of its issuer does not list it; ``revoked``: one does;
    ``unknown``: CRLs were given but none of its issuer; ``not-checked``: no
    CRL was given.
    """

    state: RevocationState
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    crl_next_update: dt.datetime | None = None
    stale: bool = False


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors, intermediates for path building, and CRLs (DER)."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()

    @classmethod
    def load(cls, certificate_files: Iterable[PathArg], crl_files: Iterable[PathArg] = ()) -> TrustStore:
        """Read PEM/DER certificate files (anchors = the self-signed ones) and DER/PEM CRLs.

        Each file must be a regular file within the size limits of
        :data:`bidcrypt.files.CERTIFICATES` and :data:`bidcrypt.files.CRL`.
        """
        certificate_files = list(certificate_files)
        found: list[x509.Certificate] = []
        for path in certificate_files:
            found.extend(certs.load_certificates(path))
        found = certs.unique(found)
        anchors = tuple(c for c in found if _self_signed(c))
        if not anchors:
            raise InputError(
                Text("no self-signed CA certificate to trust", "没有可信任的自签名 CA 证书"),
                path=", ".join(str(p) for p in certificate_files),
            )
        return cls(
            anchors,
            tuple(c for c in found if not _self_signed(c)),
            tuple(_load_crl(path) for path in crl_files),
        )

    def with_intermediates(self, extra: Sequence[x509.Certificate]) -> TrustStore:
        """The same store with more intermediates (e.g. those shipped in a signature)."""
        return TrustStore(self.anchors, tuple(certs.unique([*self.intermediates, *extra])), self.crls)

    def validation_context(
        self, at: dt.datetime | None = None, extra_certificates: Sequence[x509.Certificate] = ()
    ) -> ValidationContext:
        """pyHanko's validation context for this store at *at* (default: now).

        Offline: nothing is fetched, and revocation is soft-fail, so only a
        CRL given here can make a certificate revoked. A CRL issued after *at*
        still counts (retroactively): judging a seal at its timestamp, a later
        CRL tells whether the certificate had been revoked by then.
        """
        from pyhanko_certvalidator import ValidationContext

        return ValidationContext(
            trust_roots=[certs.to_asn1(c) for c in self.anchors],
            other_certs=[certs.to_asn1(c) for c in (*self.intermediates, *extra_certificates)],
            crls=list(self.crls),
            moment=at or dt.datetime.now(dt.UTC),
            allow_fetching=False,
            revocation_mode="soft-fail",
            retroactive_revinfo=True,
        )

    async def async_validate(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
        *,
        cache: ValidationCache | None = None,
    ) -> list[x509.Certificate]:
        """Check that *certificate* chains to an anchor and is not revoked at *at* (default: now).

        Returns the chain (end entity first). Raises
        :class:`CertificateUntrustedError`, :class:`CertificateRevokedError` or
        :class:`CertificateExpiredError`. With a *cache*, a question already
        answered (same certificate, time, store and extra certificates) is
        answered from it, verdict and error alike. Offline, the validation is
        a few milliseconds of CPU and runs on the caller's loop.
        """
        moment = at or dt.datetime.now(dt.UTC)
        if cache is None:
            return await self._validate(certificate, moment, extra_certificates)
        key = cache.key(self, certificate, moment, extra_certificates)
        known = cache.get(key)
        if known is None:
            try:
                chain = await self._validate(certificate, moment, extra_certificates)
            except BidcryptError as error:
                cache.put(key, error)
                raise
            cache.put(key, tuple(chain))
            return chain
        if isinstance(known, BidcryptError):
            raise known.with_traceback(None)
        return list(known)

    def validate(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
        *,
        cache: ValidationCache | None = None,
    ) -> list[x509.Certificate]:
        """:meth:`async_validate` for synchronous callers (with or without a running event loop)."""
        return run_sync(self.async_validate(certificate, at, extra_certificates, cache=cache))

    async def _validate(
        self, certificate: x509.Certificate, at: dt.datetime, extra_certificates: Sequence[x509.Certificate]
    ) -> list[x509.Certificate]:
        from pyhanko_certvalidator import CertificateValidator
        from pyhanko_certvalidator import errors as validation_errors

        context = self.validation_context(at, extra_certificates)
        validator = CertificateValidator(certs.to_asn1(certificate), validation_context=context)
        subject = certs.display_name(certificate)
        try:
            path = await validator.async_validate_path()
        except validation_errors.RevokedError as exc:
            revoked_at = getattr(exc, "revocation_dt", None)
            raise CertificateRevokedError(
                subject=subject, revoked_at=certs.format_time(revoked_at) if revoked_at else "-"
            ) from exc
        except validation_errors.ExpiredError as exc:
            raise CertificateExpiredError(
                subject=subject, not_after=certs.format_time(certificate.not_valid_after_utc)
            ) from exc
        except (
            validation_errors.PathBuildingError,
            validation_errors.PathValidationError,
            validation_errors.InvalidCertificateError,
        ) as exc:
            raise CertificateUntrustedError(str(exc).split("\n")[0][:200], subject=subject) from exc
        return [x509.load_der_x509_certificate(c.dump()) for c in reversed(list(path))]

    def revocation_status(
        self,
        certificate: x509.Certificate,
        at: dt.datetime | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> RevocationStatus:
        """What the store's CRLs say about *certificate* at *at* (default: now).

        A CRL counts when its issuer is the certificate's issuer and its
        signature verifies with that issuer's key; the issuer is looked for
        among the anchors, the intermediates and *extra_certificates* (e.g.
        those embedded in a signature).
        """
        if not self.crls:
            return RevocationStatus("not-checked")
        moment = at or dt.datetime.now(dt.UTC)
        issuers = [
            c
            for c in (*self.anchors, *self.intermediates, *extra_certificates)
            if c.subject == certificate.issuer
        ]
        for crl in self._parsed_crls:
            if crl.issuer != certificate.issuer or not any(_signed_by(crl, issuer) for issuer in issuers):
                continue
            next_update = crl.next_update_utc
            stale = next_update is not None and next_update < moment
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if entry is None:
                return RevocationStatus("good", crl_next_update=next_update, stale=stale)
            reason = None
            with contextlib.suppress(x509.ExtensionNotFound):
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
            return RevocationStatus(
                "revoked",
                revoked_at=entry.revocation_date_utc,
                reason=reason,
                crl_next_update=next_update,
                stale=stale,
            )
        return RevocationStatus("unknown")

    @cached_property
    def fingerprint(self) -> bytes:
        """SHA-256 over the anchors, intermediates and CRLs: equal for stores that answer alike."""
        digest = hashlib.sha256()
        for part, items in (
            (b"anchors", [_fingerprint(c) for c in self.anchors]),
            (b"intermediates", [_fingerprint(c) for c in self.intermediates]),
            (b"crls", list(self.crls)),
        ):
            digest.update(part + len(items).to_bytes(4, "big"))
            for item in items:
                digest.update(len(item).to_bytes(8, "big") + item)
        return digest.digest()

    @cached_property
    def certificate_fingerprints(self) -> frozenset[bytes]:
        """SHA-256 fingerprints of the anchors and intermediates (extra copies of them change nothing)."""
        return frozenset(_fingerprint(c) for c in (*self.anchors, *self.intermediates))

    @cached_property
    def _parsed_crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return tuple(x509.load_der_x509_crl(data) for data in self.crls)


#: What a cached answer is: the chain (end entity first), or the error the validation raised.
CachedVerdict = tuple[x509.Certificate, ...] | BidcryptError

#: The question a cached verdict answers: certificate, time, store, extra certificates.
ValidationKey = tuple[bytes, dt.datetime, bytes, frozenset[bytes]]


class ValidationCache:
    """Chain verdicts already reached, reused only for the same question.

    A question is: this certificate (by SHA-256 fingerprint), at this time,
    against this trust store (anchors, intermediates and CRLs, by content),
    with these extra certificates (e.g. those a signature embeds; the
    certificate itself and those the store holds already do not make another
    question). Pass one
    cache to :meth:`TrustStore.validate` and to the engines that validate
    chains (``verify_seals``, ``unpack``, ``open_content``...) to validate the
    same bidder's certificate once per package, per batch or per worker
    process. Errors are cached too, so a refused certificate is refused again
    without a second validation. Thread-safe; holds at most *max_entries*
    verdicts (the least recently used go first). Two coroutines asking the
    same new question at the same moment may both validate.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._verdicts: OrderedDict[ValidationKey, CachedVerdict] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._verdicts)

    @staticmethod
    def key(
        store: TrustStore,
        certificate: x509.Certificate,
        at: dt.datetime,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> ValidationKey:
        """The question validating *certificate* at *at* against *store* asks."""
        own = _fingerprint(certificate)
        extra = frozenset(_fingerprint(c) for c in extra_certificates) - store.certificate_fingerprints
        return (own, at, store.fingerprint, extra - {own})

    def get(self, key: ValidationKey) -> CachedVerdict | None:
        """The verdict for *key*, if known (counted as a hit or a miss)."""
        with self._lock:
            verdict = self._verdicts.get(key)
            if verdict is None:
                self.misses += 1
                return None
            self.hits += 1
            self._verdicts.move_to_end(key)
            return verdict

    def put(self, key: ValidationKey, verdict: CachedVerdict) -> None:
        """Remember *verdict* for *key*."""
        with self._lock:
            self._verdicts[key] = verdict
            self._verdicts.move_to_end(key)
            while len(self._verdicts) > self.max_entries:
                self._verdicts.popitem(last=False)

    def clear(self) -> None:
        """Forget every verdict (e.g. when the CRLs on disk were replaced: a new store is read anyway)."""
        with self._lock:
            self._verdicts.clear()


def _fingerprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    public_key = certs.public_key(issuer)
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return False
    return crl.is_signature_valid(public_key)


def _load_crl(path: PathArg) -> bytes:
    data = read_input(path, CRL)
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise InputError(Text("not a CRL", "不是证书吊销列表"), path=path) from exc
    return crl.public_bytes(serialization.Encoding.DER)
