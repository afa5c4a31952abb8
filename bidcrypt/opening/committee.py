"""The opening committee (开标委员会): the session's opening key held k of n by its members.

Custody ``committee`` (docs/remote.md): at the session's creation
:func:`entrust` encrypts the opening key's PKCS#8 DER with AES-256-GCM under a
random 32-byte key-encryption key (KEK), splits the KEK with PyCryptodome's
Shamir secret sharing as two 16-byte blocks, k of n with the indexes 1..n,
and seals member i's 32 share bytes in a CMS envelope to the member's
encryption certificate (an RSA key by PKCS#1 v1.5, what every UKey decrypts:
the member's UKey is not there to be asked when the session is made; EC by
ECDH; SM2 in GM/T 0010)::

    SESSION/custody/opening-key.enc    nonce(12) ‖ AES-256-GCM ciphertext ‖ tag, AAD = session id
    SESSION/custody/share-<i>.p7m      EnvelopedData to member i: {"member", "session", "share"}

The ledger's ``committee_members`` keeps each member's certificate and the
SHA-256 of the share, the ``meta`` table the quorum and the session id the
shares are bound to. At the opening, k members release their shares
(:func:`bidcrypt.package.make_share_release`), the session accepts them
(:func:`accept_share`), and :func:`rebuild_opening_key` combines them, in
memory, into a key source that lives as long as the opening. Neither the
private key nor the KEK is ever written in the clear.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bidcrypt import certs
from bidcrypt.certs import Purpose
from bidcrypt.clock import Clock
from bidcrypt.envelope import DEFAULT_TRANSPORT, EnvelopeBuilder, Keys
from bidcrypt.errors import CommitteeError, LedgerError, QuorumNotReachedError
from bidcrypt.files import atomic_output
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource, MemorySource, key_from_pkcs8
from bidcrypt.opening.committee_ledger import (
    QUORUM_META,
    SESSION_META,
    AcceptedShare,
    accept_share_with,
    committee_session,
    released_shares,
    shares_released,
)
from bidcrypt.opening.session_view import SessionView
from bidcrypt.package import KEK_SIZE, combine_shares, share_digest, share_file_content, split_kek

#: The folder of a session that holds the committee's custody files.
CUSTODY = "custody"
#: The encrypted opening key, inside :data:`CUSTODY`.
OPENING_KEY_FILE = "opening-key.enc"
#: The nonce of AES-GCM.
NONCE_SIZE = 12


def share_file_name(member: int) -> str:
    """The name of member *member*'s sealed share in the session's custody folder."""
    return f"share-{member}.p7m"


def entrust(
    directory: Path,
    db: sqlite3.Connection,
    private_key_der: bytes,
    members: Sequence[x509.Certificate],
    quorum: int,
    session_id: str,
) -> list[dict[str, Any]]:
    """Put the opening key (*private_key_der*, PKCS#8) in the custody of *members*, *quorum* of them needed.

    Called by the session's creation inside its ledger transaction *db*;
    writes ``custody/`` in *directory* (each file complete or not at all) and
    the ``committee_members`` rows. Returns the profile's ``custody.members``
    list. Refused with :class:`~bidcrypt.errors.CommitteeError` unless
    2 ≤ *quorum* ≤ n and the certificates are distinct keys; a certificate
    that cannot encrypt (key usage, validity, an unsupported key) with the
    certificate errors of :mod:`bidcrypt.certs` and the envelope.
    """
    _check_committee(members, quorum, session_id)
    kek = bytearray(os.urandom(KEK_SIZE))
    try:
        nonce = os.urandom(NONCE_SIZE)
        sealed_key = nonce + AESGCM(bytes(kek)).encrypt(nonce, private_key_der, session_id.encode("ascii"))
        shares = split_kek(bytes(kek), quorum, len(members))
    finally:
        kek[:] = bytes(len(kek))
    envelopes = [
        EnvelopeBuilder()
        .add_recipient(certificate, key_transport=DEFAULT_TRANSPORT)
        .encrypt_bytes(share_file_content(session_id, index, shares[index]))
        for index, certificate in enumerate(members, start=1)
    ]
    folder = directory / CUSTODY
    folder.mkdir(exist_ok=True)
    _write(folder / OPENING_KEY_FILE, sealed_key)
    listed = []
    for index, (certificate, envelope) in enumerate(zip(members, envelopes, strict=True), start=1):
        _write(folder / share_file_name(index), envelope)
        der = certificate.public_bytes(serialization.Encoding.DER)
        name = certs.common_name(certificate) or certs.display_name(certificate)
        db.execute(
            "INSERT INTO committee_members(member, name, certificate, share_digest) VALUES (?, ?, ?, ?)",
            (index, name, der, share_digest(shares[index])),
        )
        listed.append({"member": index, "name": name, "certificate_sha256": hashlib.sha256(der).hexdigest()})
    for key, value in ((QUORUM_META, str(quorum)), (SESSION_META, session_id)):
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
    return listed


def _check_committee(members: Sequence[x509.Certificate], quorum: int, session_id: str) -> None:
    count = len(members)
    if not 2 <= quorum <= count:
        raise CommitteeError(
            Text(
                "the quorum must be at least 2 and at most the {count} members, not {quorum}",
                "法定人数须不少于 2 且不多于成员数 {count}，而非 {quorum}",
                count=count,
                quorum=quorum,
            )
        )
    if count > 255:
        raise CommitteeError(Text("at most 255 members", "成员不得超过 255 名"))
    if not session_id.isascii() or not session_id:
        raise CommitteeError(Text("the session id must be ASCII", "会话标识须为 ASCII"))
    keys: dict[str, int] = {}
    for index, certificate in enumerate(members, start=1):
        certs.require_purpose(certificate, Purpose.ENCRYPTION)
        certs.require_valid_at(certificate)
        first = keys.setdefault(certs.key_fingerprint(certificate), index)
        if first != index:
            raise CommitteeError(
                Text(
                    "members {first} and {index} have the same key ({subject})",
                    "成员 {first} 与 {index} 的密钥相同（{subject}）",
                    first=first,
                    index=index,
                    subject=certs.display_name(certificate),
                )
            )


def _write(path: Path, data: bytes) -> None:
    with atomic_output(path, private=True) as out:
        out.write(data)


# -- the session side: the quorum and the rebuilt key ----------------------------------------------


def accept_share(
    session: SessionView,
    body: bytes,
    clock: Clock | None = None,
    *,
    size: int | None = None,
    release_keys: Keys | None = None,
) -> AcceptedShare:
    """Accept a committee member's share release *body*, or refuse it; either way it is recorded.

    Refused before the opening time and outside the running window; see
    :mod:`bidcrypt.opening.committee_ledger` for every refusal and its code.
    *clock* stamps the arrival (default: the system clock); *size* is the
    body's full size when only its first bytes were read
    (:func:`~bidcrypt.opening.read_body`); *release_keys* opens the body
    (default: the session's release key, ``keys/release.pem``).
    """
    if release_keys is not None:
        return accept_share_with(session, body, release_keys, clock, size)
    with session.release_keys() as keys:
        return accept_share_with(session, body, keys, clock, size)


def rebuild_opening_key(
    session: SessionView, release_keys: Keys | None = None, certificate: x509.Certificate | None = None
) -> KeySource:
    """The opening key rebuilt from the accepted shares, as a key source held in memory only.

    *release_keys* opens the share releases kept in the ledger (default: the
    session's release key), *certificate* is the opening certificate
    (default: the profile's). At least k accepted shares are needed, else
    :class:`~bidcrypt.errors.QuorumNotReachedError` ("k of n shares
    released"). Nothing is written: close the source when the opening is done.
    """
    quorum, released, count = shares_released(session)
    session_id = committee_session(session)
    if released < quorum:
        raise QuorumNotReachedError(released=released, members=count, quorum=quorum)
    if certificate is None:
        certificate = session.profile.opening_certificate
        if certificate is None:
            raise CommitteeError(Text("the profile has no opening certificate", "会话配置文件中没有开标证书"))
    if release_keys is None:
        with session.release_keys() as keys:
            shares = released_shares(session, keys)
    else:
        shares = released_shares(session, release_keys)
    if len(shares) < quorum:
        raise QuorumNotReachedError(released=len(shares), members=count, quorum=quorum)
    kek = bytearray(combine_shares({m: s.share for m, s in shares.items()}, quorum))
    try:
        sealed = (session.directory / CUSTODY / OPENING_KEY_FILE).read_bytes()
        der = AESGCM(bytes(kek)).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], session_id.encode("ascii"))
    except (OSError, InvalidTag, ValueError) as exc:
        raise _custody_damaged(session) from exc
    finally:
        kek[:] = bytes(len(kek))
    try:
        return MemorySource(certificate, key_from_pkcs8(der), "committee")
    except ValueError as exc:
        raise CommitteeError(
            Text(
                "the rebuilt opening key is not the opening certificate's",
                "重建的开标密钥与开标证书不符",
            )
        ) from exc


def _custody_damaged(session: SessionView) -> LedgerError:
    return LedgerError(
        Text(
            "the committee's custody files do not open with the released shares",
            "开标委员会的托管文件无法用已释放的密钥分量打开",
        ),
        path=session.directory / CUSTODY,
    )


__all__ = [
    "CUSTODY",
    "OPENING_KEY_FILE",
    "AcceptedShare",
    "accept_share",
    "entrust",
    "rebuild_opening_key",
    "share_file_name",
    "shares_released",
]
