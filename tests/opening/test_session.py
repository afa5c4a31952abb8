"""Opening sessions through the library: binding, submissions and receipts, the rules at the door."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.clock import FixedClock
from bidcrypt.errors import (
    AlreadyBoundError,
    DeadlinePassedError,
    IdentityMismatchError,
    InputError,
    NotOpeningTimeError,
    ReencryptionRequiredError,
    SessionBusyError,
    UnknownBidderError,
    WindowClosedError,
    WrongTenderError,
)
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession, build_record, open_bids, render
from bidcrypt.opening.lock import SessionLock
from bidcrypt.package import check_package, read_package_info

from ..conftest import Pki
from .conftest import TENDER, make_package, new_session

A, B, C = "91420100MA4KXB7Q09", "91350100MA2YHT3R8H", "91330106MA27XK9L4F"


def test_bind_requires_the_registered_name_and_code(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    with pytest.raises(IdentityMismatchError, match="certificate name does not match unit name"):
        session.bind_certificate(A, load_certificate(pki.cert("bidder-a/enc-changed")))  # the new name
    with pytest.raises(IdentityMismatchError):
        session.bind_certificate(B, load_certificate(pki.cert("bidder-a/enc")))
    # after the change (变更): update the registered name, then bind
    session.register_bidder("湖北楚天建设集团有限公司", A)
    session.bind_certificate(A, load_certificate(pki.cert("bidder-a/enc-changed")), replace=True)
    assert [c.serial_number for c in session.current_certificates(int(session.bidder(A)["id"]))] == [
        load_certificate(pki.cert("bidder-a/enc-changed")).serial_number
    ]


def test_one_certificate_binds_to_one_bidder_only(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")  # bidder A's certificate is bound to bidder A
    # Someone re-keys bidder A's record by hand, then registers A's code again as a new bidder:
    db = sqlite3.connect(session.ledger.path)
    db.execute("UPDATE bidders SET credit_code = '91110000802100433B' WHERE credit_code = ?", (A,))
    db.commit()
    db.close()
    session.register_bidder(pki.company("bidder-a")["name"], A)
    with pytest.raises(AlreadyBoundError, match="already bound"):
        session.bind_certificate(A, load_certificate(pki.cert("bidder-a/enc")))


def test_receipts_and_replacement_before_the_deadline(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    first = make_package(pki, tmp_path, "bidder-a", name="first")
    second = make_package(pki, tmp_path, "bidder-a", name="second")
    r1 = session.submit(first)
    r2 = session.submit(second)
    assert (r1.bidder, r1.credit_code, r1.lot) == ("湖北楚天建设工程有限公司", A, "1")
    import hashlib

    assert r1.sha256 == hashlib.sha256(first.read_bytes()).hexdigest() and r1.size == first.stat().st_size
    states = {int(r["id"]): r["state"] for r in session.submissions(state=None)}
    assert states == {r1.submission: "superseded", r2.submission: "current"}  # the last one counts
    stored = session.directory / "submissions" / f"{r2.submission}.bid"
    assert stored.read_bytes() == second.read_bytes()
    assert oct(stored.stat().st_mode & 0o777) == "0o444"  # stored read-only
    assert session.withdraw(A, "1") == r2.submission
    assert session.submissions() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "phrase"),
    [
        ({"lot": "9"}, WrongTenderError, "9"),
        ({"lot": None}, WrongTenderError, "-"),
        ({"enc": "enc-replaced"}, ReencryptionRequiredError, "replaced"),
    ],
)
def test_refused_at_the_door(pki: Pki, tmp_path: Path, kwargs: dict, error: type, phrase: str) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a", **kwargs)
    with pytest.raises(error) as caught:
        session.submit(package)
    assert phrase in caught.value.message()
    assert session.submissions() == []
    assert [r["code"] for r in session.rejections()] == [error.code]
    assert list((session.directory / "submissions").iterdir()) == []  # nothing kept


def test_stale_key_message_is_the_same_as_check(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    session.bind_certificate(A, load_certificate(pki.cert("bidder-a/enc-replaced")), replace=True)
    package = make_package(pki, tmp_path, "bidder-a")
    expected = check_package(read_package_info(package), load_certificate(pki.cert("bidder-a/enc-replaced")))
    with pytest.raises(ReencryptionRequiredError) as caught:
        session.submit(package)
    assert caught.value.params["reason"] == expected.reason()


def test_renewed_binding_still_accepts(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    session.bind_certificate(A, load_certificate(pki.cert("bidder-a/enc-renewed")), replace=True)
    assert session.submit(make_package(pki, tmp_path, "bidder-a")).submission == 1


def test_deadline_and_unknown_bidder(pki: Pki, tmp_path: Path) -> None:
    deadline = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
    session = new_session(pki, tmp_path / "s", deadline=deadline)
    package = make_package(pki, tmp_path, "bidder-b")
    with pytest.raises(DeadlinePassedError):
        session.submit(package, FixedClock(deadline + dt.timedelta(seconds=1)))
    receipt = session.submit(package, FixedClock(deadline))
    assert receipt.received_at == deadline and receipt.time_source == "fixed-clock"
    with pytest.raises(DeadlinePassedError):
        session.withdraw(B, "1", FixedClock(deadline + dt.timedelta(minutes=1)))
    db = sqlite3.connect(session.ledger.path)
    db.execute(
        "DELETE FROM certificates WHERE bidder_id = (SELECT id FROM bidders WHERE credit_code = ?)", (C,)
    )
    db.execute("DELETE FROM bidders WHERE credit_code = ?", (C,))
    db.commit()
    with pytest.raises(UnknownBidderError):
        session.submit(make_package(pki, tmp_path, "bidder-c"), FixedClock(deadline))


def test_create_refuses_bad_settings(pki: Pki, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(InputError):
        OpeningSession.create(
            tmp_path / "a", tender=TENDER, deadline=now, opening_time=now - dt.timedelta(1), trust=[pki.roots]
        )
    with pytest.raises(InputError):
        OpeningSession.create(
            tmp_path / "b",
            tender=TENDER,
            deadline=now.replace(tzinfo=None),
            opening_time=now,
            trust=[pki.roots],
        )
    with pytest.raises(InputError):
        OpeningSession.create(
            tmp_path / "c", tender=TENDER, deadline=now, opening_time=now, trust=[pki.intermediates]
        )
    with pytest.raises(InputError):
        OpeningSession.load(tmp_path / "nothing")


def test_no_opening_before_the_opening_time_and_one_at_a_time(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-a"))
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        with pytest.raises(NotOpeningTimeError):
            open_bids(session, key)
        later = session.settings.opening_time + dt.timedelta(seconds=1)
        with SessionLock(session.directory), pytest.raises(SessionBusyError):
            open_bids(session, key, now=later)
        run = open_bids(session, key, now=later, workers=1)
    assert run.opened == [1] and run.unwraps == 1
    session.close_window()
    key = open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin))
    with key, pytest.raises(WindowClosedError):
        open_bids(session, key, now=later)


def test_window_close_records_unopened_bids(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    session.submit(make_package(pki, tmp_path, "bidder-b", authority=False))
    later = session.settings.opening_time + dt.timedelta(seconds=1)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        run = open_bids(session, key, now=later)
    assert run.skipped == [1] and run.unwraps == 0  # only bidder B's key opens it
    assert session.close_window() == 1
    record = build_record(session)
    assert record.rows[0].status == "not-decrypted"
    assert record.rows[0].cause.startswith("not decrypted within the window (")
    assert "not encrypted to the key used for this opening" in record.rows[0].cause


def test_record_flags_same_document_and_fewer_than_three(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    for bidder in ("bidder-a", "bidder-b"):
        session.submit(make_package(pki, tmp_path, bidder, name=f"{bidder}-own"))
    later = session.settings.opening_time + dt.timedelta(seconds=1)
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        open_bids(session, key, now=later)
    record = build_record(session)
    codes = [flag.code for flag in record.flags]
    assert codes == ["fewer-than-three"]  # different attachments: no collusion signal
    session2 = new_session(pki, tmp_path / "s2")
    for bidder in ("bidder-a", "bidder-c"):
        session2.submit(_same_content_package(pki, tmp_path, bidder))
    with open_key_source(str(pki.p12("authority/enc")), PinSource.of_value(pki.pin)) as key:
        open_bids(session2, key, now=session2.settings.opening_time + dt.timedelta(seconds=1))
    record2 = build_record(session2)
    same = [flag for flag in record2.flags if flag.code == "same-document"]
    assert (
        len(same) == 1
        and "湖北楚天建设工程有限公司" in same[0].message
        and "浙江之江信息技术有限公司" in same[0].message
    )
    for form in ("table", "csv", "html"):
        text = render(record2, form)
        assert "浙江之江信息技术有限公司" in text
    assert json.loads(render(record2, "json"))["tender"] == TENDER
    assert render(record2, "html").startswith("<!DOCTYPE html>")


def _same_content_package(pki: Pki, tmp_path: Path, bidder: str) -> Path:
    """A package whose attachment is byte for byte the one another bidder also sends."""
    from bidcrypt.package import Summary, SummaryFile, pack
    from bidcrypt.seal import SealKind, choose_entry

    source = tmp_path / f"same-{bidder}"
    source.mkdir()
    (source / "技术方案.docx").write_bytes(b"the very same technical proposal" * 100)
    output = tmp_path / f"same-{bidder}.bid"
    with open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin)) as signer:
        pack(
            source,
            output,
            tender=TENDER,
            lot="1",
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=[
                load_certificate(pki.cert(f"{bidder}/enc")),
                load_certificate(pki.cert("authority/enc")),
            ],
            summary=SummaryFile(Summary()),
        )
    return output
