"""The one error hierarchy of bidcrypt.

Every failure a user must tell apart has its own class with a stable
``code`` (a short kebab-case string that never changes), an English and a
Chinese message template, and optionally a hint saying what to do about it.
Messages are rendered, in the reader's language, when they are shown (see
:mod:`bidcrypt.errors.base`). The CLI maps classes to exit codes in
:mod:`bidcrypt.cli.exit_codes`.

The classes live in one module per layer (files, keys, certificates,
envelopes, seals, packages, opening sessions); all are exported here.

Messages never contain a PIN or password: the classes only ever receive
names, labels, paths and certificate details.
"""

from __future__ import annotations

from bidcrypt.errors.base import BidcryptError, Detail, error_class, error_from_json
from bidcrypt.errors.certs import (
    CertificateError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    CertificateUntrustedError,
    CreditCodeError,
    IdentityMismatchError,
    TimestampError,
    WrongKeyUsageError,
)
from bidcrypt.errors.envelope import (
    EnvelopeError,
    IntegrityError,
    KeyTransportUnsupportedError,
    MalformedEnvelopeError,
    PaddingError,
    TokenCipherUnsupportedError,
    UnsupportedAlgorithmError,
    WrongKeyError,
)
from bidcrypt.errors.files import InputError, OutputError, OutputExistsError
from bidcrypt.errors.keys import (
    CertificateMissingError,
    CryptoLibraryError,
    KeyNotFoundError,
    KeyRefError,
    KeySourceError,
    MechanismUnsupportedError,
    ModuleLoadError,
    ModuleMissingError,
    PinFinalTryError,
    PinIncorrectError,
    PinLockedError,
    PinUnavailableError,
    SkfApplicationMissingError,
    SkfCertificateMissingError,
    SkfContainerMissingError,
    SkfLibraryLoadError,
    SkfLibraryMissingError,
    TokenAbsentError,
    TokenError,
    TokenRemovedError,
)
from bidcrypt.errors.opening import (
    AlreadyBoundError,
    DeadlinePassedError,
    LedgerError,
    NoCertificateBoundError,
    NotOpeningTimeError,
    OpeningError,
    PackageTooLargeError,
    ReceiptMismatchError,
    SessionBusyError,
    SessionIncompleteError,
    SessionReadOnlyError,
    UnknownBidderError,
    WindowClosedError,
    WrongTenderError,
)
from bidcrypt.errors.package import (
    ManifestError,
    OldKeyUnavailableError,
    PackageError,
    PathRefusedError,
    ProfileError,
    ReencryptionRequiredError,
    UnsafePathError,
)
from bidcrypt.errors.seal import (
    DocumentModifiedError,
    EncryptedPdfError,
    KeyCertificateMismatchError,
    NoSealError,
    NotAPdfError,
    SealError,
    SealInvalidError,
    SealKindMismatchError,
)

__all__ = [
    "AlreadyBoundError",
    "BidcryptError",
    "CertificateError",
    "CertificateExpiredError",
    "CertificateMissingError",
    "CertificateNotYetValidError",
    "CertificateRevokedError",
    "CertificateUntrustedError",
    "CreditCodeError",
    "CryptoLibraryError",
    "DeadlinePassedError",
    "Detail",
    "DocumentModifiedError",
    "EncryptedPdfError",
    "EnvelopeError",
    "IdentityMismatchError",
    "InputError",
    "IntegrityError",
    "KeyCertificateMismatchError",
    "KeyNotFoundError",
    "KeyRefError",
    "KeySourceError",
    "KeyTransportUnsupportedError",
    "LedgerError",
    "MalformedEnvelopeError",
    "ManifestError",
    "MechanismUnsupportedError",
    "ModuleLoadError",
    "ModuleMissingError",
    "NoCertificateBoundError",
    "NoSealError",
    "NotAPdfError",
    "NotOpeningTimeError",
    "OldKeyUnavailableError",
    "OpeningError",
    "OutputError",
    "OutputExistsError",
    "PackageError",
    "PackageTooLargeError",
    "PaddingError",
    "PathRefusedError",
    "PinFinalTryError",
    "PinIncorrectError",
    "PinLockedError",
    "PinUnavailableError",
    "ProfileError",
    "ReceiptMismatchError",
    "ReencryptionRequiredError",
    "SealError",
    "SealInvalidError",
    "SealKindMismatchError",
    "SessionBusyError",
    "SessionIncompleteError",
    "SessionReadOnlyError",
    "SkfApplicationMissingError",
    "SkfCertificateMissingError",
    "SkfContainerMissingError",
    "SkfLibraryLoadError",
    "SkfLibraryMissingError",
    "TimestampError",
    "TokenAbsentError",
    "TokenCipherUnsupportedError",
    "TokenError",
    "TokenRemovedError",
    "UnknownBidderError",
    "UnsafePathError",
    "UnsupportedAlgorithmError",
    "WindowClosedError",
    "WrongKeyError",
    "WrongKeyUsageError",
    "WrongTenderError",
    "error_class",
    "error_from_json",
]
