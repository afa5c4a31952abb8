"""Hostile bids for the opening tests: packages with valid crypto and hostile content or recipients.

:func:`craft_package` makes a package as an attacker would, with the file
list of the caller's choosing (names the file system would refuse, names
listed twice), signed with the bidder's own key: valid crypto, hostile content.
The ``garble_*`` functions change one RecipientInfo of a finished package
in place, where the envelope does not authenticate it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import core

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeRecipient, KeyTransport, Recipient
from bidcrypt.package import read_package_info

from ..conftest import Pki
from ..package import hostile as package_hostile
from .conftest import TENDER


def craft_package(
    pki: Pki,
    directory: Path,
    bidder: str,
    files: Sequence[tuple[str, bytes]],
    *,
    name: str,
    lot: str | None = "1",
    recipients: tuple[str, ...] = ("{bidder}/enc", "authority/enc"),
    key_transport: KeyTransport = KeyTransport.PKCS1V15,
) -> Path:
    """A package of *bidder* holding *files* (path, bytes) under exactly those paths, however hostile.

    Made as an attacker would (see ``tests/package/hostile.py``): the
    bidder's own signing key signs a manifest listing *files* as given, so
    the crypto is valid and only the content is hostile.
    """
    company = pki.company(bidder)
    manifest = package_hostile.manifest_json(
        [package_hostile.entry(path, data) for path, data in files],
        tender=TENDER,
        lot=lot,
        bidder={"name": company["name"], "credit_code": company["credit_code"]},
    )
    signed_manifest = package_hostile.sign(pki, manifest, f"{bidder}/sign")
    chosen = [
        Recipient(load_certificate(pki.cert(r.format(bidder=bidder))), key_transport=key_transport)
        for r in recipients
    ]
    output = directory / f"{name}.bid"
    output.write_bytes(
        package_hostile.envelope(
            pki,
            package_hostile.bundle(signed_manifest, list(files)),
            signed_manifest,
            recipients=chosen,
            tender=TENDER,
            lot=lot,
            bidder_name=company["name"],
            credit_code=company["credit_code"],
        )
    )
    return output


def recipient_of(package: Path, certificate: Path) -> EnvelopeRecipient:
    """The recipient of *package* named by the certificate file *certificate*."""
    loaded = load_certificate(certificate)
    header = read_package_info(package).header
    return next(r for r in header.recipients if r.rid is not None and r.rid.matches(loaded))


def _replace_once(package: Path, old: bytes, new: bytes, before: int | None = None) -> None:
    """Replace the last occurrence of *old* (before offset *before*) with *new*, of the same length."""
    assert len(old) == len(new)
    data = bytearray(package.read_bytes())
    at = data.rfind(old, 0, len(data) if before is None else before)
    assert at >= 0, "bytes not found"
    data[at : at + len(old)] = new
    package.chmod(0o644)
    package.write_bytes(bytes(data))


def garble_wrapped_key(package: Path, certificate: Path) -> None:
    """Replace the wrapped content key of *certificate*'s recipient with random bytes."""
    recipient = recipient_of(package, certificate)
    _replace_once(package, recipient.encrypted_key, os.urandom(len(recipient.encrypted_key)))


def unknown_key_algorithm(package: Path, certificate: Path) -> None:
    """Make the key-encryption algorithm OID of *certificate*'s (RSA) recipient one nobody knows."""
    recipient = recipient_of(package, certificate)
    oid = core.ObjectIdentifier(recipient.algorithm).dump()
    where = package.read_bytes().find(recipient.encrypted_key)
    _replace_once(package, oid, oid[:-1] + bytes([oid[-1] ^ 0x55]), before=where)


def invalid_originator_point(package: Path, certificate: Path) -> None:
    """Move the ephemeral EC point of *certificate*'s (EC) recipient off its curve."""
    recipient = recipient_of(package, certificate)
    point = recipient.originator_point
    assert point is not None
    _replace_once(package, point, point[:-1] + bytes([point[-1] ^ 0x01]))


def oaep_sha384(package: Path, certificate: Path) -> None:
    """Make *certificate*'s RSA OAEP-SHA256 recipient name OAEP with SHA-384 (valid; bidcrypt refuses it)."""
    recipient = recipient_of(package, certificate)
    sha256 = core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump()
    sha384 = core.ObjectIdentifier("2.16.840.1.101.3.4.2.2").dump()
    where = package.read_bytes().find(recipient.encrypted_key)
    for _ in range(2):  # the digest, then MGF1's digest (the last two before the wrapped key)
        _replace_once(package, sha256, sha384, before=where)
