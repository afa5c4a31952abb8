"""Fixtures of the opening tests: packages made once per session, and a fresh session folder."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import KeyTransport
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.opening import OpeningSession
from bidcrypt.opening.ledger import now_text
from bidcrypt.package import Summary, SummaryFile, pack
from bidcrypt.seal import SealKind, choose_entry

from ..conftest import Pki

TENDER = "HBGP-2026-001"


def make_package(
    pki: Pki,
    directory: Path,
    bidder: str,
    *,
    lot: str | None = "1",
    enc: str | None = None,
    authority: bool | str = True,
    price: str = "100.00",
    size: int = 10_000,
    name: str | None = None,
    sealed_pdf: Path | None = None,
    backup: Path | None = None,
) -> Path:
    """A package of *bidder* (PKCS#12 keys: fast) with a sealed PDF and a unique attachment.

    *authority*: encrypt to the opening authority too (``authority/enc``), or
    to the authority certificate it names (``sm2/authority/enc``). An SM2
    bidder is named ``sm2/bidder-a``. *backup*: also write the backup copy (备用文件) there.
    """
    name = name or f"{bidder.replace('/', '-')}-{lot}-{enc or 'enc'}"
    source = directory / f"src-{name}"
    source.mkdir(parents=True)
    if sealed_pdf is not None:
        shutil.copy(sealed_pdf, source / "投标函.pdf")
    (source / "附件").mkdir()
    (source / "附件" / "说明.bin").write_bytes(f"{name}:".encode() * (size // (len(name) + 1) + 1))
    recipients = [load_certificate(pki.cert(f"{bidder}/{enc or 'enc'}"))]
    if authority:
        name_of_authority = authority if isinstance(authority, str) else "authority/enc"
        recipients.append(load_certificate(pki.cert(name_of_authority)))
    summary = SummaryFile(Summary(price=__import__("decimal").Decimal(price), duration="90日历天"))
    output = directory / f"{name}.bid"
    with open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin)) as signer:
        pack(
            source,
            output,
            tender=TENDER,
            lot=lot,
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=recipients,
            summary=summary,
            authority_transport=KeyTransport.PKCS1V15,  # what the authority's SoftHSM2 token undoes
            backup=backup,
        )
    return output


def new_session(
    pki: Pki,
    directory: Path,
    *,
    lots: tuple[str, ...] = ("1",),
    deadline: dt.datetime | None = None,
    opening: dt.datetime | None = None,
) -> OpeningSession:
    """A session with the three fixture bidders registered and their encryption certificates bound."""
    now = dt.datetime.now(dt.UTC)
    deadline = deadline or now + dt.timedelta(hours=1)
    session = OpeningSession.create(
        directory,
        tender=TENDER,
        lots=list(lots),
        deadline=deadline,
        opening_time=opening or deadline,
        trust=[pki.roots, pki.intermediates],
        crls=[pki.crl],
    )
    for bidder in ("bidder-a", "bidder-b", "bidder-c"):
        company = pki.company(bidder)
        session.register_bidder(company["name"], company["credit_code"])
        session.bind_certificate(company["credit_code"], load_certificate(pki.cert(f"{bidder}/enc")))
    return session


def move_opening_time_back(session: OpeningSession) -> None:
    """Put the session's deadline and opening time a second in the past.

    The session's clock moves, not the test's: a command run as a process
    may then open at once, and bidcrypt has no switch of its own for it.
    """
    past = now_text(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with session.ledger.transaction() as db:
        db.execute("UPDATE meta SET value = ? WHERE key IN ('deadline', 'opening_time')", (past,))
