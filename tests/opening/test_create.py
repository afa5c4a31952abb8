"""`opening create`: a complete session or nothing; a refused or failed create leaves nothing behind.

A new folder is built under a staging name and renamed into place; an
existing empty folder is filled in place and marked complete last. Every
command refuses a session whose creation did not finish.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt.errors import InputError, OutputExistsError, SessionIncompleteError
from bidcrypt.opening import OpeningSession, creation
from bidcrypt.opening.ledger import Ledger

from ..conftest import Pki, run_cli

DEADLINE = "2026-12-01T09:30+08:00"


def _create_args(pki: Pki, session: Path, *extra: str) -> list[str]:
    return [
        "opening",
        "create",
        str(session),
        "--tender",
        "HBGP-2026-001",
        "--deadline",
        DEADLINE,
        "--opening-time",
        DEADLINE,
        "--trust",
        str(pki.roots),
        "--trust",
        str(pki.intermediates),
        *extra,
    ]


def _left_in(folder: Path) -> list[str]:
    """What a folder holds (SQLite's -wal and -shm files of an open ledger aside)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_create_makes_a_complete_session(pki: Pki, tmp_path: Path) -> None:
    result = run_cli(*_create_args(pki, tmp_path / "new" / "s", "--lot", "1", "--lot", "2"))
    assert result.exit_code == 0, result.stderr
    assert _left_in(tmp_path / "new") == ["s"]  # no staging folder beside it
    assert _left_in(tmp_path / "new" / "s") == [
        "ledger.sqlite",
        "open.lock",
        "opened",
        "submissions",
        "trust",
    ]
    session = OpeningSession.load(tmp_path / "new" / "s")
    assert session.settings.lots == ("1", "2")
    assert session.ledger.meta("complete") == "1"


def test_create_in_an_existing_empty_folder_keeps_the_folder(pki: Pki, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    folder.mkdir()
    inode = folder.stat().st_ino
    assert run_cli(*_create_args(pki, folder)).exit_code == 0
    assert folder.stat().st_ino == inode  # filled in place, not replaced (it may be a mount point)
    assert OpeningSession.load(folder).settings.tender == "HBGP-2026-001"


@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "existing empty folder"])
@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--lot", "1", "--lot", "1"], 3, "given twice"),
        (["--lot", "  "], 3, "lot identifier is empty"),
        (["--lot", "1\x1b[2J"], 3, "control or invisible characters"),
        (["--lot", "1\u202e2"], 3, "\\u202e"),
        (["--trust", "/nonexistent/ca.pem"], 3, "/nonexistent/ca.pem"),
        (["--crl", "/nonexistent/ca.crl"], 3, "/nonexistent/ca.crl"),
        (["--deadline", "2026-12-02T09:30+08:00"], 3, "opening time comes before the deadline"),
    ],
)
def test_a_refused_create_leaves_nothing(
    pki: Pki, tmp_path: Path, existing: bool, extra: list[str], code: int, words: str
) -> None:
    target = tmp_path / "parent" / "s"
    if existing:
        target.mkdir(parents=True)
    result = run_cli(*_create_args(pki, target), *extra)
    assert result.exit_code == code, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    if existing:
        assert _left_in(target.parent) == ["s"] and _left_in(target) == []
    else:
        assert _left_in(tmp_path) == []  # not even the parent folder


@pytest.mark.parametrize("tender", ["   ", "HBGP\n2026", ""])
def test_a_blank_or_control_tender_is_refused(pki: Pki, tmp_path: Path, tender: str) -> None:
    args = _create_args(pki, tmp_path / "s")
    args[args.index("--tender") + 1] = tender
    result = run_cli(*args)
    assert result.exit_code == 3, result.stderr
    assert "tender identifier" in result.stderr
    assert _left_in(tmp_path) == []


def test_a_bad_trust_file_leaves_nothing(pki: Pki, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    target = tmp_path / "out" / "s"
    result = run_cli(*_create_args(pki, target, "--trust", str(garbage)))
    assert result.exit_code == 3 and "garbage.pem" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
    result = run_cli(*_create_args(pki, target, "--trust", str(tmp_path)))  # a folder: a usage error
    assert result.exit_code == 2 and "is a directory" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_an_existing_file_or_full_folder_is_not_touched(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("keep")
    result = run_cli(*_create_args(pki, tmp_path / "full"))
    assert result.exit_code == 4 and "already exists" in result.stderr, result.stderr
    result = run_cli(*_create_args(pki, tmp_path / "file"))
    assert result.exit_code == 2 and "is a file" in result.stderr, result.stderr  # click refuses it
    with pytest.raises(OutputExistsError):  # and so does the library
        OpeningSession.create(
            tmp_path / "file",
            tender="T",
            deadline=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            opening_time=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            trust=[pki.roots],
        )
    assert (tmp_path / "file").read_text() == "keep" and _left_in(tmp_path / "full") == ["notes.txt"]
    assert _left_in(tmp_path) == ["file", "full"]


def test_a_dangling_link_is_not_replaced(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "s").symlink_to(tmp_path / "nowhere")
    result = run_cli(*_create_args(pki, tmp_path / "s"))
    assert result.exit_code == 4 and "already exists" in result.stderr, result.stderr
    assert (tmp_path / "s").is_symlink() and _left_in(tmp_path) == ["s"]


def _raiser(error: BaseException) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    return fail


_MIDWAY = [
    (existing, point)
    for existing in (False, True)
    for point in ("copying trust", "in the ledger transaction", "syncing", "publishing")
    if not (existing and point == "publishing")  # an existing folder is filled in place: nothing to publish
]


@pytest.mark.parametrize(("existing", "point"), _MIDWAY)
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=repr)
def test_a_create_failing_midway_leaves_nothing(
    pki: Pki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    existing: bool,
    error: BaseException,
    point: str,
) -> None:
    target = tmp_path / "parent" / "s"
    if existing:
        target.mkdir(parents=True)
    if point == "copying trust":
        real_copy = creation._copy
        calls = []

        def copy_then_fail(source: Path, destination: Path) -> None:
            calls.append(source)
            if len(calls) == 2:
                raise error
            real_copy(source, destination)

        monkeypatch.setattr(creation, "_copy", copy_then_fail)
    elif point == "in the ledger transaction":
        real_set_meta = Ledger.set_meta

        def set_meta(self: Ledger, db: object, key: str, value: str) -> None:
            if key == "created_at":
                raise error
            real_set_meta(self, db, key, value)  # type: ignore[arg-type]

        monkeypatch.setattr(Ledger, "set_meta", set_meta)
    elif point == "syncing":
        monkeypatch.setattr(creation, "sync_directory", _raiser(error))
    else:
        monkeypatch.setattr(creation, "_publish", _raiser(error))
    with pytest.raises(type(error)):
        OpeningSession.create(
            target,
            tender="HBGP-2026-001",
            deadline=dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC),
            opening_time=dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC),
            trust=[pki.roots, pki.intermediates],
            lots=["1"],
        )
    if existing:
        assert _left_in(target.parent) == ["s"] and _left_in(target) == []
    else:
        assert _left_in(tmp_path) == []  # not even the parent folder it made
    with pytest.raises(InputError, match="not an opening session"):
        OpeningSession.load(target)


_KILLED_CREATE = """
import datetime as dt, os, signal, sys
from pathlib import Path
from bidcrypt.opening import OpeningSession, creation
from bidcrypt.opening.ledger import Ledger

target, point, roots, intermediates = sys.argv[1:5]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if point == "copy":
    creation._copy = die
elif point == "transaction":
    real = Ledger.set_meta
    def set_meta(self, db, key, value):
        return die() if key == "created_at" else real(self, db, key, value)
    Ledger.set_meta = set_meta
elif point == "publish":
    creation._publish = die
moment = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
OpeningSession.create(Path(target), tender="T", deadline=moment, opening_time=moment,
                      trust=[Path(roots), Path(intermediates)])
"""


@pytest.mark.parametrize(
    ("existing", "point"),
    [(False, "copy"), (False, "transaction"), (False, "publish"), (True, "copy"), (True, "transaction")],
)
def test_a_killed_create_leaves_no_usable_session(
    pki: Pki, tmp_path: Path, existing: bool, point: str
) -> None:
    """SIGKILL runs no clean-up: what is left is refused by every command, and the next create works."""
    target = tmp_path / "s"
    if existing:
        target.mkdir()
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_CREATE, str(target), point, str(pki.roots), str(pki.intermediates)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if not existing:
        assert not target.exists()  # only a hidden staging folder beside it
        assert [p.name for p in tmp_path.iterdir() if "bidcrypt-create" in p.name]
    else:
        for command in (["close", str(target)], ["report", str(target)]):
            result = run_cli("opening", *command)
            expected = 3 if point == "copy" else 7  # no ledger yet: not a session; else incomplete
            assert result.exit_code == expected, result.stderr
            assert "Traceback" not in result.stderr
        if point == "transaction":
            with pytest.raises(SessionIncompleteError, match="incomplete opening session"):
                OpeningSession.load(target)
            for path in target.iterdir():  # the unfinished folder is emptied by hand, as the hint says
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        else:
            shutil.rmtree(target)
            target.mkdir()
    assert run_cli(*_create_args(pki, target)).exit_code == 0
    assert OpeningSession.load(target).settings.tender == "HBGP-2026-001"
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # the dead create's staging folder was removed


def test_create_accepts_str_paths(pki: Pki, tmp_path: Path) -> None:
    moment = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
    session = OpeningSession.create(
        str(tmp_path / "s"),
        tender="T",
        deadline=moment,
        opening_time=moment,
        trust=[str(pki.roots)],
        crls=[str(pki.crl)],
    )
    assert session.directory == tmp_path / "s"
    assert OpeningSession.load(str(tmp_path / "s")).settings.tender == "T"
