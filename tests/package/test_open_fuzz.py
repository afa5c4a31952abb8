"""`open_content` (what the opening runs in its workers) against any content a bidder can encrypt.

The content key is known, the envelope is valid: only the bundle is hostile
(mutated bytes, a hostile manifest signed with a real key, hostile tar
members, garbage PDFs). Whatever it is, open_content returns a report or
raises a bidcrypt error, and leaves nothing but a complete output behind.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.envelope import unwrap_content_key
from bidcrypt.errors import BidcryptError
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import open_content, read_package_info
from bidcrypt.package.bundle import MANIFEST_MEMBER
from bidcrypt.trust import TrustStore

from ..conftest import FIXTURES, Pki
from . import hostile

_NAMES = [
    "a.txt",
    "投标函.pdf",
    "d/e.txt",
    "../x",
    "a\u202eb",
    "C:x",
    "d",
    "d/",
    "",
    "a" * 300,
    "x/" * 70 + "y",
]
_PDF = (FIXTURES / "documents" / "bid-response-bidder-a.pdf").read_bytes()


@pytest.fixture(scope="module")
def trust(pki: Pki) -> TrustStore:
    return TrustStore.load([pki.roots, pki.intermediates])


def _open(pki: Pki, directory: Path, content: bytes, signed_manifest: bytes, trust: TrustStore) -> None:
    """Encrypt *content* (attributes naming *signed_manifest*) and open it as a worker does."""
    package = directory / "p.bid"
    package.write_bytes(hostile.envelope(pki, content, signed_manifest))
    info = read_package_info(package)
    with open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as key:
        content_key = unwrap_content_key(info.header, key)
    output = directory / "out"
    opened = False
    try:
        report = open_content(package, info.header, content_key, info.attributes, output, trust)
        opened = report.ok
        assert opened or report.error is not None
    except BidcryptError:
        pass
    assert sorted(p.name for p in directory.iterdir()) == (["out", "p.bid"] if opened else ["p.bid"])


files = st.lists(
    st.tuples(
        st.sampled_from(_NAMES), st.sampled_from([b"", b"x", b"%PDF-1.7\n%garbage", _PDF[:2000], _PDF])
    ),
    max_size=3,
)


@settings(max_examples=60)
@given(files, st.data())
def test_hostile_manifests_signed_with_a_real_key(
    pki: Pki, trust: TrustStore, tmp_path: Path, chosen: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    entries: list[dict[str, Any]] = [hostile.entry(name, body) for name, body in chosen]
    for entry in entries:
        field = data.draw(st.sampled_from([None, "size", "sha256", "role", "path"]))
        if field is not None:
            entry[field] = data.draw(
                st.sampled_from([-1, 2**64, "x", None, [], {}, "price-sheet", "0" * 64, "a.txt", 1.5])
            )
    fields = data.draw(
        st.dictionaries(
            st.sampled_from(["tender", "lot", "summary", "bidder", "created", "format", "version"]),
            st.sampled_from([None, "T", "", 1, [], {"price": "1.5"}, {"price": 1.5}, "2026-11-24T10:00:00Z"]),
            max_size=2,
        )
    )
    manifest = hostile.manifest_json(entries, **fields)
    signed = hostile.sign(pki, manifest)
    members = [(MANIFEST_MEMBER, signed)] + [("files/" + name, body) for name, body in chosen]
    if data.draw(st.booleans()):
        members = data.draw(st.permutations(members))
    content = hostile.tar([hostile.member(name, body) for name, body in members])
    _open(pki, Path(tempfile.mkdtemp(dir=tmp_path)), content, signed, trust)


@pytest.fixture(scope="module")
def honest(pki: Pki) -> tuple[bytes, bytes]:
    """An honest bundle (signed manifest, a sealed PDF, a text) and its signed manifest."""
    chosen = [("a.txt", b"a" * 3000), ("投标函.pdf", _PDF)]
    signed = hostile.sign(pki, hostile.manifest_json([hostile.entry(n, b, "attachment") for n, b in chosen]))
    return hostile.bundle(signed, chosen), signed


@settings(max_examples=80)
@given(st.data())
def test_mutated_bundles(
    pki: Pki, trust: TrustStore, tmp_path: Path, honest: tuple[bytes, bytes], data: st.DataObject
) -> None:
    bundle, signed = honest
    mutated = bytearray(bundle)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip":
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del mutated[position : position + data.draw(st.integers(1, 600))]
        else:
            del mutated[position:]
        if not mutated:
            break
    _open(pki, Path(tempfile.mkdtemp(dir=tmp_path)), bytes(mutated), signed, trust)


def test_an_honest_bundle_opens(
    pki: Pki, trust: TrustStore, tmp_path: Path, honest: tuple[bytes, bytes]
) -> None:
    """The fuzz tests start from packages that open: their failures are the mutations'."""
    bundle, signed = honest
    _open(pki, tmp_path, bundle, signed, trust)
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"a" * 3000
    assert json.loads(hostile.manifest_json([]))["format"] == "bidcrypt-manifest"


@settings(max_examples=40)
@given(st.data())
def test_mutated_sealed_pdfs(
    pki: Pki, trust: TrustStore, tmp_path: Path, sealed_pdfs: dict[str, Path], data: st.DataObject
) -> None:
    """A response document whose bytes the bidder changed after sealing, then listed and signed."""
    pdf = bytearray(sealed_pdfs["bidder-a"].read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(pdf) - 1))
        if data.draw(st.booleans()):
            pdf[position] ^= 1 << data.draw(st.integers(0, 7))
        else:
            del pdf[position : position + data.draw(st.integers(1, 64))]
    chosen = [("投标函.pdf", bytes(pdf))]
    signed = hostile.sign(
        pki, hostile.manifest_json([hostile.entry("投标函.pdf", bytes(pdf), "response-document")])
    )
    _open(pki, Path(tempfile.mkdtemp(dir=tmp_path)), hostile.bundle(signed, chosen), signed, trust)
