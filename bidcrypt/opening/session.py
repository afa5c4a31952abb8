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

import base64
import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    UnknownBidderError,
    WindowClosedError,
    WrongTenderError,
)
from bidcrypt.i18n import Text
from bidcrypt.opening.causes import NOT_DECRYPTED, stored, window_params
from bidcrypt.opening.creation import SUBFOLDERS, build_session
from bidcrypt.opening.disk import reconcile_opened
from bidcrypt.opening.incoming import DEFAULT_MAX_PACKAGE_SIZE, Incoming
from bidcrypt.opening.ledger import Ledger, Row, dumps, now_text, parse_time
from bidcrypt.opening.ledger_check import check_ledger
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.package import PackageInfo, check_package, read_package_info
from bidcrypt.trust import TrustStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from bidcrypt.keys import KeySource
    from bidcrypt.opening.batch import OpeningRun, Progress
    from bidcrypt.opening.record import OpeningRecord


@dataclass(frozen=True)
class Receipt:
    """The receipt (回执) of an accepted submission."""

    submission: int
    tender: str
    lot: str | None
    bidder: str
    credit_code: str
    sha256: str
    size: int
    received_at: dt.datetime
    time_source: str
    timestamp_token: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the timestamp token in base64)."""
        return {
            "receipt": self.submission,
            "tender": self.tender,
            "lot": self.lot,
            "bidder": self.bidder,
            "credit_code": self.credit_code,
            "sha256": self.sha256,
            "size": self.size,
            "received_at": certs.format_time(self.received_at),
            "time_source": self.time_source,
            "timestamp_token": None
            if self.timestamp_token is None
            else base64.b64encode(self.timestamp_token).decode(),
        }


@dataclass(frozen=True)
class SessionSettings:
    """What a session is for and when things happen."""

    tender: str
    lots: tuple[str, ...]
    deadline: dt.datetime
    opening_time: dt.datetime
    closed_at: dt.datetime | None


class OpeningSession:
    """One tender's opening: create it, register bidders, take submissions, open, report.

    The library API tender software embeds; the CLI ``bidcrypt opening`` is a thin layer over it.
    """

    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.ledger = ledger

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
    ) -> OpeningSession:
        """Create a new session folder (it must not exist, or be empty): complete, or nothing at all.

        A lot given twice, a blank tender, a bad trust file: refused before
        anything is made. See :mod:`bidcrypt.opening.creation`. *max_package_size*
        is the largest package :meth:`submit` accepts, in bytes (default 4 GiB).
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

    def close_ledger(self) -> None:
        """Close the ledger's database connection."""
        self.ledger.close()

    @property
    def settings(self) -> SessionSettings:
        """The tender, lots and times."""
        closed = self.ledger.meta("closed_at")
        return SessionSettings(
            tender=self.ledger.meta("tender") or "",
            lots=tuple(str(r["id"]) for r in self.ledger.query("SELECT id FROM lots ORDER BY id")),
            deadline=parse_time(self.ledger.meta("deadline") or ""),
            opening_time=parse_time(self.ledger.meta("opening_time") or ""),
            closed_at=parse_time(closed) if closed else None,
        )

    def trust_files(self) -> tuple[list[Path], list[Path]]:
        """The session's copied CA certificates and CRLs."""
        folder = self.directory / "trust"
        return sorted(folder.glob("ca-*.pem")), sorted(folder.glob("crl-*.crl"))

    def trust_store(self) -> TrustStore:
        """The trust store of the session."""
        anchors, crls = self.trust_files()
        return TrustStore.load(anchors, crls)

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

    def bidder(self, credit_code: str) -> Row:
        """The registered bidder with this credit code."""
        row = self.ledger.one("SELECT * FROM bidders WHERE credit_code = ?", (credit_code.strip().upper(),))
        if row is None:
            raise UnknownBidderError(credit_code=credit_code)
        return row

    def bidders(self) -> list[Row]:
        """Every registered bidder, in registration order."""
        return self.ledger.query("SELECT * FROM bidders ORDER BY id")

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

    def current_certificates(self, bidder_id: int) -> list[x509.Certificate]:
        """The bidder's currently bound encryption certificates, newest first."""
        rows = self.ledger.query(
            "SELECT der FROM certificates WHERE bidder_id = ? AND unbound_at IS NULL ORDER BY bound_at DESC",
            (bidder_id,),
        )
        return [x509.load_der_x509_certificate(bytes(r["der"])) for r in rows]

    # -- submissions -------------------------------------------------------------------------

    def submit(self, package: str | os.PathLike[str], clock: Clock | None = None) -> Receipt:
        """Accept a bid package before the deadline and return its receipt; record every refusal.

        Checked without a key: the size (at most the session's maximum
        package size), tender and lot, the bidder's registration and name,
        the deadline (by *clock*: the system clock, a fixed clock, or an
        RFC 3161 authority), and the re-encrypt rule against the bidder's
        currently bound encryption certificates.
        """
        receiving = Incoming(self, Path(package))
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

    @property
    def max_package_size(self) -> int:
        """The largest package the session accepts, in bytes."""
        value = self.ledger.meta("max_package_size")
        return int(value) if value and value.isdigit() else DEFAULT_MAX_PACKAGE_SIZE

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

    def submissions(self, state: str | None = "current") -> list[Row]:
        """Submissions with their bidder (all states when *state* is None), in order."""
        sql = (
            "SELECT s.*, b.name AS bidder_name, b.credit_code FROM submissions s "
            "JOIN bidders b ON b.id = s.bidder_id"
        )
        if state is None:
            return self.ledger.query(sql + " ORDER BY s.id")
        return self.ledger.query(sql + " WHERE s.state = ? ORDER BY s.id", (state,))

    def rejections(self) -> list[Row]:
        """Every refused submission, in order."""
        return self.ledger.query("SELECT * FROM rejections ORDER BY id")

    def outcomes(self) -> dict[int, Row]:
        """The opening outcome of each submission that has one."""
        return {int(r["submission_id"]): r for r in self.ledger.query("SELECT * FROM outcomes")}

    def attempts(self) -> dict[int, Row]:
        """The latest unsuccessful opening attempt of each submission without an outcome."""
        rows = self.ledger.query("SELECT * FROM attempts ORDER BY id")
        return {int(r["submission_id"]): r for r in rows}

    # -- opening and the record ------------------------------------------------------------------

    def open_bids(
        self,
        key_source: KeySource,
        *,
        workers: int | None = None,
        progress: Callable[[Progress], None] | None = None,
        at: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> OpeningRun:
        """Open every bid the key can open (see :func:`bidcrypt.opening.open_bids`)."""
        from bidcrypt.opening.batch import open_bids

        return open_bids(self, key_source, workers=workers, progress=progress, at=at, now=now)

    def record(self) -> OpeningRecord:
        """The opening record (开标记录) as it stands."""
        from bidcrypt.opening.record import build_record

        return build_record(self)

    # -- the decryption window -------------------------------------------------------------------

    def require_open_window(self) -> None:
        """Raise :class:`WindowClosedError` once the window was closed."""
        closed = self.settings.closed_at
        if closed is not None:
            raise WindowClosedError(closed_at=certs.format_time(closed))

    def close_window(self, at: dt.datetime | None = None) -> int:
        """End the decryption window: bids still unopened are recorded as not decrypted; return how many.

        Under the session lock, so never while an opening runs; what a
        killed opening left in ``opened/`` is removed first.
        """
        with SessionLock(self.directory, wait=CHANGE_WAIT):
            self.require_open_window()
            moment = at or dt.datetime.now(dt.UTC)
            outcomes = self.outcomes()
            reconcile_opened(
                self.directory / "opened", [n for n, row in outcomes.items() if row["status"] == "opened"]
            )
            pending = self.pending()
            attempts = self.attempts()
            with self.ledger.transaction() as db:
                for row in pending:
                    last = attempts.get(int(row["id"]))
                    cause, cause_zh = NOT_DECRYPTED
                    if last is not None:
                        cause, cause_zh = f"{cause} ({last['cause']})", f"{cause_zh}（{last['cause_zh']}）"
                    db.execute(
                        "INSERT INTO outcomes(submission_id, status, cause_code, cause, cause_zh, "
                        "cause_params, report, finished_at) VALUES (?, 'not-decrypted', ?, ?, ?, ?, '{}', ?) "
                        "ON CONFLICT(submission_id) DO NOTHING",
                        (
                            row["id"],
                            last["cause_code"] if last is not None else "not-decrypted",
                            cause,
                            cause_zh,
                            window_params(last),
                            now_text(moment),
                        ),
                    )
                self.ledger.set_meta(db, "closed_at", now_text(moment))
            return len(pending)

    def pending(self) -> list[Row]:
        """Current submissions without an outcome."""
        return self.ledger.query(
            "SELECT s.*, b.name AS bidder_name, b.credit_code FROM submissions s "
            "JOIN bidders b ON b.id = s.bidder_id WHERE s.state = 'current' "
            "AND s.id NOT IN (SELECT submission_id FROM outcomes) ORDER BY s.id"
        )
