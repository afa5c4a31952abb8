"""SKF status codes (``SAR_*``, GM/T 0016) and the bidcrypt errors they become.

The binding (:mod:`bidcrypt.keys.skf_library`) raises :class:`SkfCallError`,
which carries the function and the status; the key source turns it into a
:class:`~bidcrypt.errors.BidcryptError` with :func:`translate`, knowing what
it was doing (which device, application or container). The codes told apart
are the table of ``docs/skf.md``; any other is a token error quoting the
code in hex.
"""

from __future__ import annotations

from dataclasses import dataclass

from bidcrypt.errors import (
    BidcryptError,
    MechanismUnsupportedError,
    PinIncorrectError,
    PinLockedError,
    SkfApplicationMissingError,
    SkfCertificateMissingError,
    SkfContainerMissingError,
    TokenError,
    TokenRemovedError,
    WrongKeyError,
)
from bidcrypt.i18n import Text

SAR_OK = 0x00000000
SAR_NOTSUPPORTYETERR = 0x0A000003
SAR_INVALIDPARAMERR = 0x0A000006
SAR_INDATAERR = 0x0A000011
SAR_RSADECERR = 0x0A000019
SAR_KEYNOTFOUNTERR = 0x0A00001B
SAR_CERTNOTFOUNTERR = 0x0A00001C
SAR_BUFFER_TOO_SMALL = 0x0A000020
SAR_DEVICE_REMOVED = 0x0A000023
SAR_PIN_INCORRECT = 0x0A000024
SAR_PIN_LOCKED = 0x0A000025
SAR_USER_NOT_LOGGED_IN = 0x0A00002D
SAR_APPLICATION_NOT_EXISTS = 0x0A00002E
SAR_FILE_NOT_EXIST = 0x0A000031

#: The names of the codes bidcrypt knows, for messages.
NAMES = {
    SAR_NOTSUPPORTYETERR: "SAR_NOTSUPPORTYETERR",
    SAR_INVALIDPARAMERR: "SAR_INVALIDPARAMERR",
    SAR_INDATAERR: "SAR_INDATAERR",
    SAR_RSADECERR: "SAR_RSADECERR",
    SAR_KEYNOTFOUNTERR: "SAR_KEYNOTFOUNTERR",
    SAR_CERTNOTFOUNTERR: "SAR_CERTNOTFOUNTERR",
    SAR_BUFFER_TOO_SMALL: "SAR_BUFFER_TOO_SMALL",
    SAR_DEVICE_REMOVED: "SAR_DEVICE_REMOVED",
    SAR_PIN_INCORRECT: "SAR_PIN_INCORRECT",
    SAR_PIN_LOCKED: "SAR_PIN_LOCKED",
    SAR_USER_NOT_LOGGED_IN: "SAR_USER_NOT_LOGGED_IN",
    SAR_APPLICATION_NOT_EXISTS: "SAR_APPLICATION_NOT_EXISTS",
    SAR_FILE_NOT_EXIST: "SAR_FILE_NOT_EXIST",
}
#: Codes that, from a private-key decryption or a key import, say the wrapped key is not for this key.
WRONG_KEY = frozenset({SAR_RSADECERR, SAR_INDATAERR})


def status_text(status: int) -> str:
    """``0x0A000024 (SAR_PIN_INCORRECT)``, or the bare hex of a code bidcrypt does not know."""
    name = NAMES.get(status)
    return f"0x{status:08X}" + (f" ({name})" if name else "")


class SkfCallError(Exception):
    """An SKF function answered a status other than ``SAR_OK``, or an answer bidcrypt refuses.

    *status* is None when the library answered OK but with something
    impossible (a size larger than the buffer given, or than bidcrypt's
    caps); *reason* then says what.
    """

    def __init__(self, function: str, status: int | None, reason: str = "", retries: int | None = None):
        self.function = function
        self.status = status
        self.reason = reason
        #: From ``SKF_VerifyPIN``: the tries left after a wrong PIN.
        self.retries = retries
        shown = status_text(status) if status is not None else reason
        super().__init__(f"{function}: {shown}")

    def describe(self) -> str:
        """``SKF_ExportCertificate answered 0x0A00001C (SAR_CERTNOTFOUNTERR)``: for an error's detail."""
        if self.status is None:
            return f"{self.function}: {self.reason}"
        return f"{self.function} answered {status_text(self.status)}"


@dataclass(frozen=True)
class Where:
    """What bidcrypt was doing when an SKF call failed: on which token, application and container."""

    source: str
    application: str = "-"
    container: str = "-"
    #: The operation, for "not supported" (e.g. "SM2 signature").
    operation: str = "-"
    #: True for a private-key decryption or a key import: a refused input means a wrong key.
    unwrapping: bool = False


def translate(failure: SkfCallError, where: Where) -> BidcryptError:
    """The bidcrypt error for *failure* in the context *where*."""
    status = failure.status
    detail = failure.describe()
    if status is None:
        return TokenError(
            Text(
                "the SKF library gave an impossible answer ({detail})",
                "SKF 驱动库返回了不可能的结果（{detail}）",
                detail=detail,
            ),
            source=where.source,
        )
    if status == SAR_DEVICE_REMOVED:
        return TokenRemovedError(detail, token=where.source, available="-")
    if status == SAR_PIN_INCORRECT:
        return pin_incorrect(where.source, failure.retries)
    if status == SAR_PIN_LOCKED:
        return PinLockedError(detail, source=where.source)
    if status == SAR_APPLICATION_NOT_EXISTS:
        return SkfApplicationMissingError(
            detail, source=where.source, wanted=f" {where.application}", available="-"
        )
    if status == SAR_FILE_NOT_EXIST and failure.function == "SKF_OpenContainer":
        return SkfContainerMissingError(
            detail,
            source=where.source,
            application=where.application,
            wanted=f" {where.container}",
            available="-",
        )
    if status == SAR_NOTSUPPORTYETERR:
        return MechanismUnsupportedError(detail, source=where.source, operation=where.operation)
    if where.unwrapping and status in WRONG_KEY:
        return WrongKeyError(detail)
    if status == SAR_KEYNOTFOUNTERR:
        return MechanismUnsupportedError(
            Text("the container holds no such key ({detail})", "容器中没有该密钥（{detail}）", detail=detail),
            source=where.source,
            operation=where.operation,
        )
    if status == SAR_CERTNOTFOUNTERR:
        return SkfCertificateMissingError(
            detail, source=where.source, container=where.container, purpose=Text("such", "所需")
        )
    return TokenError(detail, source=where.source)


def pin_incorrect(source: str, retries: int | None) -> PinIncorrectError:
    """A refused PIN, saying how many tries are left when the token said."""
    if retries is None:
        return PinIncorrectError(source=source)
    if retries == 0:
        return PinIncorrectError(
            Text("no tries left: the PIN is now locked", "已无剩余次数：PIN 码已被锁定"),
            source=source,
            retries_left=retries,
        )
    return PinIncorrectError(
        Text("{retries_left} tries left", "还剩 {retries_left} 次机会", retries_left=retries),
        source=source,
        retries_left=retries,
    )


__all__ = [
    "NAMES",
    "SAR_APPLICATION_NOT_EXISTS",
    "SAR_BUFFER_TOO_SMALL",
    "SAR_CERTNOTFOUNTERR",
    "SAR_DEVICE_REMOVED",
    "SAR_FILE_NOT_EXIST",
    "SAR_INDATAERR",
    "SAR_INVALIDPARAMERR",
    "SAR_KEYNOTFOUNTERR",
    "SAR_NOTSUPPORTYETERR",
    "SAR_OK",
    "SAR_PIN_INCORRECT",
    "SAR_PIN_LOCKED",
    "SAR_RSADECERR",
    "SAR_USER_NOT_LOGGED_IN",
    "WRONG_KEY",
    "SkfCallError",
    "Where",
    "pin_incorrect",
    "status_text",
    "translate",
]
