"""The session profile (``profile.p7s``, docs/remote.md): what a bidder packs to, signed by the session.

A CMS SignedData (DER) by the session's release key, its certificate
embedded, over UTF-8 JSON with sorted keys and no insignificant whitespace
(:func:`profile_json`). :func:`read_profile` checks the signature against
the release certificate the profile itself carries, the ``type`` and
``version``, and every field's type; anything else is a
:class:`~bidcrypt.errors.ProfileError` (``profile-invalid``). Whether the
profile is the one the agency announced is the bidder's question: compare
its SHA-256 (:func:`profile_sha256`) with the published one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from bidcrypt import certs, gm
from bidcrypt.errors import BidcryptError, ProfileError
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry

PROFILE_TYPE = "bidcrypt-session-profile"
PROFILE_VERSION = 1
#: The largest profile read: two certificates and a committee's digests fit many times over.
MAX_PROFILE_SIZE = 1 << 20
#: The suites a session's keys follow, the default first, and the key transports of each (the
#: ``oaep`` of RSA is ``pack --authority-transport``'s name; EC and SM2 have one transport each).
SESSION_SUITES = ("rsa-3072", "p-256", "sm2")
SUITE_TRANSPORTS: dict[str, tuple[str, ...]] = {"rsa-3072": ("oaep",), "p-256": ("ecdh",), "sm2": ("sm2",)}
CUSTODY_MODELS = ("platform", "committee", "none")
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CommitteeMember:
    """A committee member as the profile names them: index, name, certificate digest."""

    member: int
    name: str
    certificate_sha256: str


@dataclass(frozen=True)
class Custody:
    """Who holds the opening key: ``platform``, ``committee`` (k of n members) or ``none``."""

    model: str
    quorum: int | None = None
    members: tuple[CommitteeMember, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The profile's ``custody`` object."""
        if self.model != "committee":
            return {"model": self.model}
        return {
            "model": self.model,
            "quorum": self.quorum,
            "members": [
                {"member": m.member, "name": m.name, "certificate_sha256": m.certificate_sha256}
                for m in self.members
            ],
        }


@dataclass(frozen=True)
class SessionProfile:
    """A session profile's fields (``type`` and ``version`` are fixed: :data:`PROFILE_TYPE`, 1)."""

    session: str
    tender: str
    lots: tuple[str, ...]
    deadline: dt.datetime
    opening_time: dt.datetime
    window_seconds: int
    suite: str
    transports: tuple[str, ...]
    opening_certificate: x509.Certificate | None
    release_certificate: x509.Certificate
    custody: Custody
    rule: str
    minimum_bids: int
    service_url: str | None
    version: int = field(default=PROFILE_VERSION)

    def to_json(self) -> dict[str, Any]:
        """The profile as the JSON object it is signed as."""
        return {
            "type": PROFILE_TYPE,
            "version": self.version,
            "session": self.session,
            "tender": self.tender,
            "lots": list(self.lots),
            "deadline": format_time(self.deadline),
            "opening_time": format_time(self.opening_time),
            "window_seconds": self.window_seconds,
            "suite": self.suite,
            "transports": list(self.transports),
            "opening_certificate": None
            if self.opening_certificate is None
            else base64.b64encode(self.opening_certificate.public_bytes(Encoding.DER)).decode(),
            "release_certificate": base64.b64encode(
                self.release_certificate.public_bytes(Encoding.DER)
            ).decode(),
            "custody": self.custody.to_json(),
            "rule": self.rule,
            "minimum_bids": self.minimum_bids,
            "service_url": self.service_url,
        }


def format_time(moment: dt.datetime) -> str:
    """A profile time: UTC, seconds, ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def profile_json(profile: SessionProfile) -> bytes:
    """The canonical JSON the profile is signed over: UTF-8, keys sorted, no insignificant whitespace."""
    return json.dumps(profile.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_profile(profile: SessionProfile, entry: KeyEntry, signing_time: dt.datetime | None = None) -> bytes:
    """The DER SignedData of *profile*'s canonical JSON by *entry* (the release key), with its certificate.

    Made through the one SignedData path (:func:`bidcrypt.package.signed.sign`).
    """
    from bidcrypt.package.signed import sign  # imports pyHanko: only when a profile is made

    return sign(profile_json(profile), entry, signing_time)


def profile_sha256(data: bytes) -> str:
    """The SHA-256 (hex) of a profile file: what a bidder compares with the announced one."""
    return hashlib.sha256(data).hexdigest()


def suite_of(certificate: x509.Certificate) -> str | None:
    """The suite whose keys *certificate* certifies (any RSA key of 2048 bits or more is ``rsa-3072``'s)."""
    key = certs.public_key(certificate)
    if isinstance(key, gm.Sm2PublicKey):
        return "sm2"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return "rsa-3072"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "p-256"
    return None


def _invalid(en: str, zh: str, **params: object) -> ProfileError:
    return ProfileError(Text(en, zh, **params))


def read_profile(data: bytes) -> SessionProfile:
    """Check a profile file (signature by its release certificate, type, version, fields) and read it."""
    from bidcrypt.package.signed import verify  # imports pyHanko: only when a profile is read

    if len(data) > MAX_PROFILE_SIZE:
        raise _invalid("larger than {limit} bytes", "大于 {limit} 字节", limit=MAX_PROFILE_SIZE)
    try:
        signed = verify(bytes(data))
    except BidcryptError as exc:
        raise ProfileError(exc.message("en") if not isinstance(exc.detail, Text) else exc.detail) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise _invalid("not a CMS SignedData", "不是 CMS SignedData") from exc
    try:
        document = json.loads(signed.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid("its content is not UTF-8 JSON", "其内容不是 UTF-8 JSON") from exc
    profile = profile_from_json(document)
    signer_der = signed.signer.public_bytes(Encoding.DER)
    if signer_der != profile.release_certificate.public_bytes(Encoding.DER):
        raise _invalid("not signed by its release certificate", "签名者不是其会话接收证书")
    return profile


def profile_from_json(document: object) -> SessionProfile:
    """The profile of a parsed JSON *document*, every field checked; :class:`ProfileError` if any is wrong."""
    fields = _Fields(document)
    if fields.text("type") != PROFILE_TYPE:
        raise _invalid("its type is not {type}", "其类型不是 {type}", type=PROFILE_TYPE)
    if fields.integer("version") != PROFILE_VERSION:
        raise _invalid(
            "version {version} is not supported", "不支持版本 {version}", version=fields.raw("version")
        )
    session = fields.text("session")
    if not _SESSION_ID.fullmatch(session):
        raise _invalid("the session id is not 32 hex digits", "会话标识不是 32 位十六进制数")
    suite = fields.text("suite")
    if suite not in SESSION_SUITES:
        raise _invalid("unknown suite {suite}", "未知的算法套件 {suite}", suite=repr(suite))
    release = fields.certificate("release_certificate")
    if release is None:
        raise _invalid("it names no release certificate", "其中没有会话接收证书")
    opening = fields.certificate("opening_certificate", optional=True)
    for certificate in (release, opening):
        if certificate is not None and suite_of(certificate) != suite:
            raise _invalid(
                "a certificate's key is not of the suite {suite}",
                "证书密钥不属于算法套件 {suite}",
                suite=suite,
            )
    custody = _custody(fields.raw("custody"))
    if (opening is None) != (custody.model == "none"):
        raise _invalid(
            "an opening certificate is there exactly when the custody is not none",
            "开标证书须且仅须在保管方式不为 none 时出现",
        )
    deadline, opening_time = fields.time("deadline"), fields.time("opening_time")
    if opening_time < deadline:
        raise _invalid("the opening time comes before the deadline", "开标时间早于投标截止时间")
    profile = SessionProfile(
        session=session,
        tender=fields.text("tender", nonempty=True),
        lots=fields.texts("lots", unique=True),
        deadline=deadline,
        opening_time=opening_time,
        window_seconds=fields.integer("window_seconds", minimum=1),
        suite=suite,
        transports=fields.texts("transports", unique=True, nonempty=True),
        opening_certificate=opening,
        release_certificate=release,
        custody=custody,
        rule=fields.text("rule", nonempty=True),
        minimum_bids=fields.integer("minimum_bids", minimum=0),
        service_url=fields.text("service_url", optional=True),
    )
    if not set(profile.transports) <= set(SUITE_TRANSPORTS[suite]) | _RSA_TRANSPORTS.get(suite, set()):
        raise _invalid(
            "a transport is not one of the suite {suite}", "有密钥传输方式不属于算法套件 {suite}", suite=suite
        )
    fields.require_all_read()
    return profile


#: Every RSA transport ``pack`` offers, which a platform's own RSA key may declare.
_RSA_TRANSPORTS = {"rsa-3072": {"oaep", "oaep-sha1", "pkcs1v15"}}


def _custody(value: object) -> Custody:
    fields = _Fields(value, "custody")
    model = fields.text("model")
    if model not in CUSTODY_MODELS:
        raise _invalid("unknown custody model {model}", "未知的保管方式 {model}", model=repr(model))
    if model != "committee":
        fields.require_all_read()
        return Custody(model)
    quorum = fields.integer("quorum", minimum=2)
    members_value = fields.raw("members")
    if not isinstance(members_value, list) or not quorum <= len(members_value):
        raise _invalid("the committee's members are fewer than its quorum", "开标委员会成员少于法定人数")
    members = []
    for index, item in enumerate(members_value, start=1):
        member = _Fields(item, "custody.members")
        number = member.integer("member", minimum=1)
        digest = member.text("certificate_sha256")
        if number != index or not _SHA256.fullmatch(digest):
            raise _invalid(
                "committee member {index} is malformed", "开标委员会成员 {index} 格式错误", index=index
            )
        members.append(CommitteeMember(number, member.text("name", nonempty=True), digest))
        member.require_all_read()
    fields.require_all_read()
    return Custody(model, quorum, tuple(members))


class _Fields:
    """Typed reads of a JSON object's fields; every key must be read once (no unknown fields)."""

    def __init__(self, value: object, where: str = "profile") -> None:
        if not isinstance(value, Mapping):
            raise _invalid("{where} is not a JSON object", "{where} 不是 JSON 对象", where=where)
        self.value = value
        self.where = where
        self.read: set[str] = set()

    def raw(self, key: str) -> object:
        if key not in self.value:
            raise _invalid("{where} lacks {key}", "{where} 缺少 {key}", where=self.where, key=key)
        self.read.add(key)
        return self.value[key]

    def _wrong(self, key: str) -> ProfileError:
        return _invalid(
            "{where}.{key} has the wrong type", "{where}.{key} 类型错误", where=self.where, key=key
        )

    def text(self, key: str, *, nonempty: bool = False, optional: bool = False) -> Any:
        value = self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or (nonempty and not value.strip()):
            raise self._wrong(key)
        return value

    def integer(self, key: str, minimum: int | None = None) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            raise self._wrong(key)
        return value

    def texts(self, key: str, *, unique: bool = False, nonempty: bool = False) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._wrong(key)
        if (unique and len(set(value)) != len(value)) or (nonempty and not value):
            raise self._wrong(key)
        return tuple(value)

    def time(self, key: str) -> dt.datetime:
        value = self.text(key)
        try:
            if not _TIME.fullmatch(value):
                raise ValueError(value)
            return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise self._wrong(key) from exc

    def certificate(self, key: str, *, optional: bool = False) -> x509.Certificate | None:
        value = self.text(key, optional=optional)
        if value is None:
            return None
        try:
            return certs.from_der(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError, *certs.UNREADABLE) as exc:
            raise self._wrong(key) from exc

    def require_all_read(self) -> None:
        unknown = sorted(str(k) for k in self.value if k not in self.read)
        if unknown:
            raise _invalid(
                "{where} has unknown fields: {fields}",
                "{where} 含有未知字段：{fields}",
                where=self.where,
                fields=", ".join(unknown),
            )


__all__ = [
    "CUSTODY_MODELS",
    "MAX_PROFILE_SIZE",
    "PROFILE_TYPE",
    "PROFILE_VERSION",
    "SESSION_SUITES",
    "SUITE_TRANSPORTS",
    "CommitteeMember",
    "Custody",
    "SessionProfile",
    "format_time",
    "profile_from_json",
    "profile_json",
    "profile_sha256",
    "read_profile",
    "sign_profile",
    "suite_of",
]
