"""An opening session: the tender, its bidders and their certificates, submissions and receipts.

A session is a folder::

    SESSION/ledger.sqlite        the durable ledger (see ledger.py)
    SESSION/trust/               the CA certificates and CRLs the opening trusts (copied at creation)
    SESSION/submissions/N.bid    each accepted submission, stored read-only, never modified
    SESSION/opened/N/            the files of submission N once opened and verified

Submissions are checked without a key: tender and lot, the bidder's
registration, the deadline, and the re-encrypt rule against the bidder's
currently bound encryption certificates. Every refusal is recorded too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bidcrypt import certs, uscc
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock, Stamp, SystemClock
from bidcrypt.errors import (
    AlreadyBoundError,
    BidcryptError,
    DeadlinePassedError,
    IdentityMismatchError,
    InputError,
    NoCertificateBoundError,
    OpeningError,
    PackageTooLargeError,
    WrongTenderError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.causes import stored
from bidcrypt.opening.creation import SUBFOLDERS, build_session
from bidcrypt.opening.custody import RemoteSettings
from bidcrypt.opening.incoming import Incoming
from bidcrypt.opening.ledger import Ledger, Row, dumps, now_text
from bidcrypt.opening.ledger_check import check_ledger
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.session_view import Receipt, SessionSettings, SessionView
from bidcrypt.package import PackageInfo, check_package, read_package_info

__all__ = ["OpeningSession", "Receipt", "SessionSettings"]


class OpeningSession(SessionView):
    """One tender's opening: create it, register bidders, take submissions, close the window.

    The ledger façade tender software embeds (what it reads is :class:`SessionView`'s); opening the
    bids is :func:`bidcrypt.opening.open_bids` and the record :func:`bidcrypt.opening.build_record`,
    functions over a session. The CLI ``bidcrypt opening`` is a thin layer over them.
    """

    # -- creating and loading ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        *,
        tender: str,
        deadline: dt.datetime,
        opening_time: dt.datetime,
        trust: Sequence[str | os.PathLike[str]],
        crls: Sequence[str | os.PathLike[str]] = (),
        lots: Sequence[str] = (),
        max_package_size: int | None = None,
        remote: RemoteSettings | None = None,
    ) -> OpeningSession:
        """Create a new session folder (it must not exist, or be empty): complete, or nothing at all.

        A lot given twice, a blank tender, a bad trust file: refused before
        anything is made. See :mod:`bidcrypt.opening.creation`. *max_package_size*
        is the largest package :meth:`submit` accepts, in bytes (default 4 GiB).
        *remote* makes a remote-opening session: its keys, custody and signed
        profile (:class:`~bidcrypt.opening.custody.RemoteSettings`, docs/remote.md).
        """
        folder = Path(directory)
        build_session(
            folder,
            tender=tender,
            deadline=deadline,
            opening_time=opening_time,
            trust=[Path(p) for p in trust],
            crls=[Path(p) for p in crls],
            lots=lots,
            max_package_size=max_package_size,
            remote=remote,
        )
        return cls.load(folder)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, read_only: bool = False) -> OpeningSession:
        """Open an existing session folder; *read_only* for commands that only read (``report``).

        A damaged, hand-edited or unfinished ledger is refused here with a
        :class:`~bidcrypt.errors.LedgerError` naming the problem; a read-only
        session opened for writing with :class:`~bidcrypt.errors.SessionReadOnlyError`.
        """
        folder = Path(directory)
        ledger_file = folder / Ledger.FILE_NAME
        try:
            is_session = ledger_file.is_file()
            missing = [name for name in SUBFOLDERS if not (folder / name).is_dir()]
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=folder) from exc
        if not is_session:
            raise InputError(Text("not an opening session", "不是开标会话目录"), path=folder)
        ledger = Ledger(folder, read_only=read_only)
        try:
            check_ledger(ledger)
            if missing and not read_only:
                raise InputError(
                    Text(
                        "the session folder lacks {missing}",
                        "会话目录缺少 {missing}",
                        missing=", ".join(missing),
                    ),
                    path=folder,
                )
        except BaseException:
            ledger.close()
            raise
        return cls(folder, ledger)

    @contextlib.contextmanager
    def _change(self) -> Iterator[sqlite3.Connection]:
        """A ledger transaction under the session lock: every change of a session takes it."""
        with SessionLock(self.directory, wait=CHANGE_WAIT), self.ledger.transaction() as db:
            yield db

    # -- bidders and their certificates ----------------------------------------------------------

    def register_bidder(self, name: str, credit_code: str) -> int:
        """Register a bidder (or update the registered name of an existing credit code); return its id."""
        code = uscc.normalise(credit_code)
        if not name.strip():
            raise InputError(Text("a bidder needs a name", "须填写投标人名称"), path="-")
        with self._change() as db:
            row = db.execute("SELECT id FROM bidders WHERE credit_code = ?", (code,)).fetchone()
            if row is not None:
                db.execute("UPDATE bidders SET name = ? WHERE id = ?", (name, row["id"]))
                return int(row["id"])
            cursor = db.execute(
                "INSERT INTO bidders(name, credit_code, registered_at) VALUES (?, ?, ?)",
                (name, code, now_text()),
            )
            return int(cursor.lastrowid or 0)

    def bind_certificate(
        self, credit_code: str, certificate: x509.Certificate, *, replace: bool = False
    ) -> None:
        """Bind an encryption certificate to a bidder (绑定).

        Its subject must name the registered bidder (name and credit code);
        one certificate binds to one bidder only. With *replace* the bidder's
        other certificates are unbound (after a replacement or change).
        """
        bidder = self.bidder(credit_code)
        certs.require_purpose(certificate, Purpose.ENCRYPTION)
        actual = (
            f"{certs.company_name(certificate) or certs.display_name(certificate)} "
            f"({certs.credit_code(certificate) or '-'})"
        )
        if (
            certs.credit_code(certificate) != bidder["credit_code"]
            or certs.company_name(certificate) != bidder["name"]
        ):
            raise IdentityMismatchError(actual=actual, expected=f"{bidder['name']} ({bidder['credit_code']})")
        der = certificate.public_bytes(serialization.Encoding.DER)
        fingerprint = hashlib.sha256(der).hexdigest()
        with self._change() as db:
            existing = db.execute(
                "SELECT b.name, b.id FROM certificates c JOIN bidders b ON b.id = c.bidder_id "
                "WHERE c.fingerprint = ?",
                (fingerprint,),
            ).fetchone()
            if existing is not None and existing["id"] != bidder["id"]:
                raise AlreadyBoundError(subject=certs.display_name(certificate), bidder=existing["name"])
            if replace:
                db.execute(
                    "UPDATE certificates SET unbound_at = ? WHERE bidder_id = ? AND unbound_at IS NULL "
                    "AND fingerprint != ?",
                    (now_text(), bidder["id"], fingerprint),
                )
            if existing is None:
                db.execute(
                    "INSERT INTO certificates(fingerprint, bidder_id, key_fingerprint, der, bound_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (fingerprint, bidder["id"], certs.key_fingerprint(certificate), der, now_text()),
                )
            else:
                db.execute("UPDATE certificates SET unbound_at = NULL WHERE fingerprint = ?", (fingerprint,))

    # -- submissions -------------------------------------------------------------------------

    def submit(self, package: str | os.PathLike[str], clock: Clock | None = None) -> Receipt:
        """Accept a bid package before the deadline and return its receipt; record every refusal.

        Checked without a key: the size (at most the session's maximum
        package size), tender and lot, the bidder's registration and name,
        the deadline (by *clock*: the system clock, a fixed clock, or an
        RFC 3161 authority), and the re-encrypt rule against the bidder's
        currently bound encryption certificates.
        """
        receiving = Incoming(self.directory / "submissions", Path(package), self.max_package_size)
        try:
            with receiving as incoming:
                try:
                    stamp = (clock or SystemClock()).stamp(bytes.fromhex(incoming.sha256))
                except BidcryptError as error:
                    with SessionLock(self.directory, wait=CHANGE_WAIT):
                        self._record_rejection(incoming.sha256, incoming.size, None, None, None, error)
                    raise
                with SessionLock(self.directory, wait=CHANGE_WAIT):
                    return self._accept(incoming, stamp)
        except PackageTooLargeError as error:
            with SessionLock(self.directory, wait=CHANGE_WAIT):
                self._record_rejection("-", receiving.size, None, None, None, error)
            raise

    def _accept(self, incoming: Incoming, stamp: Stamp) -> Receipt:
        """Check the received package and store it with its receipt (under the session lock)."""
        bidder_code = lot = None
        try:
            info = read_package_info(incoming.staging)
            bidder_code, lot = info.attributes.credit_code, info.attributes.lot
            bidder = self._check_submission(info, stamp)
        except BidcryptError as error:
            self._record_rejection(incoming.sha256, incoming.size, bidder_code, lot, stamp, error)
            raise
        with self.ledger.transaction() as db:
            cursor = db.execute(
                "INSERT INTO submissions(bidder_id, lot, sha256, size, stored_as, received_at, time_source, "
                "time_evidence, attributes, state) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, 'current')",
                (
                    bidder["id"],
                    lot,
                    incoming.sha256,
                    incoming.size,
                    now_text(stamp.time),
                    stamp.source,
                    stamp.evidence,
                    dumps(info.attributes.to_json()),
                ),
            )
            number = int(cursor.lastrowid or 0)
            stored = Path("submissions") / f"{number}.bid"
            db.execute("UPDATE submissions SET stored_as = ? WHERE id = ?", (str(stored), number))
            db.execute(
                "UPDATE submissions SET state = 'superseded', ended_at = ? "
                "WHERE bidder_id = ? AND lot IS ? AND state = 'current' AND id != ?",
                (now_text(stamp.time), bidder["id"], lot, number),
            )
            incoming.store(self.directory / stored)
        return Receipt(
            number,
            info.attributes.tender,
            lot,
            bidder["name"],
            bidder["credit_code"],
            incoming.sha256,
            incoming.size,
            stamp.time,
            stamp.source,
            stamp.evidence,
        )

    def _check_submission(self, info: PackageInfo, stamp: Stamp) -> Row:
        settings = self.settings
        attributes = info.attributes
        if attributes.tender != settings.tender:
            raise WrongTenderError(actual=attributes.tender, expected=settings.tender)
        if settings.lots and attributes.lot not in settings.lots:
            raise WrongTenderError(
                actual=f"{attributes.tender} / {attributes.lot or '-'}",
                expected=f"{settings.tender} / {', '.join(settings.lots)}",
            )
        if not settings.lots and attributes.lot is not None:
            raise WrongTenderError(actual=f"{attributes.tender} / {attributes.lot}", expected=settings.tender)
        bidder = self.bidder(attributes.credit_code)
        if attributes.bidder_name != bidder["name"]:
            raise IdentityMismatchError(actual=attributes.bidder_name, expected=bidder["name"])
        if stamp.time > settings.deadline:
            raise DeadlinePassedError(deadline=certs.format_time(settings.deadline))
        current = self.current_certificates(int(bidder["id"]))
        if not current:
            raise NoCertificateBoundError(credit_code=bidder["credit_code"])
        verdicts = [check_package(info, certificate) for certificate in current]
        if not any(v.ok for v in verdicts):
            verdicts[0].raise_if_stale()
        return bidder

    def _record_rejection(
        self,
        sha256: str,
        size: int,
        credit_code: str | None,
        lot: str | None,
        stamp: Stamp | None,
        error: BidcryptError,
    ) -> None:
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO rejections(at, sha256, size, credit_code, lot, code, message, message_zh, "
                "params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now_text(stamp.time if stamp else None),
                    sha256,
                    size,
                    credit_code,
                    lot,
                    error.code,
                    error.message("en"),
                    error.message("zh"),
                    stored(error),
                ),
            )

    def withdraw(self, credit_code: str, lot: str | None = None, clock: Clock | None = None) -> int:
        """Withdraw the bidder's current submission (before the deadline); return its number."""
        bidder = self.bidder(credit_code)
        moment = (clock or SystemClock()).stamp(b"\0" * 32).time
        if moment > self.settings.deadline:
            raise DeadlinePassedError(deadline=certs.format_time(self.settings.deadline))
        with self._change() as db:
            row = db.execute(
                "SELECT id FROM submissions WHERE bidder_id = ? AND lot IS ? AND state = 'current'",
                (bidder["id"], lot),
            ).fetchone()
            if row is None:
                raise OpeningError(Text("no current submission to withdraw", "没有可撤回的投标文件"))
            db.execute(
                "UPDATE submissions SET state = 'withdrawn', ended_at = ? WHERE id = ?",
                (now_text(moment), row["id"]),
            )
            return int(row["id"])

    # -- the decryption window -------------------------------------------------------------------

    def close_window(self, at: dt.datetime | None = None) -> int:
        """End the decryption window; return how many bids it recorded as not decrypted.

        See :func:`bidcrypt.opening.closing.close_window` (which also takes the
        bids the official names as not the bidder's fault). Under the session
        lock, so never while an opening runs.
        """
        from bidcrypt.opening.closing import close_window

        return close_window(self, at=at).count
