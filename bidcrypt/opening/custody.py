"""A remote-opening session's keys at creation: the custody of the opening key, the release key, the profile.

:class:`RemoteSettings` is what ``opening create --custody ...`` is told;
:meth:`RemoteSettings.check` refuses a contradiction before anything is
made. :func:`prepare_keys` makes the key pairs (in memory), and
:func:`store_remote` writes them, the committee's shares and the signed
profile into the folder being created, inside the ledger's creating
transaction (docs/remote.md):

- ``platform``: the opening certificate is an existing key's encryption
  certificate (its private key never touched), or a new key pair written as
  PKCS#12 to ``opening_key_out`` (:func:`write_opening_key`);
- ``committee``: the opening key pair is made in memory and entrusted to the
  members by :func:`bidcrypt.opening.committee.entrust`;
- ``none``: no opening key.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from bidcrypt import certs, gm
from bidcrypt.certs import Purpose
from bidcrypt.errors import InputError, RuleError
from bidcrypt.files import atomic_output
from bidcrypt.i18n import Text
from bidcrypt.opening.ledger import Ledger
from bidcrypt.opening.profile_make import DEFAULT_WINDOW_SECONDS, write_profile
from bidcrypt.opening.rule import parse_rule
from bidcrypt.opening.session_keys import (
    DEFAULT_SUITE,
    SessionKey,
    check_suite,
    make_session_key,
    write_release_key,
)
from bidcrypt.package import (
    CUSTODY_MODELS,
    SUITE_TRANSPORTS,
    CommitteeMember,
    Custody,
    SessionProfile,
    suite_of,
)

#: The RSA key transports a platform's existing key may declare (``pack --authority-transport``'s names).
RSA_TRANSPORTS = ("oaep", "oaep-sha1", "pkcs1v15")


def _refuse(en: str, zh: str, **params: object) -> InputError:
    return InputError(Text(en, zh, **params), path="-")


def _known_rule(text: str) -> bool:
    """Whether *text* names a rule exactly as the opening will read it (:func:`parse_rule`)."""
    try:
        return parse_rule(text).name == text
    except RuleError:
        return False


@dataclass(frozen=True)
class RemoteSettings:
    """The remote opening a session is made for: suite, custody, window, rule, service (docs/remote.md)."""

    custody: str
    suite: str = DEFAULT_SUITE
    #: ``platform``: the encryption certificate of the platform's existing opening key.
    opening_certificate: x509.Certificate | None = None
    #: ``platform``: where to write a new opening key pair (PKCS#12), with its password.
    opening_key_out: Path | None = None
    opening_key_password: str | None = field(default=None, repr=False)
    #: ``committee``: the members' encryption certificates, and how many of them open.
    members: tuple[x509.Certificate, ...] = ()
    quorum: int | None = None
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    rule: str = "regulation-44"
    service_url: str | None = None
    #: ``platform`` with an existing RSA key: the transports it undoes (``oaep``, ``oaep-sha1``,
    #: ``pkcs1v15``), strongest first, as its owner declares them; None: the suite's (``oaep``).
    transports: tuple[str, ...] | None = None

    def check(self) -> None:
        """Refuse settings that contradict each other, before anything is made."""
        check_suite(self.suite)
        if self.custody not in CUSTODY_MODELS:
            raise _refuse(
                "unknown custody {custody} (known: platform, committee, none)",
                "未知的保管方式 {custody}（可选：platform、committee、none）",
                custody=repr(self.custody),
            )
        if self.window_seconds < 1:
            raise _refuse("the window lasts at least one second", "解密时限至少为 1 秒")
        if not _known_rule(self.rule):
            raise _refuse(
                "unknown rule {rule} (known: regulation-44, procurement-36, minimum:N)",
                "未知的规则 {rule}（可选：regulation-44、procurement-36、minimum:N）",
                rule=repr(self.rule),
            )
        if self.service_url is not None and not self.service_url.startswith(("https://", "http://")):
            raise _refuse("the service URL is not an http(s) URL", "服务地址不是 http(s) 地址")
        platform_given = self.opening_certificate is not None or self.opening_key_out is not None
        if self.custody != "platform" and platform_given:
            raise _refuse(
                "--opening-key and --opening-key-out are for custody platform",
                "--opening-key 和 --opening-key-out 仅用于 platform 保管方式",
            )
        if self.custody != "committee" and (self.members or self.quorum is not None):
            raise _refuse(
                "--member and --quorum are for custody committee",
                "--member 和 --quorum 仅用于 committee 保管方式",
            )
        if self.transports is not None:
            self._check_transports()
        if self.custody == "platform":
            self._check_platform()
        elif self.custody == "committee":
            self._check_committee()

    def _check_transports(self) -> None:
        if self.transports is not None and not (
            self.opening_certificate is not None
            and self.suite == "rsa-3072"
            and self.transports
            and set(self.transports) <= set(RSA_TRANSPORTS)
        ):
            raise _refuse(
                "declared transports are for an existing RSA opening key: oaep, oaep-sha1, pkcs1v15",
                "声明的密钥传输方式仅用于已有的 RSA 开标密钥：oaep、oaep-sha1、pkcs1v15",
            )

    def _check_platform(self) -> None:
        if (self.opening_certificate is None) == (self.opening_key_out is None):
            raise _refuse(
                "custody platform takes one of --opening-key or --opening-key-out",
                "platform 保管方式须指定 --opening-key 或 --opening-key-out 之一",
            )
        if self.opening_key_out is not None and not self.opening_key_password:
            raise _refuse("the new opening key file needs a password", "新的开标密钥文件须设置密码")
        if self.opening_certificate is not None:
            certs.require_purpose(self.opening_certificate, Purpose.ENCRYPTION)
            found = suite_of(self.opening_certificate)
            if found != self.suite:
                raise _refuse(
                    "the opening key is of the suite {found}, not {suite}",
                    "开标密钥属于算法套件 {found}，而不是 {suite}",
                    found=found or "-",
                    suite=self.suite,
                )

    def _check_committee(self) -> None:
        count = len(self.members)
        if self.quorum is None or count < 2 or not 2 <= self.quorum <= count:
            raise _refuse(
                "custody committee needs n ≥ 2 --member certificates and a --quorum K with 2 ≤ K ≤ n",
                "committee 保管方式须有至少 2 个 --member 证书，且 --quorum K 满足 2 ≤ K ≤ n",
            )
        for member in self.members:
            certs.require_purpose(member, Purpose.ENCRYPTION)
        committee_entrust()


def committee_entrust() -> Callable[..., list[dict[str, Any]]]:
    """The committee's ``entrust`` (:mod:`bidcrypt.opening.committee`)."""
    from bidcrypt.opening.committee import entrust

    return entrust


@dataclass(frozen=True)
class SessionKeys:
    """The keys made for a session: the release key, and the opening key when the session makes one."""

    release: SessionKey
    opening: SessionKey | None
    opening_certificate: x509.Certificate | None


def prepare_keys(
    settings: RemoteSettings, *, session_id: str, tender: str, created: dt.datetime, opening_time: dt.datetime
) -> SessionKeys:
    """Make the session's key pairs in memory (the opening key only for a new platform key or a committee)."""
    made = {"session_id": session_id, "tender": tender, "created": created, "opening_time": opening_time}
    release = make_session_key(settings.suite, "release", **made)  # type: ignore[arg-type]
    opening = None
    if settings.custody == "committee" or settings.opening_key_out is not None:
        opening = make_session_key(settings.suite, "opening", **made)  # type: ignore[arg-type]
    certificate = opening.certificate if opening is not None else settings.opening_certificate
    return SessionKeys(release, opening, certificate)


def store_remote(
    folder: Path,
    ledger: Ledger,
    db: sqlite3.Connection,
    settings: RemoteSettings,
    keys: SessionKeys,
    *,
    session_id: str,
    tender: str,
    lots: Sequence[str],
    deadline: dt.datetime,
    opening_time: dt.datetime,
) -> SessionProfile:
    """Inside the creating transaction: the settings in the ledger, the committee's shares, the release key
    and the signed profile in *folder*."""
    for key, value in (
        ("suite", settings.suite),
        ("custody", settings.custody),
        ("window_seconds", str(settings.window_seconds)),
        ("rule", settings.rule),
    ):
        ledger.set_meta(db, key, value)
    if settings.service_url is not None:
        ledger.set_meta(db, "service_url", settings.service_url)
    custody = Custody(settings.custody)
    if settings.custody == "committee" and keys.opening is not None:
        entrust = committee_entrust()
        listed = entrust(
            folder, db, keys.opening.pkcs8_der(), list(settings.members), settings.quorum, session_id
        )
        members = tuple(
            CommitteeMember(int(m["member"]), str(m["name"]), str(m["certificate_sha256"])) for m in listed
        )
        custody = Custody("committee", settings.quorum, members)
    profile = SessionProfile(
        session=session_id,
        tender=tender,
        lots=tuple(lots),
        deadline=deadline,
        opening_time=opening_time,
        window_seconds=settings.window_seconds,
        suite=settings.suite,
        transports=settings.transports or SUITE_TRANSPORTS[settings.suite],
        opening_certificate=keys.opening_certificate,
        release_certificate=keys.release.certificate,
        custody=custody,
        rule=settings.rule,
        minimum_bids=parse_rule(settings.rule).minimum,
        service_url=settings.service_url,
    )
    write_release_key(folder, keys.release)
    write_profile(folder, profile)
    return profile


def write_opening_key(path: Path, opening: SessionKey, password: str) -> None:
    """Write the new opening key pair as PKCS#12 (AES-256, SHA-256 MAC) to *path*, atomically."""
    if isinstance(opening.key, gm.Sm2PrivateKey):
        data = gm.dump_pkcs12(opening.key, opening.certificate_der(), password.encode(), b"opening key")
    else:
        encryption = (
            PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(200_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password.encode())
        )
        data = pkcs12.serialize_key_and_certificates(
            b"opening key", opening.key, opening.certificate, None, encryption
        )
    with atomic_output(path, private=True) as out:
        out.write(data)


__all__ = [
    "RemoteSettings",
    "SessionKeys",
    "committee_entrust",
    "prepare_keys",
    "store_remote",
    "write_opening_key",
]
