"""Signed statements (sign-ins, releases, committee shares) and sealing them to a certificate.

A statement is a CMS SignedData (DER) whose encapsulated content (id-data)
is UTF-8 JSON with sorted keys and no insignificant whitespace, made through
bidcrypt's one SignedData path (:func:`bidcrypt.keys.sign_data`: pyHanko
builds it, the key source signs) with the signingTime attribute. It is read
back with :func:`bidcrypt.keys.verify_signed_data` (the existing verifier,
SM2 included): one signer, attached content, the signer's certificate
inside. Whether that certificate is trusted, and whose it is, is the
reader's question (the session checks the chain with its trust store).

A statement that carries a secret (a release's content key, a share) is
sealed in a CMS EnvelopedData to one certificate (:func:`seal`: in memory,
DER; RSA-OAEP-SHA256 with AES-256-GCM, ECDH P-256, or SM2 with SM4-CBC in
GM/T 0010, as the certificate's key says) and opened with a key source
(:func:`open_sealed`).

Refusals are the contract's (docs/remote.md): what is not a statement at
all is :class:`~bidcrypt.errors.ReleaseMalformedError`, a signature that
does not verify :class:`~bidcrypt.errors.ReleaseSignatureInvalidError`, an
envelope that is not for the key given :class:`~bidcrypt.errors.ReleaseNotForSessionError`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from bidcrypt import certs
from bidcrypt.envelope import EnvelopeBuilder, Keys, decrypt_bytes
from bidcrypt.errors import (
    BidcryptError,
    EnvelopeError,
    KeySourceError,
    ReleaseMalformedError,
    ReleaseNotForSessionError,
    ReleaseSignatureInvalidError,
    WrongKeyError,
)
from bidcrypt.i18n import Text
from bidcrypt.keys import KeyEntry, read_signed_data, verify_signed_data

#: The largest statement or sealed statement read (a release, a share, a sign-in): 64 KiB.
MAX_STATEMENT = 64 << 10
#: The statement types and their one version.
STATEMENT_VERSION = 1
SIGNIN = "bidcrypt-signin"
RELEASE = "bidcrypt-release"
SHARE = "bidcrypt-share"

__all__ = [
    "MAX_STATEMENT",
    "RELEASE",
    "SHARE",
    "SIGNIN",
    "STATEMENT_VERSION",
    "Statement",
    "canonical_json",
    "format_statement_time",
    "open_sealed",
    "parse_statement_time",
    "read_statement",
    "seal",
    "sign_statement",
    "signer_summary",
]


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """*payload* as a statement's content: UTF-8 JSON, keys sorted, no insignificant whitespace."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_statement_time(moment: dt.datetime) -> str:
    """A time as statements write it: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_statement_time(text: object) -> dt.datetime:
    """:func:`format_statement_time`'s form read back; :class:`ReleaseMalformedError` otherwise."""
    if not isinstance(text, str):
        raise _malformed(Text("the time is not a string", "时间不是字符串"))
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise _malformed(
            Text("the time is not YYYY-MM-DDTHH:MM:SSZ", "时间格式不是 YYYY-MM-DDTHH:MM:SSZ")
        ) from None


@dataclass(frozen=True)
class Statement:
    """A statement whose signature verified: what it says, who signed it and when they said so."""

    payload: dict[str, Any]
    signer: x509.Certificate
    #: Every certificate the SignedData carries (the signer's and its chain), for path building.
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime
    #: The SignedData as received (DER).
    der: bytes = field(repr=False)


def sign_statement(
    payload: Mapping[str, Any],
    entry: KeyEntry,
    *,
    signing_time: dt.datetime | None = None,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """The DER SignedData over *payload* (canonical JSON), signed by *entry* with signingTime.

    The payload's ``type`` and ``version`` are the caller's; *chain* the
    issuing CA certificates to embed (self-signed roots are left out).
    """
    from bidcrypt.keys import sign_data  # pyHanko: loaded only when signing

    moment = (signing_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    return sign_data(canonical_json(payload), entry, signing_time=moment, chain=chain)


def read_statement(der: bytes, statement_type: str) -> Statement:
    """Check a statement's structure, signature and content; return it (the signer is not yet trusted).

    :class:`ReleaseMalformedError` for what is no SignedData, no canonical
    JSON object, or another type or version; :class:`ReleaseSignatureInvalidError`
    for a signature that does not verify, or no signingTime. Never anything
    but a :class:`~bidcrypt.errors.BidcryptError`, whatever the bytes.
    """
    if len(der) > MAX_STATEMENT:
        raise _malformed(Text("the statement is too large", "声明过大"))
    try:
        read_signed_data(der)
    except Exception as exc:  # asn1crypto raises many kinds for hostile bytes: all mean "not CMS"
        raise _malformed(Text("not a CMS SignedData", "不是 CMS SignedData")) from exc
    try:
        verified = verify_signed_data(der, error=ReleaseSignatureInvalidError)
    except BidcryptError:
        raise
    except Exception as exc:  # a field that only a deeper parse trips on
        raise ReleaseSignatureInvalidError(Text("malformed", "结构错误")) from exc
    if verified.signing_time is None:
        raise ReleaseSignatureInvalidError(Text("no signing time", "缺少签名时间"))
    payload = _payload(verified.content, statement_type)
    return Statement(
        payload, verified.signer, verified.certificates, verified.signing_time.astimezone(dt.UTC), der
    )


def _payload(content: bytes, statement_type: str) -> dict[str, Any]:
    try:
        payload = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed(Text("the content is not UTF-8 JSON", "内容不是 UTF-8 JSON")) from None
    if not isinstance(payload, dict):
        raise _malformed(Text("the content is not a JSON object", "内容不是 JSON 对象"))
    if canonical_json(payload) != content:
        raise _malformed(Text("the JSON is not in its canonical form", "JSON 不是规范格式"))
    found = payload.get("type")
    if found != statement_type:
        raise _malformed(
            Text(
                "a {found} statement, not {wanted}",
                "声明类型为 {found}，应为 {wanted}",
                found=str(found),
                wanted=statement_type,
            )
        )
    version = payload.get("version")
    if type(version) is not int or version != STATEMENT_VERSION:
        raise _malformed(Text("unknown version {version}", "未知版本 {version}", version=str(version)))
    return payload


def seal(data: bytes, certificate: x509.Certificate, *, at: dt.datetime | None = None) -> bytes:
    """*data* in a DER CMS EnvelopedData to *certificate*, in memory.

    The suite follows the key: RSA-OAEP-SHA256 with AES-256-GCM
    (AuthEnvelopedData), ECDH with AES-256-GCM, SM2 with SM4-CBC (GM/T 0010).
    The certificate is checked for encryption and for validity at *at*
    (default: now).
    """
    builder = EnvelopeBuilder().add_recipient(certificate).set_der(True)
    builder = builder.set_validation_time(at or dt.datetime.now(dt.UTC))
    return builder.encrypt_bytes(data)


def open_sealed(body: bytes, keys: Keys, *, session: str = "-") -> bytes:
    """The content of a sealed statement, opened with *keys*.

    :class:`ReleaseNotForSessionError` when the envelope is not for any of
    the keys (*session* names the caller's session in the message),
    :class:`ReleaseMalformedError` when it is no envelope, or its content
    does not decrypt or authenticate. The key source's own failures
    (token, PIN) pass as they are.
    """
    if len(body) > MAX_STATEMENT:
        raise _malformed(Text("the body is too large", "内容过大"))
    try:
        return decrypt_bytes(body, keys)
    except WrongKeyError as exc:
        raise ReleaseNotForSessionError(
            Text("it is not sealed to this session's release key", "未加密给本会话的接收密钥"),
            session=session,
        ) from exc
    except KeySourceError:
        raise
    except EnvelopeError as exc:
        raise _malformed(
            Text("not a sealed statement: {error}", "不是加密的声明：{error}", error=exc)
        ) from exc
    except BidcryptError as exc:
        raise _malformed(
            Text("not a sealed statement: {error}", "不是加密的声明：{error}", error=exc)
        ) from exc
    except Exception as exc:  # a library tripped by hostile bytes
        raise _malformed(Text("not a sealed statement", "不是加密的声明")) from exc


def _malformed(why: Text) -> ReleaseMalformedError:
    return ReleaseMalformedError(why)


def signer_summary(certificate: x509.Certificate) -> str:
    """The signer in words for messages: subject and credit code."""
    return f"{certs.display_name(certificate)} ({certs.credit_code(certificate) or '-'})"
