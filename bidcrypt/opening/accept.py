"""Accepting a bidder's release (解密授权) inside the window, and opening that bid with it.

:func:`accept_release` checks a release body in this order, each refusal
with its code (docs/remote.md): the size (``release-too-large``); that it
opens with the session's release key and is a signed release
(``release-malformed``, ``release-not-for-session``, ``release-signature-invalid``);
the session and tender it names (``release-not-for-session``); that the
body is new (``release-replayed``, by its SHA-256); the signer's chain with
the session's trust store at the arrival time (``release-signature-invalid``);
a company signing certificate (``release-not-company``); its credit code
the submission's bidder (``release-not-this-bidder``); the running window
(``window-not-open``, ``window-paused``, ``window-closed``); a current
submission with that digest and no outcome yet (``release-no-submission``);
and that the key decrypts the stored package (``release-key-wrong``: the bid
stays pending, and the bidder may release again within the window).

What needs no ledger state runs without the session lock, so that releases
of different bids proceed in parallel: the size, the release opened with the
release key and its statement verified, the signer's chain, the key against
the stored package, and the opening of the bid into a staging folder
(:func:`~bidcrypt.opening.disk.staging_folder`). Their verdicts are kept, not
raised: under the lock, the ledger's checks (replay, submission, window) run
in the order above, the first failure is recorded, and an accepted release
is recorded in the transaction that moves ``opened/N`` into place, as
before. Every body is a row of ``releases``, accepted or refused, written
under the session lock. A refused body is not kept; an accepted one is (it
is encrypted to the release key), recorded in the same transaction as the
bid's outcome (:mod:`bidcrypt.opening.released`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock, SystemClock
from bidcrypt.envelope import ContentKey
from bidcrypt.errors import (
    BidcryptError,
    CertificateError,
    ReleaseKeyWrongError,
    ReleaseNoSubmissionError,
    ReleaseNotCompanyError,
    ReleaseNotForSessionError,
    ReleaseNotThisBidderError,
    ReleaseReplayedError,
    ReleaseSignatureInvalidError,
    ReleaseTooLargeError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource
from bidcrypt.opening.causes import stored
from bidcrypt.opening.disk import reconcile_opened, staging_folder
from bidcrypt.opening.ledger import Row, now_text
from bidcrypt.opening.lock import CHANGE_WAIT, SessionLock
from bidcrypt.opening.pool import OpeningProcesses
from bidcrypt.opening.released import ReleasedBatch
from bidcrypt.opening.session import OpeningSession
from bidcrypt.opening.signer_chain import validate_signer
from bidcrypt.opening.window import require_running
from bidcrypt.opening.worker import Result
from bidcrypt.package import (
    MAX_RELEASE,
    PackageInfo,
    Release,
    Statement,
    read_package_info,
    read_release,
    release_opens,
)

__all__ = ["AcceptResult", "accept_release", "judge_signer", "read_body"]


@dataclass(frozen=True)
class AcceptResult:
    """An accepted release: the bid it opened and what became of it (``opened`` or ``failed``)."""

    release: int
    sha256: str
    submission: int
    credit_code: str
    status: str
    at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "verdict": "accepted",
            "release": self.release,
            "sha256": self.sha256,
            "submission": self.submission,
            "credit_code": self.credit_code,
            "status": self.status,
            "at": certs.format_time(self.at),
        }


def read_body(stream: BinaryIO, limit: int = MAX_RELEASE) -> tuple[bytes, int]:
    """At most *limit* + 1 bytes of *stream*, and its whole size (a huge body is never read whole)."""
    data = stream.read(limit + 1)
    size = len(data)
    if size > limit:
        try:
            size = stream.seek(0, 2)
        except (OSError, ValueError):
            while chunk := stream.read(1 << 20):
                size += len(chunk)
    return data, size


#: A body seen before: accepted, or refused for what it is (a ``release-*`` code). One refused for
#: the moment (the window, a machine failure) may come again.
_SEEN = (
    "SELECT 1 FROM releases WHERE sha256 = ? AND kind = 'release' "
    "AND (verdict = 'accepted' OR code LIKE 'release-%')"
)


@dataclass
class _Known:
    """The body's row of ``releases``, as the checks learn it."""

    arrival: dt.datetime
    digest: str
    size: int
    submission: int | None = None
    bidder: int | None = None


@dataclass
class _Examined:
    """What the checks that need no ledger found, without the session lock; raised in order under it."""

    #: The size, the release itself, its session and tender: refused before the replay check.
    error: BidcryptError | None = None
    release: Release | None = None
    #: The signer's chain, company certificate and credit code: refused after the replay check.
    signer_error: BidcryptError | None = None
    #: The submission the key was checked against and the bid staged for (None: nothing staged).
    submission: int | None = None
    key_error: BidcryptError | None = None
    batch: ReleasedBatch | None = None


def accept_release(
    session: OpeningSession,
    body: bytes,
    clock: Clock | None = None,
    *,
    size: int | None = None,
    release_keys: KeySource | None = None,
    session_id: str | None = None,
    in_process: bool = False,
    processes: OpeningProcesses | None = None,
) -> AcceptResult:
    """Check a release and open its bid; record the body either way (see the module's docstring).

    *body* is the release as received (*size* its full size when only the
    first bytes were read, see :func:`read_body`). *clock* gives the arrival
    time (default: the system clock). *release_keys* and *session_id* are
    the session's release key and id (default: the session's own). The bid
    is opened in a worker process as the bulk opening does: one started for
    it, or one of *processes* (kept by a long-running service, which then
    starts no process per release); or with *in_process* by the same worker
    function in this thread. A service may call this from several threads
    at once. Raises the refusal after recording it; returns what became of
    the bid.
    """
    digest = hashlib.sha256(body).hexdigest()
    arrival = (clock or SystemClock()).stamp(bytes.fromhex(digest)).time.astimezone(dt.UTC)
    known = _Known(arrival, digest, len(body) if size is None else size)
    with contextlib.ExitStack() as stack:
        keys = release_keys if release_keys is not None else stack.enter_context(session.release_keys())
        ours = session_id if session_id is not None else session.profile.session
        stage = stack.enter_context(staging_folder(session.directory / "opened"))
        found: list[int] = []

        def recorded(db: sqlite3.Connection, result: Result) -> None:
            found.append(_insert(db, known, None, body))

        def batch_for(row: Row, release: Release) -> ReleasedBatch:
            content_key, info = _content_key(session, row, release)
            batch = ReleasedBatch(session, content_key, arrival, recorded, stage, info)
            batch.stage(row, in_process=in_process, processes=processes)
            return batch

        examined = _examine(session, body, known, keys, ours, batch_for)
        with SessionLock(session.directory, wait=CHANGE_WAIT):
            _reconcile(session)  # what a killed acceptance or opening left, whatever becomes of this body
            try:
                release, row = _judged(session, examined, known)
                batch = examined.batch
                if examined.submission != int(row["id"]) or (batch is None and examined.key_error is None):
                    batch = batch_for(row, release)  # the ledger changed since: check and open now
                elif examined.key_error is not None:
                    raise examined.key_error
                assert batch is not None
            except BidcryptError as error:
                _refuse(session, known, error)
                raise
            known.size = len(body)
            status = batch.commit()
            if status is None:
                failure = batch.failure
                _refuse(session, known, failure)
                raise failure
            return AcceptResult(found[0], digest, int(row["id"]), release.credit_code, status, arrival)
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns or raises


def _examine(
    session: OpeningSession,
    body: bytes,
    known: _Known,
    keys: KeySource,
    ours: str,
    batch_for: Callable[[Row, Release], ReleasedBatch],
) -> _Examined:
    """The checks that need no ledger state, without the lock; their failures kept for :func:`_judged`."""
    examined = _Examined()
    try:
        if known.size > MAX_RELEASE:
            raise ReleaseTooLargeError(size=known.size, limit=MAX_RELEASE)
        release = read_release(body, keys, session=ours)
        if release.session != ours or release.tender != session.ledger.meta("tender"):
            raise ReleaseNotForSessionError(session=f"{release.session} / {release.tender}")
    except BidcryptError as error:
        examined.error = error
        return examined
    examined.release = release
    try:
        code = judge_signer(session, release.statement, known.arrival)
        if code != release.credit_code:
            raise ReleaseNotThisBidderError(signer=code, bidder=release.credit_code)
    except BidcryptError as error:
        examined.signer_error = error
        return examined
    try:  # no key is tried outside the window (judged again under the lock, in order)
        row = _submission(session, release, None, known.arrival)
    except BidcryptError:
        return examined
    examined.submission = int(row["id"])
    try:
        examined.batch = batch_for(row, release)
    except BidcryptError as error:
        examined.key_error = error
    return examined


def _reconcile(session: OpeningSession) -> None:
    opened = [n for n, row in session.outcomes().items() if row["status"] == "opened"]
    reconcile_opened(session.directory / "opened", opened)


def _judged(session: OpeningSession, examined: _Examined, known: _Known) -> tuple[Release, Row]:
    """Under the lock: the release and its submission, once every check up to the key passed in order."""
    if examined.error is not None:
        raise examined.error
    release = examined.release
    assert release is not None
    if session.ledger.one(_SEEN, (known.digest,)):
        raise ReleaseReplayedError(sha256=known.digest)
    if examined.signer_error is not None:
        raise examined.signer_error
    bidder = session.ledger.one("SELECT id FROM bidders WHERE credit_code = ?", (release.credit_code,))
    known.bidder = None if bidder is None else int(bidder["id"])
    return release, _submission(session, release, known, known.arrival)


def judge_signer(session: OpeningSession, statement: Statement, arrival: dt.datetime) -> str:
    """The credit code of a statement's signer, once it chains (at *arrival*) and is a company's.

    :class:`ReleaseSignatureInvalidError` when the chain fails with the
    session's trust store, :class:`ReleaseNotCompanyError` for a certificate
    that is not a company signing certificate naming a credit code.
    """
    signer = statement.signer
    try:
        validate_signer(session.trust_store(), signer, statement.certificates, arrival)
    except CertificateError as error:
        raise ReleaseSignatureInvalidError(Text("{error}", "{error}", error=error)) from error
    from bidcrypt.seal import Holder, holder_of

    code = certs.credit_code(signer)
    company = Purpose.SIGNING in certs.purposes(signer) and holder_of(signer) is Holder.ORGANISATION
    if not company or not code:
        raise ReleaseNotCompanyError(subject=certs.display_name(signer))
    return code


def _submission(
    session: OpeningSession, release: Release, known: _Known | None, arrival: dt.datetime | None
) -> Row:
    """The current, unopened submission the release names, once it is the signer's.

    With *arrival*, the window must be running then: checked after another
    bidder's submission, before whether this one is current and unopened (a
    release after the close is ``window-closed``, though the bid has its
    outcome by then).
    """
    rows = session.ledger.query(
        "SELECT s.*, b.credit_code FROM submissions s JOIN bidders b ON b.id = s.bidder_id "
        "WHERE s.sha256 = ? ORDER BY s.id DESC",
        (release.submission_sha256,),
    )
    others = [r for r in rows if r["credit_code"] != release.credit_code]
    if others:
        if known is not None:
            known.submission = int(others[0]["id"])
        raise ReleaseNotThisBidderError(signer=release.credit_code, bidder=others[0]["credit_code"])
    current = [r for r in rows if r["state"] == "current"]
    if current and known is not None:
        known.submission = int(current[0]["id"])
    if arrival is not None:
        require_running(session, arrival)
    if not current:
        raise ReleaseNoSubmissionError(sha256=release.submission_sha256)
    row = current[0]
    if row["lot"] != release.lot:
        raise ReleaseNoSubmissionError(
            Text("it is for lot {lot}", "该投标文件属于标段 {lot}", lot=str(row["lot"])),
            sha256=release.submission_sha256,
        )
    if session.ledger.one("SELECT 1 FROM outcomes WHERE submission_id = ?", (row["id"],)):
        raise ReleaseNoSubmissionError(
            Text("it already has an opening outcome", "该投标文件已有开标结果"),
            sha256=release.submission_sha256,
        )
    return row


def _content_key(
    session: OpeningSession, row: Row, release: Release
) -> tuple[ContentKey, PackageInfo | None]:
    """The released key, once it decrypts the start of the stored package to its bundle; and the
    package's header (None when it cannot be read: the opening records the package's failure)."""
    number = int(row["id"])
    path = session.directory / "submissions" / f"{number}.bid"
    wrong = ReleaseKeyWrongError(submission=number)
    try:
        info = read_package_info(path)
    except (BidcryptError, OSError):
        return _as_content_key(release), None
    if info.header.cipher.cipher is not release.cipher:
        raise wrong
    content_key = _as_content_key(release)
    if not release_opens(path, info.header, content_key):
        raise wrong
    return content_key, info


def _as_content_key(release: Release) -> ContentKey:
    return ContentKey(
        key=release.content_key,
        cipher=release.cipher,
        recipient_index=-1,
        entry="release",
        subject=certs.display_name(release.signer),
    )


def _refuse(session: OpeningSession, known: _Known, error: BidcryptError) -> None:
    """Record a refused body (its code, not the body)."""
    with session.ledger.transaction() as db:
        _insert(db, known, error, None)


def _insert(db: sqlite3.Connection, known: _Known, error: BidcryptError | None, body: bytes | None) -> int:
    """One row of ``releases``: accepted (with the body) or refused (with the code, no body)."""
    cursor = db.execute(
        "INSERT INTO releases(at, kind, sha256, size, submission_id, bidder_id, verdict, code, message, "
        "message_zh, params, body) VALUES (?, 'release', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            now_text(known.arrival),
            known.digest,
            known.size,
            known.submission,
            known.bidder,
            "refused" if error is not None else "accepted",
            None if error is None else error.code,
            None if error is None else error.message("en"),
            None if error is None else error.message("zh"),
            None if error is None else stored(error),
            None if error is not None else body,
        ),
    )
    return int(cursor.lastrowid or 0)
