"""The ledger's schema: the tables of each version, and what an upgrade adds to an older ledger."""

from __future__ import annotations

SCHEMA_VERSION = 3

#: The columns each schema version added, as (table, column, declaration): what an upgrade adds.
ADDED_COLUMNS: dict[int, tuple[tuple[str, str, str], ...]] = {
    2: (
        ("outcomes", "cause_params", "TEXT"),
        ("attempts", "cause_params", "TEXT"),
        ("rejections", "params", "TEXT"),
    ),
    3: (
        ("outcomes", "opened_by", "TEXT"),
        ("outcomes", "released_at", "TEXT"),
    ),
}

_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lots (
    id TEXT PRIMARY KEY,
    name TEXT
);
CREATE TABLE IF NOT EXISTS bidders (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    fingerprint TEXT PRIMARY KEY,          -- SHA-256 of the certificate DER: one certificate, one bidder
    bidder_id INTEGER NOT NULL REFERENCES bidders(id),
    key_fingerprint TEXT NOT NULL,         -- SHA-256 of the SubjectPublicKeyInfo
    der BLOB NOT NULL,
    bound_at TEXT NOT NULL,
    unbound_at TEXT                        -- NULL while the binding is current
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    bidder_id INTEGER NOT NULL REFERENCES bidders(id),
    lot TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    stored_as TEXT NOT NULL,               -- path of the stored bytes, relative to the session
    received_at TEXT NOT NULL,
    time_source TEXT NOT NULL,
    time_evidence BLOB,                    -- e.g. an RFC 3161 timestamp token
    attributes TEXT NOT NULL,              -- the package's readable attributes (JSON)
    state TEXT NOT NULL CHECK (state IN ('current', 'superseded', 'withdrawn')),
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_bidder ON submissions(bidder_id, lot, state);
CREATE TABLE IF NOT EXISTS outcomes (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    status TEXT NOT NULL CHECK (status IN ('opened', 'failed', 'not-decrypted')),
    cause_code TEXT,
    cause TEXT,                            -- English (a readable copy: bidcrypt renders code and params)
    cause_zh TEXT,                         -- Chinese (likewise)
    report TEXT NOT NULL,                  -- JSON: checks, summary fields, seals, files
    output TEXT,                           -- folder of the opened files, relative to the session
    finished_at TEXT NOT NULL,
    cause_params TEXT,                     -- JSON: the error's params and detail (NULL before version 2)
    opened_by TEXT,                        -- 'key' (bulk opening), 'release', 'backup', 'committee' (v3)
    released_at TEXT                       -- when the bidder's release or backup arrived (v3)
);
CREATE TABLE IF NOT EXISTS attempts (      -- failures a new attempt may overcome (token absent, disk full)
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    at TEXT NOT NULL,
    cause_code TEXT NOT NULL,
    cause TEXT NOT NULL,
    cause_zh TEXT NOT NULL,
    cause_params TEXT                      -- JSON, as in outcomes
);
CREATE TABLE IF NOT EXISTS rejections (    -- submissions refused at the door
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    credit_code TEXT,
    lot TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    message_zh TEXT NOT NULL,
    params TEXT                            -- JSON: the refusal's params and detail (NULL before version 2)
);
"""

_SCHEMA_V3 = """
-- Remote opening (schema version 3, see docs/remote.md). New tables are made by an upgrade too.
CREATE TABLE IF NOT EXISTS window_events ( -- the decryption window: start, pauses, resumes, close
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'pause', 'resume', 'close')),
    seconds INTEGER,                       -- 'start': the window's length
    reason TEXT,                           -- 'pause': why (a platform failure), as the official wrote it
    reason_code TEXT
);
CREATE TABLE IF NOT EXISTS challenges (    -- sign-in (签到) challenges handed out by the session
    nonce TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS signins (
    id INTEGER PRIMARY KEY,
    bidder_id INTEGER NOT NULL REFERENCES bidders(id),
    at TEXT NOT NULL,
    nonce TEXT NOT NULL REFERENCES challenges(nonce),
    certificate_fingerprint TEXT NOT NULL, -- SHA-256 of the signing certificate's DER
    statement BLOB NOT NULL                -- the signed sign-in, as received
);
CREATE TABLE IF NOT EXISTS releases (      -- every release, backup handover and committee share received
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('release', 'backup', 'share')),
    sha256 TEXT NOT NULL,                  -- of the body as received: a second copy is a replay
    size INTEGER NOT NULL,
    submission_id INTEGER REFERENCES submissions(id),
    bidder_id INTEGER REFERENCES bidders(id),
    member INTEGER,                        -- 'share': the committee member's index
    verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'refused')),
    code TEXT,                             -- the refusal's error code
    message TEXT,
    message_zh TEXT,
    params TEXT,                           -- JSON, as in rejections
    body BLOB                              -- a release or share as received (encrypted to the session's
                                           -- release key), NULL for a backup or a refused body
);
CREATE INDEX IF NOT EXISTS releases_by_digest ON releases(sha256);
CREATE TABLE IF NOT EXISTS attributions (  -- at the close: whose fault an unopened bid was (第三十一条)
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    cause TEXT NOT NULL CHECK (cause IN ('bidder', 'not-bidder')),
    reason_code TEXT,
    reason TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS committee_members (
    member INTEGER PRIMARY KEY,            -- 1..n, the Shamir share index
    name TEXT NOT NULL,
    certificate BLOB NOT NULL,             -- the member's encryption certificate (the share is sealed to it)
    share_digest TEXT NOT NULL             -- SHA-256 of the share, to check a released one
);
"""

#: The whole schema of a new ledger (every statement is ``IF NOT EXISTS``).
SCHEMA = _SCHEMA_V2 + _SCHEMA_V3

#: The tables and indexes each schema version added: what an upgrade makes.
ADDED_TABLES: dict[int, tuple[str, ...]] = {
    3: tuple(s.strip() for s in _SCHEMA_V3.split(";") if s.strip()),
}


def added_tables(after: int) -> frozenset[str]:
    """The names of the tables that schema versions later than *after* added."""
    return frozenset(
        statement.split()[5]  # CREATE TABLE IF NOT EXISTS name (
        for step, statements in ADDED_TABLES.items()
        if step > after
        for statement in statements
        if statement.startswith("CREATE TABLE")
    )
