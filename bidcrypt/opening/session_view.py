"""The read side of an opening session: what its ledger and folders say, without changing anything.

:class:`SessionView` is the ledger façade every part of the opening reads
through (the batch, the record, the CLI's reports); :class:`~bidcrypt.opening.session.OpeningSession`
adds the changes (bidders, certificates, submissions, the window).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from bidcrypt import certs
from bidcrypt.errors import InputError, UnknownBidderError, WindowClosedError
from bidcrypt.files import InputKind, read_input
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource
from bidcrypt.opening.incoming import DEFAULT_MAX_PACKAGE_SIZE
from bidcrypt.opening.ledger import Ledger, Row, parse_time
from bidcrypt.opening.profile_make import PROFILE_FILE
from bidcrypt.opening.session_keys import release_key_source
from bidcrypt.package import MAX_PROFILE_SIZE, SessionProfile, read_profile
from bidcrypt.trust import TrustStore

#: A session's profile file, as read.
PROFILE_INPUT = InputKind("a session profile", "会话配置文件", MAX_PROFILE_SIZE)


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


class SessionView:
    """A session folder and its ledger, read: settings, bidders, submissions, outcomes."""

    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.ledger = ledger
        self._profile: SessionProfile | None = None

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

    @property
    def max_package_size(self) -> int:
        """The largest package the session accepts, in bytes."""
        value = self.ledger.meta("max_package_size")
        return int(value) if value and value.isdigit() else DEFAULT_MAX_PACKAGE_SIZE

    def trust_files(self) -> tuple[list[Path], list[Path]]:
        """The session's copied CA certificates and CRLs."""
        folder = self.directory / "trust"
        return sorted(folder.glob("ca-*.pem")), sorted(folder.glob("crl-*.crl"))

    def trust_store(self) -> TrustStore:
        """The trust store of the session."""
        anchors, crls = self.trust_files()
        return TrustStore.load(anchors, crls)

    # -- remote opening: the session's id, profile and release key (docs/remote.md) -------------

    @property
    def session_id(self) -> str | None:
        """The session's random id (32 hex digits); None for a session made before ids were given."""
        return self.ledger.meta("session_id")

    @property
    def has_profile(self) -> bool:
        """True for a remote-opening session: one made with a custody model, which has its profile."""
        return (self.directory / PROFILE_FILE).is_file()

    def profile_bytes(self) -> bytes:
        """The signed profile as published (``profile.p7s``); :class:`InputError` for a session without."""
        path = self.directory / PROFILE_FILE
        if not path.is_file():
            raise InputError(
                Text(
                    "the session has no profile (it was made without --custody)",
                    "该会话没有会话配置文件（创建时未指定 --custody）",
                ),
                path=self.directory,
            )
        return read_input(path, PROFILE_INPUT)

    @property
    def profile(self) -> SessionProfile:
        """The session's profile, its signature and fields checked (read once)."""
        if self._profile is None:
            self._profile = read_profile(self.profile_bytes())
        return self._profile

    def release_keys(self) -> KeySource:
        """The session's release key (``keys/release.pem``) as a key source: it opens releases and shares."""
        return release_key_source(self.directory)

    # -- bidders and their certificates ----------------------------------------------------------

    def bidder(self, credit_code: str) -> Row:
        """The registered bidder with this credit code."""
        row = self.ledger.one("SELECT * FROM bidders WHERE credit_code = ?", (credit_code.strip().upper(),))
        if row is None:
            raise UnknownBidderError(credit_code=credit_code)
        return row

    def bidders(self) -> list[Row]:
        """Every registered bidder, in registration order."""
        return self.ledger.query("SELECT * FROM bidders ORDER BY id")

    def current_certificates(self, bidder_id: int) -> list[x509.Certificate]:
        """The bidder's currently bound encryption certificates, newest first."""
        rows = self.ledger.query(
            "SELECT der FROM certificates WHERE bidder_id = ? AND unbound_at IS NULL ORDER BY bound_at DESC",
            (bidder_id,),
        )
        return [x509.load_der_x509_certificate(bytes(r["der"])) for r in rows]

    # -- submissions and outcomes ----------------------------------------------------------------

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

    def pending(self) -> list[Row]:
        """Current submissions without an outcome."""
        return self.ledger.query(
            "SELECT s.*, b.name AS bidder_name, b.credit_code FROM submissions s "
            "JOIN bidders b ON b.id = s.bidder_id WHERE s.state = 'current' "
            "AND s.id NOT IN (SELECT submission_id FROM outcomes) ORDER BY s.id"
        )

    # -- the decryption window -------------------------------------------------------------------

    def require_open_window(self) -> None:
        """Raise :class:`WindowClosedError` once the window was closed."""
        closed = self.settings.closed_at
        if closed is not None:
            raise WindowClosedError(closed_at=certs.format_time(closed))
