"""Build hostile bid packages as an attacker would: any bundle, any manifest, signed with a real key.

Encrypting needs only the recipient's public certificate, and a bidder holds
their own signing key, so every one of these is a package a bidder could
upload: valid crypto, hostile content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeBuilder, Recipient
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import signed
from bidcrypt.package.attributes import RECIPIENT_CERTIFICATES, PackageAttributes
from bidcrypt.package.bundle import MANIFEST_MEMBER

from ..conftest import Pki

CREATED = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
BIDDER_A = ("湖北楚天建设工程有限公司", "91420100MA4KXB7Q09")


def manifest_json(files: list[dict[str, Any]], **fields: Any) -> bytes:
    """Manifest JSON for bidder-a, tender T, with *files* (and any field replaced)."""
    data: dict[str, Any] = {
        "format": "bidcrypt-manifest",
        "version": 1,
        "tender": "T",
        "lot": None,
        "bidder": {"name": BIDDER_A[0], "credit_code": BIDDER_A[1]},
        "created": "2026-11-24T10:00:00Z",
        "summary": {"price": None, "currency": "CNY", "duration": None, "items": {}},
        "files": files,
    }
    data.update(fields)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def entry(path: str, data: bytes, role: str = "attachment") -> dict[str, Any]:
    """A manifest file entry for *data*."""
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "role": role}


def sign(pki: Pki, content: bytes, signer: str = "bidder-a/sign") -> bytes:
    """The signed manifest: *content* signed with the PKCS#12 key *signer*."""
    with open_key_source(str(pki.p12(signer)), PinSource.of_value(pki.pin)) as source:
        return signed.sign(content, source.entries()[0], CREATED)


def member(name: str, data: bytes = b"", **attributes: Any) -> tuple[tarfile.TarInfo, bytes]:
    """A tar member (a regular file unless *attributes* say otherwise, e.g. ``type=``, ``pax_headers=``)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


def tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A pax tar stream of *members* (their data written as given, whatever the type says)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def bundle(signed_manifest: bytes, files: list[tuple[str, bytes]]) -> bytes:
    """A well-formed bundle: the signed manifest, then each file."""
    return tar([member(MANIFEST_MEMBER, signed_manifest), *(member("files/" + p, d) for p, d in files)])


def envelope(
    pki: Pki,
    content: bytes,
    signed_manifest: bytes,
    recipient: str = "bidder-a/enc",
    listed: list[bytes] | None = None,
    recipients: Sequence[Recipient] = (),
    **attributes: Any,
) -> bytes:
    """A package to *recipient* (or to *recipients*) holding *content*, whose attributes name
    *signed_manifest*.

    *listed* replaces the recipient-certificate attribute's values (default: the recipients' DER).
    """
    values = {
        "tender": "T",
        "lot": None,
        "bidder_name": BIDDER_A[0],
        "credit_code": BIDDER_A[1],
        "created": CREATED,
        "manifest_sha256": hashlib.sha256(signed_manifest).digest(),
    }
    values.update(attributes)
    chosen = list(recipients) or [Recipient(load_certificate(pki.cert(recipient)))]
    builder = EnvelopeBuilder()
    for one in chosen:
        builder = builder.add_recipient(one)
    for oid, value in PackageAttributes(**values).encode():
        builder = builder.add_readable_attribute(oid, value)
    own = [one.certificate.public_bytes(serialization.Encoding.DER) for one in chosen]
    builder = builder.add_unauthenticated_attribute(
        RECIPIENT_CERTIFICATES, *(listed if listed is not None else own)
    )
    return builder.encrypt_bytes(content)


def write_package(
    pki: Pki, path: Path, files: list[tuple[str, bytes]], signer: str = "bidder-a/sign", **fields: Any
) -> Path:
    """A complete package of *files* with a manifest signed by *signer* (fields of the JSON replaced)."""
    signed_manifest = sign(pki, manifest_json([entry(p, d) for p, d in files], **fields), signer)
    path.write_bytes(envelope(pki, bundle(signed_manifest, files), signed_manifest))
    return path
