"""The one place where errors become exit codes. The README's table is checked against this."""

from __future__ import annotations

from bidcrypt import errors as e

OK = 0
#: A bug in bidcrypt: an exception nobody expected (EX_SOFTWARE). The message asks for a report.
INTERNAL_ERROR = 70
#: Wrong command-line usage (click's own code).
USAGE = 2

#: Error class -> exit code. A class not listed takes the code of its nearest listed base.
EXIT_CODES: dict[type[e.BidcryptError], int] = {
    e.BidcryptError: 1,
    e.InputError: 3,
    e.PackageTooLargeError: 3,
    e.ProfileError: 3,
    e.ProfileMismatchError: 3,
    e.OutputExistsError: 4,
    e.OutputError: 5,
    e.KeySourceError: 17,
    e.ModuleLoadError: 10,
    e.CryptoLibraryError: 10,
    e.ModuleMissingError: 10,
    e.SkfLibraryLoadError: 10,
    e.SkfLibraryMissingError: 10,
    e.TokenAbsentError: 11,
    e.TokenRemovedError: 11,
    e.KeyNotFoundError: 12,
    e.CertificateMissingError: 12,
    e.SkfApplicationMissingError: 12,
    e.SkfContainerMissingError: 12,
    e.SkfCertificateMissingError: 12,
    e.PinIncorrectError: 13,
    e.PinLockedError: 14,
    e.PinFinalTryError: 15,
    e.PinUnavailableError: 16,
    e.TokenError: 17,
    e.MechanismUnsupportedError: 17,
    e.KeyRefError: 18,
    e.CertificateError: 26,
    e.CertificateExpiredError: 20,
    e.CertificateNotYetValidError: 21,
    e.WrongKeyUsageError: 22,
    e.CertificateUntrustedError: 23,
    e.CertificateRevokedError: 24,
    e.IdentityMismatchError: 25,
    e.CreditCodeError: 25,
    e.EnvelopeError: 30,
    e.MalformedEnvelopeError: 30,
    e.UnsupportedAlgorithmError: 31,
    e.KeyTransportUnsupportedError: 31,
    e.TokenCipherUnsupportedError: 31,
    e.WrongKeyError: 32,
    e.IntegrityError: 33,
    e.PaddingError: 33,
    e.SealError: 43,
    e.NotAPdfError: 40,
    e.EncryptedPdfError: 41,
    e.KeyCertificateMismatchError: 42,
    e.SealInvalidError: 43,
    e.DocumentModifiedError: 44,
    e.NoSealError: 45,
    e.SealKindMismatchError: 46,
    e.PackageError: 53,
    e.ReencryptionRequiredError: 50,
    e.UnsafePathError: 51,
    e.PathRefusedError: 51,
    e.OldKeyUnavailableError: 54,
    e.ManifestError: 52,
    e.TimestampError: 6,
    e.OpeningError: 63,
    e.DeadlinePassedError: 60,
    e.NotOpeningTimeError: 61,
    e.SessionBusyError: 62,
    e.ReceiptMismatchError: 64,
    e.UnknownBidderError: 65,
    e.WrongTenderError: 66,
    e.AlreadyBoundError: 67,
    e.NoCertificateBoundError: 68,
    e.WindowClosedError: 69,
    e.StatementError: 90,
    e.ReleaseUnavailableError: 91,
    e.ReleaseError: 80,
    e.ReleaseMalformedError: 81,
    e.ReleaseTooLargeError: 82,
    e.ReleaseNotForSessionError: 83,
    e.ReleaseReplayedError: 84,
    e.ReleaseNotCompanyError: 85,
    e.ReleaseSignatureInvalidError: 86,
    e.ReleaseNotThisBidderError: 87,
    e.ReleaseNoSubmissionError: 88,
    e.ReleaseKeyWrongError: 89,
    e.SigninChallengeError: 92,
    e.ShareNotMemberError: 93,
    e.ShareMismatchError: 94,
    e.CommitteeError: 71,
    e.QuorumNotReachedError: 72,
    e.WindowNotOpenError: 61,
    e.WindowPausedError: 59,
    e.WindowStartedError: 58,
    e.WindowNotPausedError: 58,
    e.AttributionError: 65,
    e.RuleError: 3,
    e.BackupRefusedError: 57,
    e.DeemedRevokedError: 63,
    e.DeemedWithdrawnError: 63,
    e.LedgerError: 7,
    e.SessionIncompleteError: 7,
    e.SessionReadOnlyError: 8,
    e.ServiceError: 95,
    e.RequestTooLargeError: 96,
    e.RateLimitedError: 97,
    e.ServiceNotFoundError: 98,
    e.RemoteUnreachableError: 99,
    e.RemoteRefusedError: 100,
}


def exit_code_for(error: e.BidcryptError | type[e.BidcryptError]) -> int:
    """The exit code of an error (instance or class), by its nearest listed class."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if klass in EXIT_CODES:
            return EXIT_CODES[klass]
    return INTERNAL_ERROR


def exit_code_for_code(code: str) -> int:
    """The exit code of the error class whose stable ``code`` is *code*."""
    for cls in EXIT_CODES:
        if cls.code == code:
            return exit_code_for(cls)
    return INTERNAL_ERROR


def table() -> list[tuple[int, str, str]]:
    """(exit code, error code, description) rows for documentation, sorted by exit code."""
    rows = [(code, cls.code, (cls.__doc__ or "").strip().splitlines()[0]) for cls, code in EXIT_CODES.items()]
    return sorted(rows)
