"""The record of a remote opening: how each bid was opened, 视为撤销/撤回, the window, sign-ins, the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bidcrypt.opening import OpeningSession, build_record, render
from bidcrypt.opening.backup import accept_backup
from bidcrypt.opening.closing import close_window
from bidcrypt.opening.ledger import now_text
from bidcrypt.opening.window import pause_window, resume_window, start_window

from ..conftest import Pki
from .window_helpers import Bids, code_of, make_bids, session_with_bids, window_clock


@pytest.fixture(scope="module")
def bids(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Bids:
    return make_bids(pki, tmp_path_factory.mktemp("record-bids"))


def _sign_in(session: OpeningSession, credit_code: str, seconds: float) -> None:
    """A sign-in row as the sign-in acceptance writes it (its statement is not what the record reads)."""
    at = now_text(window_clock(session, seconds).moment)
    bidder = session.bidder(credit_code)
    with session.ledger.transaction() as db:
        db.execute(
            "INSERT INTO challenges(nonce, issued_at, expires_at, used_at) VALUES (?, ?, ?, ?)",
            (f"n-{credit_code}", at, at, at),
        )
        db.execute(
            "INSERT INTO signins(bidder_id, at, nonce, certificate_fingerprint, statement) "
            "VALUES (?, ?, ?, ?, ?)",
            (bidder["id"], at, f"n-{credit_code}", "00" * 32, b"statement"),
        )


@pytest.fixture(scope="module")
def closed_session(pki: Pki, tmp_path_factory: pytest.TempPathFactory, bids: Bids) -> OpeningSession:
    """a: signed in, opened from its backup; b: signed in, deemed withdrawn (outage); c: deemed revoked."""
    session = session_with_bids(pki, tmp_path_factory.mktemp("record") / "s", bids)
    _sign_in(session, code_of(pki, "bidder-a"), -60)
    _sign_in(session, code_of(pki, "bidder-b"), -30)
    start_window(session, 1800, window_clock(session, 0))
    pause_window(session, "解密服务器宕机", "platform-outage", window_clock(session, 60))
    resume_window(session, window_clock(session, 360), reason="备用服务器已接管")
    accept_backup(session, code_of(pki, "bidder-a"), bids.backups["bidder-a"], window_clock(session, 400))
    close_window(
        session,
        {code_of(pki, "bidder-b"): "解密服务器宕机，投标人无法解密"},
        clock=window_clock(session, 2050),
    )
    return session


def test_the_record_in_json(closed_session: OpeningSession, pki: Pki) -> None:
    record = json.loads(render(build_record(closed_session, "en"), "json"))
    rows = {row["credit_code"]: row for row in record["rows"]}
    a, b, c = (rows[code_of(pki, x)] for x in ("bidder-a", "bidder-b", "bidder-c"))
    assert (a["status"], a["opened_by"], a["attribution"]) == ("opened", "backup", None)
    assert a["opened_how"].startswith("opened from the backup at ") and a["signed_in_at"]
    assert (b["status"], b["attribution"], b["attribution_reason"]) == (
        "not-decrypted",
        "not-bidder",
        "解密服务器宕机，投标人无法解密",
    )
    assert "deemed withdrawn" in b["cause"] and "解密服务器宕机" in b["cause"]
    assert (c["attribution"], c["signed_in_at"]) == ("bidder", None) and "deemed revoked" in c["cause"]
    window = record["window"]
    assert (window["state"], window["closed_by"], window["seconds"]) == ("closed", "official", 1800)
    assert window["pauses"][0]["reason"] == "解密服务器宕机" and window["pauses"][0]["resumed_at"]
    assert window["pauses"][0]["resume_reason"] == "备用服务器已接管"
    assert [s["credit_code"] for s in record["signins"]] == [
        code_of(pki, "bidder-a"),
        code_of(pki, "bidder-b"),
    ]
    assert record["rule"]["name"] == "regulation-44"
    (decision,) = record["decisions"]
    assert (decision["count"], decision["proceeds"], decision["counts"]) == (3, True, "bidders")
    assert record["committee"] is None


def test_the_record_in_chinese(closed_session: OpeningSession) -> None:
    text = render(build_record(closed_session, "zh"), "table", "zh")
    for phrase in (
        "以备用文件开启",
        "恢复（备用服务器已接管）",
        "视为撤销",
        "视为撤回",
        "解密服务器宕机，投标人无法解密",
        "解密时间：",
        "暂停：解密服务器宕机 [platform-outage]",
        "恢复",
        "签到",
        "第四十四条",
        "开标继续进行",
    ):
        assert phrase in text, phrase
    html = render(build_record(closed_session, "zh"), "html", "zh")
    assert "视为撤回" in html and "解密时间" in html


def test_the_record_in_english(closed_session: OpeningSession) -> None:
    text = render(build_record(closed_session, "en"), "table", "en")
    for phrase in (
        "opened from the backup at",
        "deemed revoked",
        "deemed withdrawn",
        "paused",
        "resumed",
        "signed in",
    ):
        assert phrase in text, phrase
    assert "art. 44" in text


def test_procurement_rule_below_three_is_flagged(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids)
    with session.ledger.transaction() as db:
        session.ledger.set_meta(db, "rule", "procurement-36")
    start_window(session, 600, window_clock(session, 0))
    accept_backup(session, code_of(pki, "bidder-c"), bids.backups["bidder-c"], window_clock(session, 10))
    close_window(session, clock=window_clock(session, 700))
    record = build_record(session, "zh")
    (decision,) = record.decisions
    assert (decision["count"], decision["proceeds"]) == (1, False)
    assert [f.code for f in record.flags if f.code == "rule"] == ["rule"]
    assert "废标" in render(record, "table", "zh")


def test_a_release_without_sign_in_is_flagged(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    start_window(session, 600, window_clock(session, 0))
    at = now_text(window_clock(session, 5).moment)
    with session.ledger.transaction() as db:  # the outcome a release writes
        db.execute(
            "INSERT INTO outcomes(submission_id, status, report, finished_at, opened_by, released_at) "
            "VALUES (1, 'opened', '{}', ?, 'release', ?)",
            (at, at),
        )
    record = build_record(session, "en", now=window_clock(session, 10).moment)
    (row,) = [r for r in record.rows if r.submission == 1]
    assert row.opened_how is not None and row.opened_how.startswith("released by the bidder at")
    assert [f.code for f in record.flags if f.code == "released-without-signin"] == [
        "released-without-signin"
    ]
    assert record.window is not None and record.window["state"] == "running"
    assert record.window["remaining"] == 590


def test_k_of_n_shares_released(pki: Pki, tmp_path: Path, bids: Bids) -> None:
    session = session_with_bids(pki, tmp_path / "s", bids, ("bidder-a",))
    at = now_text(window_clock(session, 5).moment)
    with session.ledger.transaction() as db:  # as entrust and accept_share write them
        session.ledger.set_meta(db, "committee_quorum", "2")
        for member in (1, 2, 3):
            db.execute(
                "INSERT INTO committee_members(member, name, certificate, share_digest) VALUES (?, ?, ?, ?)",
                (member, f"member {member}", b"der", "00" * 32),
            )
        for member, verdict in ((1, "accepted"), (2, "refused"), (1, "refused")):
            db.execute(
                "INSERT INTO releases(at, kind, sha256, size, member, verdict) "
                "VALUES (?, 'share', ?, 1, ?, ?)",
                (at, f"{member}{verdict}", member, verdict),
            )
    record = build_record(session, "en")
    assert record.committee == {"quorum": 2, "released": 1, "members": 3}
    assert "committee: 1 of 3 shares released (2 needed)" in render(record, "table", "en")
    assert "开标委员会：3 份密钥分片已提交 1 份（需 2 份）" in render(
        build_record(session, "zh"), "table", "zh"
    )
