"""The session's two key pairs (docs/remote.md): the opening key and the release key, with their certificates.

Both follow the session's suite (``rsa-3072``, ``p-256``, ``sm2``); SM2 keys
are made and used through :mod:`bidcrypt.gm`. Their certificates are
self-issued by the session: subject ``CN=bidcrypt opening key <id>`` (or
``release key``), ``O=<tender>``, valid from creation to the opening time +
30 days, signed with the key itself (SHA-256 with RSA or ECDSA, SM2 with SM3).
The opening certificate's key usage is keyEncipherment (RSA, SM2) or
keyAgreement (EC); the release certificate adds digitalSignature, since the
release key signs the session profile.

The release key lives in the session folder as ``keys/release.pem``: the
unencrypted PKCS#8 key and its certificate (a PEM key file as
:mod:`bidcrypt.keys.pem_file` reads it), mode 0600, written atomically.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bidcrypt import certs, gm
from bidcrypt.errors import InputError
from bidcrypt.files import atomic_output, output_error
from bidcrypt.i18n import Text
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.package import SESSION_SUITES, suite_of

DEFAULT_SUITE = SESSION_SUITES[0]
#: How long after the opening time the session's certificates stay valid.
VALIDITY_AFTER_OPENING = dt.timedelta(days=30)
#: Where the release key is kept, relative to the session folder.
RELEASE_KEY_FILE = Path("keys") / "release.pem"
#: The private keys of a session: RSA and EC in ``cryptography``, SM2 in :mod:`bidcrypt.gm`.
SoftwareKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | gm.Sm2PrivateKey

Role = Literal["opening", "release"]


@dataclass(frozen=True)
class SessionKey:
    """A key pair of the session and its self-issued certificate."""

    key: SoftwareKey
    certificate: x509.Certificate

    def pkcs8_der(self) -> bytes:
        """The private key, unencrypted DER PKCS#8 (handle with care)."""
        if isinstance(self.key, gm.Sm2PrivateKey):
            return self.key.pkcs8_der()
        return self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def certificate_der(self) -> bytes:
        """The certificate, DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)


def check_suite(suite: str) -> str:
    """*suite*, or :class:`InputError` when it is none of :data:`SUITES`."""
    if suite not in SESSION_SUITES:
        raise InputError(
            Text(
                "unknown suite {suite} (known: {known})",
                "未知的算法套件 {suite}（可选：{known}）",
                suite=repr(suite),
                known=", ".join(SESSION_SUITES),
            ),
            path="-",
        )
    return suite


def new_key(suite: str) -> SoftwareKey:
    """A new random private key of *suite*."""
    check_suite(suite)
    if suite == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if suite == "p-256":
        return ec.generate_private_key(ec.SECP256R1())
    return gm.Sm2PrivateKey.generate()


def make_session_key(
    suite: str,
    role: Role,
    *,
    session_id: str,
    tender: str,
    created: dt.datetime,
    opening_time: dt.datetime,
) -> SessionKey:
    """A new key pair of *suite* for *role* with its self-issued certificate."""
    key = new_key(suite)
    subject = f"bidcrypt {role} key {session_id}"
    not_after = opening_time + VALIDITY_AFTER_OPENING
    certificate = issue_certificate(key, subject, tender, created, not_after, signs=role == "release")
    return SessionKey(key, certificate)


def _usage(key: SoftwareKey, signs: bool) -> set[str]:
    """The key usage bits (asn1crypto names) of a session certificate."""
    usage = {"key_agreement"} if isinstance(key, ec.EllipticCurvePrivateKey) else {"key_encipherment"}
    return usage | {"digital_signature"} if signs else usage


def issue_certificate(
    key: SoftwareKey,
    common_name: str,
    organisation: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    signs: bool,
) -> x509.Certificate:
    """A certificate of *key*, issued by itself (RSA and EC by ``cryptography``, SM2 field by field)."""
    not_before = not_before.astimezone(dt.UTC).replace(microsecond=0)
    not_after = not_after.astimezone(dt.UTC).replace(microsecond=0)
    serial = x509.random_serial_number()
    if isinstance(key, gm.Sm2PrivateKey):
        return _sm2_certificate(key, common_name, organisation, not_before, not_after, serial, signs)
    usage = _usage(key, signs)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital_signature" in usage,
                content_commitment=False,
                key_encipherment="key_encipherment" in usage,
                data_encipherment=False,
                key_agreement="key_agreement" in usage,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _sm2_certificate(
    key: gm.Sm2PrivateKey,
    common_name: str,
    organisation: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int,
    signs: bool,
) -> x509.Certificate:
    """A self-issued SM2 certificate: TBSCertificate by asn1crypto, SM2 with SM3 by libcrypto."""
    info = asn1_keys.PublicKeyInfo.load(key.public_key().spki_der())
    name = asn1_x509.Name.build({"organization_name": organisation, "common_name": common_name})
    key_id = hashlib.sha1(info["public_key"].contents[1:], usedforsecurity=False).digest()
    algorithm = {"algorithm": gm.oids.SM2_WITH_SM3}
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algorithm,
            "issuer": name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": name,
            "subject_public_key_info": info,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {"extn_id": "key_usage", "critical": True, "extn_value": _usage(key, signs)},
                {"extn_id": "key_identifier", "critical": False, "extn_value": key_id},
            ],
        }
    )
    signature = key.sign(tbs.dump())
    certificate = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return certs.from_der(certificate.dump())


def _time(moment: dt.datetime) -> asn1_x509.Time:
    return asn1_x509.Time(name="utc_time" if moment.year < 2050 else "general_time", value=moment)


def release_pem(release: SessionKey) -> bytes:
    """The release key file's contents: the PKCS#8 key, then its certificate."""
    if isinstance(release.key, gm.Sm2PrivateKey):
        key_pem = _pem("PRIVATE KEY", release.pkcs8_der())
    else:
        key_pem = release.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return key_pem + release.certificate.public_bytes(serialization.Encoding.PEM)


def _pem(label: str, der: bytes) -> bytes:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


def write_release_key(folder: Path, release: SessionKey) -> Path:
    """Write ``keys/release.pem`` in the session *folder* (mode 0600, atomically); return its path."""
    path = folder / RELEASE_KEY_FILE
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, path.parent) from exc
    with atomic_output(path, private=True) as out:
        out.write(release_pem(release))
    return path


def release_key_source(folder: Path) -> KeySource:
    """The release key of the session *folder* as a key source (a PEM key file)."""
    path = folder / RELEASE_KEY_FILE
    if not path.is_file():
        raise InputError(Text("the session has no release key", "该会话没有会话接收密钥"), path=path)
    return open_key_source(path, PinSource(interactive=False))


__all__ = [
    "DEFAULT_SUITE",
    "RELEASE_KEY_FILE",
    "SessionKey",
    "check_suite",
    "issue_certificate",
    "make_session_key",
    "new_key",
    "release_key_source",
    "suite_of",
    "write_release_key",
]
