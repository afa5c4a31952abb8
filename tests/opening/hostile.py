"""Hostile bids for the opening tests: packages with valid crypto and hostile content or recipients.

:func:`craft_package` packs with bidcrypt's own ``pack`` but with the file
list of the caller's choosing (names the file system would refuse, sizes
and digests that lie), so the manifest is signed and the envelope valid.
The ``garble_*`` functions change one RecipientInfo of a finished package
in place, where the envelope does not authenticate it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from unittest import mock

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import EnvelopeRecipient
from bidcrypt.keys import KeyTransport, PinSource, open_key_source
from bidcrypt.package import FileEntry, Role, Summary, SummaryFile, pack, read_package_info
from bidcrypt.seal import SealKind, choose_entry

from ..conftest import Pki
from .conftest import TENDER

EntriesHook = Callable[[list[FileEntry]], list[FileEntry]]


def craft_package(
    pki: Pki,
    directory: Path,
    bidder: str,
    files: Mapping[str, bytes],
    *,
    name: str,
    lot: str | None = "1",
    recipients: tuple[str, ...] = ("{bidder}/enc", "authority/enc"),
    key_transport: KeyTransport | None = None,
    entries_hook: EntriesHook | None = None,
    summary: Summary | None = None,
) -> Path:
    """A package of *bidder* holding *files* (name -> bytes) under exactly those names."""
    store = directory / f"src-{name}"
    store.mkdir(parents=True)
    entries: list[FileEntry] = []
    sources: dict[str, Path] = {}
    for index, (path, data) in enumerate(files.items()):
        local = store / f"{index}.bin"
        local.write_bytes(data)
        entries.append(FileEntry(path, len(data), hashlib.sha256(data).hexdigest(), Role.ATTACHMENT))
        sources[path] = local
    if entries_hook is not None:
        entries = entries_hook(entries)
    certificates = [load_certificate(pki.cert(r.format(bidder=bidder))) for r in recipients]
    output = directory / f"{name}.bid"
    with (
        open_key_source(str(pki.p12(f"{bidder}/sign")), PinSource.of_value(pki.pin)) as signer,
        mock.patch("bidcrypt.package.pack.hash_files", return_value=(entries, sources)),
    ):
        pack(
            store,
            output,
            tender=TENDER,
            lot=lot,
            signer=choose_entry(signer, SealKind.COMPANY),
            encrypt_to=certificates,
            key_transport=key_transport,
            summary=SummaryFile(summary or Summary(price=__import__("decimal").Decimal("1.00"))),
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
    oid = _oid_der(recipient.algorithm)
    where = package.read_bytes().find(recipient.encrypted_key)
    _replace_once(package, oid, oid[:-1] + bytes([oid[-1] ^ 0x55]), before=where)


def invalid_originator_point(package: Path, certificate: Path) -> None:
    """Move the ephemeral EC point of *certificate*'s (EC) recipient off its curve."""
    recipient = recipient_of(package, certificate)
    point = recipient.originator_point
    assert point is not None
    _replace_once(package, point, point[:-1] + bytes([point[-1] ^ 0x01]))


def _oid_der(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body.extend(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)
