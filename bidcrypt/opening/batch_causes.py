"""Why a bid of a batch is not opened (yet): the causes the batch writes, and whose fault they are."""

from __future__ import annotations

import os
from pathlib import Path

from bidcrypt.errors import (
    BidcryptError,
    KeySourceError,
    OpeningError,
    OutputError,
    PackageError,
    ReceiptMismatchError,
    WrongKeyError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.ledger import Row

__all__ = ["malformed", "not_for_this_key", "stops_the_batch", "stored_file_problem", "unforeseen"]


def stops_the_batch(error: BidcryptError) -> bool:
    """True for a failure of the machine (token, PIN, the session's disk); False for one of a bid.

    The unwrap says whose fault a failure is: an envelope error (a wrapped
    key that does not unwrap, an unknown algorithm, a key transport this
    token cannot undo, a malformed recipient) is the bid's; a key-source
    error is the machine's.
    """
    return isinstance(error, KeySourceError | OutputError)


def unforeseen(exc: Exception) -> OpeningError:
    return OpeningError(
        Text(
            "unforeseen error ({exc_name}); the bid stays pending for another run",
            "发生意外错误（{exc_name}），该投标文件保持待解密，可再次运行",
            exc_name=type(exc).__name__,
        )
    )


def stored_file_problem(row: Row, path: Path) -> ReceiptMismatchError | None:
    """A receipt mismatch when the stored submission is missing or is not a regular file."""
    if Path(str(row["stored_as"])) != path.relative_to(path.parent.parent):
        detail = Text("the ledger names another stored file", "账本记录的存储文件路径不符")
    elif not os.path.lexists(path):
        detail = Text("the stored submission is missing", "存储的投标文件不存在")
    elif path.is_symlink() or not path.is_file():
        detail = Text("the stored submission is not a regular file", "存储的投标文件不是普通文件")
    else:
        return None
    return ReceiptMismatchError(detail, actual="-", expected=row["sha256"])


def not_for_this_key() -> WrongKeyError:
    return WrongKeyError(
        Text("not encrypted to the key used for this opening", "该投标文件未加密给本次开标使用的密钥")
    )


def malformed(exc: Exception) -> BidcryptError:
    return PackageError(
        Text(
            "the package header cannot be read ({exc_name})",
            "无法读取文件包头（{exc_name}）",
            exc_name=type(exc).__name__,
        )
    )
