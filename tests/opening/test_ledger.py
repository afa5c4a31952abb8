"""Bad ledgers (damaged, hand-edited, truncated, unfinished, read-only, busy): a clean refusal, never a crash.

Every ``opening`` command (create aside) is run on each bad ledger through the
command line: the documented exit code (7 ``ledger-invalid``, 8
``session-read-only``, 62 ``session-busy``), a message that names the
ledger and the problem, no traceback. ``opening report`` of a read-only
session (a read-only mount, or a read-only folder and file for a user who
cannot write them) still gives the record.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bidcrypt.cli.exit_codes import exit_code_for
from bidcrypt.errors import (
    LedgerError,
    OutputError,
    SessionBusyError,
    SessionIncompleteError,
    SessionReadOnlyError,
)
from bidcrypt.opening import OpeningSession, build_record, render
from bidcrypt.opening.ledger import Ledger
from bidcrypt.opening.lock import SessionLock

from ..conftest import Pki, run_bidcrypt, run_cli
from .conftest import make_package, new_session

A = "91420100MA4KXB7Q09"
LEDGER = Ledger.FILE_NAME

#: The documented exit codes (README table) of the refusals tested here.
LEDGER_INVALID, READ_ONLY, BUSY = 7, 8, 62


def test_exit_codes_are_the_documented_ones() -> None:
    assert exit_code_for(LedgerError) == LEDGER_INVALID
    assert exit_code_for(SessionIncompleteError) == LEDGER_INVALID
    assert exit_code_for(SessionReadOnlyError) == READ_ONLY
    assert exit_code_for(SessionBusyError) == BUSY


@pytest.fixture(scope="module")
def package(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of bidder A for lot 1, in a folder anyone can read."""
    return make_package(pki, tmp_path_factory.mktemp("package"), "bidder-a", name="a1")


@pytest.fixture(scope="module")
def base_session(pki: Pki, tmp_path_factory: pytest.TempPathFactory, package: Path) -> Path:
    """A session with three bidders and one submission, its ledger closed cleanly (no -wal left)."""
    session = new_session(pki, tmp_path_factory.mktemp("base") / "s")
    session.submit(package)
    session.close_ledger()
    assert not (session.directory / f"{LEDGER}-wal").exists()
    return session.directory


@pytest.fixture
def session_copy(base_session: Path, tmp_path: Path) -> Path:
    """A fresh copy of the base session for one test to damage."""
    return Path(shutil.copytree(base_session, tmp_path / "s"))


def _commands(pki: Pki, session: Path, package: Path) -> dict[str, list[str]]:
    """Every `opening` command but create, with arguments that would work on a good session."""
    return {
        "register": ["register", str(session), "--name", "某某建设有限公司", "--uscc", "91110000802100433B"],
        "bind": ["bind", str(session), "--uscc", A, "--cert", str(pki.cert("bidder-a/enc"))],
        "submit": ["submit", str(session), str(package)],
        "withdraw": ["withdraw", str(session), "--uscc", A, "--lot", "1"],
        "open": ["open", str(session), "--key", str(pki.p12("authority/enc"))],
        "close": ["close", str(session)],
        "report": ["report", str(session)],
    }


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(ledger: Path) -> None:
        db = sqlite3.connect(ledger)
        db.execute(statement)
        db.commit()
        db.close()

    return damage


def _truncate(ledger: Path) -> None:
    data = ledger.read_bytes()
    ledger.write_bytes(data[: len(data) // 2])


def _overwrite_middle(ledger: Path) -> None:
    data = bytearray(ledger.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xa5" * page
    ledger.write_bytes(bytes(data))


def _not_a_database(ledger: Path) -> None:
    ledger.write_bytes(b"not a ledger at all\n" * 400)


#: Damage, and what the message must say (besides the ledger's path).
DAMAGE: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "truncated to half": (_truncate, ("damaged",)),
    "bytes overwritten in the middle": (_overwrite_middle, ("damaged",)),
    "not a database": (_not_a_database, ("damaged", "not a database")),
    "a table dropped": (_sql("DROP TABLE rejections"), ("table rejections is missing",)),
    "a column dropped": (
        _sql("ALTER TABLE outcomes DROP COLUMN cause_zh"),
        ("outcomes.cause_zh is missing",),
    ),
    "deadline garbage": (
        _sql("UPDATE meta SET value = 'garbage' WHERE key = 'deadline'"),
        ("deadline", "'garbage'", "not a time"),
    ),
    "tender removed": (_sql("DELETE FROM meta WHERE key = 'tender'"), ("tender is missing",)),
    "another schema version": (
        _sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'"),
        ("schema version is '99'",),
    ),
    # a session in use that lost its mark is not called unfinished (whose hint is to remove it)
    "complete mark removed": (
        _sql("DELETE FROM meta WHERE key IN ('complete', 'created_at')"),
        ("lacks its complete mark", "holds bidders"),
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_every_command_refuses_a_bad_ledger(
    pki: Pki, session_copy: Path, package: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    damage, words = DAMAGE[kind]
    ledger = session_copy / LEDGER
    damage(ledger)
    before = sorted(p.relative_to(session_copy) for p in session_copy.rglob("*"))
    monkeypatch.setenv("BIDCRYPT_PIN", pki.pin)
    for name, args in _commands(pki, session_copy, package).items():
        result = run_cli("opening", *args)
        assert result.exit_code == LEDGER_INVALID, (kind, name, result.output, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        message = result.stderr.replace("\n  ", " ")
        assert str(session_copy) in message, (kind, name, message)
        for word in words:
            assert word in message, (kind, name, word, message)
    after = sorted(p.relative_to(session_copy) for p in session_copy.rglob("*"))
    sqlite_files = (f"{LEDGER}-wal", f"{LEDGER}-shm")
    # nothing was added to the session (no submission copied, no lock, no opened file)
    assert [p for p in after if p.name not in sqlite_files] == [
        p for p in before if p.name not in sqlite_files
    ]


def test_a_bad_ledger_through_the_installed_command(pki: Pki, session_copy: Path) -> None:
    """The same refusal in a real process, as a user sees it."""
    _truncate(session_copy / LEDGER)
    result = run_bidcrypt("opening", "report", session_copy)
    assert result.returncode == LEDGER_INVALID, result.stderr
    assert "Traceback" not in result.stderr
    assert "error[ledger-invalid]" in result.stderr and LEDGER in result.stderr


def test_a_hand_edited_row_is_a_ledger_error(pki: Pki, session_copy: Path) -> None:
    """Rows the record reads: a report that is not JSON, a time that is not a time."""
    _sql("UPDATE submissions SET received_at = 'yesterday'")(session_copy / LEDGER)
    result = run_cli("opening", "report", session_copy)
    assert result.exit_code == LEDGER_INVALID, result.stderr
    assert "yesterday" in result.stderr and "edited by hand" in result.stderr


def test_a_session_made_before_the_complete_mark_still_works(session_copy: Path) -> None:
    """Sessions in use when bidcrypt is upgraded: the old creation wrote no mark, but finished."""
    (session_copy / SessionLock.FILE_NAME).unlink()  # nor did it make the lock file
    _sql("DELETE FROM meta WHERE key = 'complete'")(session_copy / LEDGER)
    assert run_cli("opening", "report", session_copy).exit_code == 0
    assert run_cli("opening", "close", session_copy).exit_code == 0
    assert OpeningSession.load(session_copy).settings.closed_at is not None


def test_an_empty_folder_or_missing_ledger_is_not_a_session(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("opening", "report", tmp_path / "empty")
    assert result.exit_code == 3 and "not an opening session" in result.stderr


def test_a_missing_session_folder_is_refused_by_writers(session_copy: Path) -> None:
    shutil.rmtree(session_copy / "opened")
    result = run_cli("opening", "close", session_copy)
    assert result.exit_code == 3 and "lacks opened" in result.stderr
    assert run_cli("opening", "report", session_copy).exit_code == 0  # reading needs only the ledger


# --- read-only sessions ----------------------------------------------------------------------


def test_read_only_ledger_refuses_writes_in_the_library(session_copy: Path) -> None:
    session = OpeningSession.load(session_copy, read_only=True)
    try:
        assert "HBGP-2026-001" in render(build_record(session), "table")
        with pytest.raises(SessionReadOnlyError, match="read-only"):
            session.register_bidder("某某建设有限公司", "91110000802100433B")
        with pytest.raises(SessionReadOnlyError):
            session.close_window()
    finally:
        session.close_ledger()
    # a reader in a writable folder may leave SQLite's empty -wal and -shm files, nothing else
    assert _names(session_copy) == ["ledger.sqlite", "open.lock", "opened", "submissions", "trust"]
    assert _wal_size(session_copy) == 0


def _names(session: Path) -> list[str]:
    return sorted(p.name for p in session.iterdir() if not p.name.endswith(("-wal", "-shm")))


def _wal_size(session: Path) -> int:
    wal = session / f"{LEDGER}-wal"
    return wal.stat().st_size if wal.exists() else 0


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0"', tempfile.gettempdir()],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _on_read_only_mount(
    session: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run bidcrypt in a private mount namespace where *session* is bind-mounted read-only."""
    return subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind -o ro "$0" "$0" && exec "$@"',
            str(session),
            sys.executable,
            "-m",
            "bidcrypt",
            "opening",
            *args,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (unshare -m)")
def test_report_on_a_read_only_mount(pki: Pki, session_copy: Path, package: Path) -> None:
    for form in ("table", "json", "csv", "html"):
        result = _on_read_only_mount(session_copy, "report", str(session_copy), "--format", form)
        assert result.returncode == 0, result.stderr
        assert "湖北楚天建设工程有限公司" in result.stdout, form
    for name, args in _commands(pki, session_copy, package).items():
        if name == "report":
            continue
        result = _on_read_only_mount(session_copy, *args, env={"BIDCRYPT_PIN": pki.pin})
        assert result.returncode == READ_ONLY, (name, result.stderr)
        assert "error[session-read-only]" in result.stderr and str(session_copy) in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in session_copy.iterdir()) == [
        "ledger.sqlite",
        "open.lock",
        "opened",
        "submissions",
        "trust",
    ]


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (unshare -m)")
def test_report_on_a_read_only_mount_with_unmerged_changes(session_copy: Path) -> None:
    """A -wal left with changes (a writer killed) cannot be read as immutable: say so, show no stale data."""
    holder = sqlite3.connect(session_copy / LEDGER, isolation_level=None)
    holder.execute("INSERT INTO lots(id) VALUES ('9')")  # a change that stays in the WAL
    wal = session_copy / f"{LEDGER}-wal"
    assert wal.stat().st_size > 0
    frozen = Path(shutil.copytree(session_copy, session_copy.with_name("frozen")))
    (frozen / f"{LEDGER}-shm").unlink()  # as after a crash on another machine: the -shm is not kept
    result = _on_read_only_mount(frozen, "report", str(frozen))
    assert result.returncode == LEDGER_INVALID, result.stderr
    assert "holds changes not yet in the ledger" in result.stderr and "Traceback" not in result.stderr
    # with its -shm beside it, SQLite reads the WAL read-only: the report works, with the change
    shutil.rmtree(frozen)
    frozen = Path(shutil.copytree(session_copy, session_copy.with_name("frozen")))
    holder.close()
    result = _on_read_only_mount(frozen, "report", str(frozen))
    assert result.returncode == 0, result.stderr
    assert "lots: 1, 9" in result.stdout


@pytest.fixture
def shared_copy(base_session: Path) -> Iterator[Path]:
    """A copy of the base session in a folder an unprivileged user can read, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="bidcrypt-ro-"))
    parent.chmod(0o755)
    session = Path(shutil.copytree(base_session, parent / "s"))
    try:
        yield session
    finally:
        for path in (parent, *parent.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(parent)


def _as_user(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """bidcrypt as a user without write permission: this user, or nobody when running as root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop to an unprivileged user")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bidcrypt", "opening", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ, HOME=tempfile.gettempdir(), **(env or {})),
        check=False,
        cwd=tempfile.gettempdir(),
    )


@pytest.mark.slow
def test_read_only_folder_and_file(pki: Pki, shared_copy: Path, package: Path) -> None:
    """chmod 0444 the ledger and 0555 the folder: writers say read-only, the report works."""
    readable_package = shared_copy.parent / "a1.bid"
    shutil.copy(package, readable_package)
    readable_package.chmod(0o444)
    for path in shared_copy.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    shared_copy.chmod(0o555)
    result = _as_user("report", shared_copy)
    assert result.returncode == 0, result.stderr
    assert "HBGP-2026-001" in result.stdout
    for name, args in _commands(pki, shared_copy, readable_package).items():
        if name == "report":
            continue
        result = _as_user(*args, env={"BIDCRYPT_PIN": pki.pin})
        assert result.returncode == READ_ONLY, (name, result.stderr)
        assert "read-only" in result.stderr and str(shared_copy) in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in shared_copy.iterdir()) == [
        "ledger.sqlite",
        "open.lock",
        "opened",
        "submissions",
        "trust",
    ]


# --- busy --------------------------------------------------------------------------------------


def test_a_ledger_locked_beyond_the_timeout_is_busy(
    session_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the write lock for longer than the wait: session-busy, and readers still read."""
    monkeypatch.setattr(Ledger, "BUSY_TIMEOUT", 0.05)
    holder = sqlite3.connect(session_copy / LEDGER, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = run_cli(
            "opening", "register", session_copy, "--name", "某某建设有限公司", "--uscc", "91110000802100433B"
        )
        assert result.exit_code == BUSY, result.stderr
        assert "error[session-busy]" in result.stderr and str(session_copy) in result.stderr
        assert run_cli("opening", "report", session_copy).exit_code == 0  # WAL: a reader is not blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# --- SQLite's failures in a running command, mapped in one place ---------------------------------


def test_a_write_on_a_connection_sqlite_holds_read_only(session_copy: Path) -> None:
    """ "attempt to write a readonly database" (SQLite's own refusal, not bidcrypt's check) says read-only."""
    session = OpeningSession.load(session_copy)
    session.ledger._db.close()
    session.ledger._db = sqlite3.connect(
        f"{(session_copy / LEDGER).as_uri()}?mode=ro", uri=True, isolation_level=None
    )
    with pytest.raises(SessionReadOnlyError, match="read-only") as caught:
        session.register_bidder("某某建设有限公司", "91110000802100433B")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert "readonly" in str(caught.value.__cause__)
    session.close_ledger()


def test_a_full_disk_under_the_ledger_is_an_output_error(session_copy: Path) -> None:
    """SQLITE_FULL (here: the page limit reached) is a full disk's output error, exit 5; nothing half-done."""
    session = OpeningSession.load(session_copy)
    pages = session.ledger.query("PRAGMA page_count")[0]["page_count"]
    session.ledger._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(OutputError, match="disk is full") as caught, session.ledger.transaction() as db:
        session.ledger.set_meta(db, "tender", "changed")
        session.ledger.set_meta(db, "note", "x" * 1_000_000)
    assert exit_code_for(caught.value) == 5 and LEDGER in str(caught.value)
    assert session.ledger._db.in_transaction is False  # rolled back, the connection still usable
    assert session.settings.tender == "HBGP-2026-001"
    session.close_ledger()


def test_a_refused_change_is_a_ledger_error_and_rolled_back(session_copy: Path) -> None:
    session = OpeningSession.load(session_copy)
    refused = r"refused the change \(UNIQUE constraint failed: lots.id\)"
    with pytest.raises(LedgerError, match=refused), session.ledger.transaction() as db:
        db.execute("INSERT INTO lots(id) VALUES ('2')")
        db.execute("INSERT INTO lots(id) VALUES ('1')")
    assert session.settings.lots == ("1",)  # the whole transaction was rolled back
    session.close_ledger()


def test_a_misuse_of_the_connection_is_not_blamed_on_the_ledger(session_copy: Path) -> None:
    """A ProgrammingError is a bug in the caller: it stays what it is."""
    session = OpeningSession.load(session_copy)
    with pytest.raises(sqlite3.ProgrammingError):
        session.ledger.query("SELECT ?", ())
    session.close_ledger()
