"""Opening sessions: the ledger, submissions and receipts, bulk opening at the deadline, the record.

For tender software::

    session = OpeningSession.create(folder, tender="HBGP-2026-001", lots=["1"], deadline=...,
                                    opening_time=..., trust=[roots, intermediates], crls=[crl])
    session.register_bidder("湖北楚天建设工程有限公司", "91420100MA4KXB7Q09")
    session.bind_certificate("91420100MA4KXB7Q09", encryption_certificate)
    receipt = session.submit(Path("bid.bid"))                     # no key; checks the rule and the deadline
    run = open_bids(session, authority_ukey, progress=print)      # at the opening time
    print(render(build_record(session), "table"))

A remote opening (docs/remote.md) is a session made with ``remote=RemoteSettings(custody=...)``:
it gets its keys and its signed profile (``session.profile``, ``session.release_keys()``).
"""

from bidcrypt._fork_server import start_fork_server
from bidcrypt.opening.accept import AcceptResult, accept_release, read_body
from bidcrypt.opening.backup import AcceptedBackup, accept_backup
from bidcrypt.opening.batch import open_bids
from bidcrypt.opening.closing import PLATFORM_OUTAGE, ClosedWindow, close_window
from bidcrypt.opening.committee import AcceptedShare, accept_share, rebuild_opening_key, shares_released
from bidcrypt.opening.committee_open import open_with_committee
from bidcrypt.opening.custody import RemoteSettings
from bidcrypt.opening.escape import terminal_safe
from bidcrypt.opening.on_token import SLOW_PATH
from bidcrypt.opening.pool import OpeningProcesses
from bidcrypt.opening.record import Flag, OpeningRecord, RecordRow, build_record, render
from bidcrypt.opening.rule import Decision, Rule, parse_rule, session_rule
from bidcrypt.opening.run import PHASES, OpeningRun, Progress
from bidcrypt.opening.session import OpeningSession
from bidcrypt.opening.session_view import Receipt, SessionSettings, SessionView
from bidcrypt.opening.signin import SigninResult, accept_signin, new_challenge
from bidcrypt.opening.window import (
    WindowPause,
    WindowState,
    pause_window,
    require_running,
    resume_window,
    start_window,
    window_state,
)

__all__ = [
    "PHASES",
    "PLATFORM_OUTAGE",
    "SLOW_PATH",
    "AcceptResult",
    "AcceptedBackup",
    "AcceptedShare",
    "ClosedWindow",
    "Decision",
    "Flag",
    "OpeningProcesses",
    "OpeningRecord",
    "OpeningRun",
    "OpeningSession",
    "Progress",
    "Receipt",
    "RecordRow",
    "RemoteSettings",
    "Rule",
    "SessionSettings",
    "SessionView",
    "SigninResult",
    "WindowPause",
    "WindowState",
    "accept_backup",
    "accept_release",
    "accept_share",
    "accept_signin",
    "build_record",
    "close_window",
    "new_challenge",
    "open_bids",
    "open_with_committee",
    "parse_rule",
    "pause_window",
    "read_body",
    "rebuild_opening_key",
    "render",
    "require_running",
    "resume_window",
    "session_rule",
    "shares_released",
    "start_fork_server",
    "start_window",
    "terminal_safe",
    "window_state",
]
