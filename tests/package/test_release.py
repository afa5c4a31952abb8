"""Releases, the bidder's side and their reading: statements, sealing, fronts, refusals, fuzzing, openssl."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.errors import (
    BidcryptError,
    InputError,
    ReleaseMalformedError,
    ReleaseNotForSessionError,
    ReleaseSignatureInvalidError,
    ReleaseTooLargeError,
    ReleaseUnavailableError,
    SealKindMismatchError,
)
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import (
    canonical_json,
    front_of,
    make_release,
    read_release,
    read_statement,
    seal,
    sign_statement,
)

from ..conftest import Pki, require_tool
from ..opening.conftest import make_package
from ..release_support import RELEASE_KEYS, Profile, Together, bidder_ukey, profile_for, release_keys


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("release-packages")
    return {
        b: make_package(pki, directory, b, authority=False) for b in ("bidder-a", "bidder-b", "sm2/bidder-a")
    }


@pytest.fixture(scope="module")
def rsa_release(pki: Pki, packages: dict[str, Path]) -> tuple[Profile, bytes]:
    profile = profile_for(pki, "rsa")
    with bidder_ukey(pki, "bidder-a") as ukey:
        return profile, make_release(packages["bidder-a"], ukey, profile)


@pytest.mark.parametrize("suite", ["rsa", "ec", "sm2"])
@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b", "sm2/bidder-a"])
def test_a_release_reads_back_with_the_release_key(
    pki: Pki, packages: dict[str, Path], suite: str, bidder: str
) -> None:
    """RSA, EC and SM2 bidders (signing and unwrapping), to RSA, EC and SM2 release certificates."""
    profile = profile_for(pki, suite)
    package = packages[bidder]
    with bidder_ukey(pki, bidder) as ukey:
        body = make_release(package, ukey, profile)
        with open_key_source(str(pki.p12(f"{bidder}/enc")), PinSource.of_value(pki.pin)) as enc:
            from bidcrypt.envelope import read_header_file, unwrap_content_key

            with unwrap_content_key(read_header_file(package), enc) as expected:
                key = expected.exportable()
    with release_keys(pki, suite) as keys:
        release = read_release(body, keys)
    assert release.session == profile.session and release.tender == profile.tender and release.lot == "1"
    assert release.credit_code == pki.company(bidder)["credit_code"]
    assert release.submission_sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    assert release.content_key == key
    assert release.signer.subject == _certificate(pki, f"{bidder}/sign").subject
    assert release.statement.signing_time == release.time


def _certificate(pki: Pki, name: str) -> Any:
    from bidcrypt.certs import load_certificate

    return load_certificate(pki.cert(name))


def test_the_front_is_enough_with_the_receipts_digest(
    pki: Pki, packages: dict[str, Path], tmp_path: Path
) -> None:
    package = packages["sm2/bidder-a"]  # DER (GM/T 0010): its front's lengths reach past its bytes
    front = front_of(package)
    assert len(front) < 4096 and package.read_bytes().startswith(front)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    profile = profile_for(pki)
    with bidder_ukey(pki, "sm2/bidder-a") as ukey:
        with pytest.raises(InputError, match="SHA-256"):
            make_release(front, ukey, profile)
        body = make_release(front, ukey, profile, submission_sha256=digest)
        (tmp_path / "front").write_bytes(front)
        from_file = make_release(tmp_path / "front", ukey, profile, submission_sha256=digest)
        with pytest.raises(ReleaseUnavailableError):
            make_release(package, ukey, profile, submission_sha256="0" * 64)
    with release_keys(pki) as keys:
        assert read_release(body, keys).submission_sha256 == digest
        assert read_release(from_file, keys).lot == "1"  # the profile's one lot


def test_a_ukey_without_the_bids_key_or_with_a_personal_certificate(
    pki: Pki, packages: dict[str, Path]
) -> None:
    profile = profile_for(pki)
    with bidder_ukey(pki, "bidder-a") as ukey, pytest.raises(ReleaseUnavailableError, match="the package is"):
        make_release(packages["bidder-b"], ukey, profile)  # bidder-b's package
    pins = PinSource.of_value(pki.pin)
    with (
        Together(open_key_source(str(pki.p12("bidder-a/sign")), pins)) as signing_only,
        pytest.raises(ReleaseUnavailableError, match="no key"),
    ):
        make_release(packages["bidder-a"], signing_only, profile)
    with bidder_ukey(pki, "bidder-a", signing="legal") as personal, pytest.raises(SealKindMismatchError):
        make_release(packages["bidder-a"], personal, profile)


def test_an_skf_ukey_on_the_standard_path_says_it_cannot_release(
    pki: Pki, packages: dict[str, Path], softskf: Any
) -> None:
    """A UKey that keeps content keys inside cannot hand one over: refused before any token operation."""
    profile = profile_for(pki)
    pins = PinSource.of_value(pki.pin)
    with (
        open_key_source(softskf.bidder_uri("bidder-a", fast=False), pins) as ukey,
        pytest.raises(ReleaseUnavailableError, match="keeps content keys inside"),
    ):
        make_release(packages["bidder-a"], ukey, profile)
    with open_key_source(softskf.bidder_uri("bidder-a", fast=True), pins) as ukey:
        body = make_release(packages["bidder-a"], ukey, profile)
    with release_keys(pki) as keys:
        assert read_release(body, keys).credit_code == pki.company("bidder-a")["credit_code"]


def test_statements_are_canonical_json_of_their_type(pki: Pki) -> None:
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
        entry = source.entries()[0]
        payload = {"type": "bidcrypt-signin", "version": 1, "名": "值", "a": [1, 2]}
        der = sign_statement(payload, entry)
        statement = read_statement(der, "bidcrypt-signin")
        assert statement.payload == payload and statement.signer == entry.certificate
        with pytest.raises(ReleaseMalformedError, match="bidcrypt-release"):
            read_statement(der, "bidcrypt-release")
        from bidcrypt.keys import sign_data

        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        loose = sign_data(json.dumps(payload).encode(), entry, signing_time=now)  # spaces, ASCII escapes
        with pytest.raises(ReleaseMalformedError, match="canonical"):
            read_statement(loose, "bidcrypt-signin")
        with pytest.raises(ReleaseMalformedError, match="version"):
            read_statement(sign_statement({**payload, "version": 2}, entry), "bidcrypt-signin")
    assert canonical_json({"b": 1, "a": "值"}) == '{"a":"值","b":1}'.encode()


def test_a_release_to_another_key_or_too_large(pki: Pki, rsa_release: tuple[Profile, bytes]) -> None:
    _, body = rsa_release
    with release_keys(pki, "ec") as keys, pytest.raises(ReleaseNotForSessionError):
        read_release(body, keys)
    with release_keys(pki) as keys, pytest.raises(ReleaseTooLargeError):
        read_release(body + b"\0" * (64 << 10), keys)


def test_a_sealed_statement_with_a_broken_signature(pki: Pki) -> None:
    with open_key_source(str(pki.p12("bidder-a/sign")), PinSource.of_value(pki.pin)) as source:
        der = bytearray(sign_statement({"type": "bidcrypt-release", "version": 1}, source.entries()[0]))
    der[-10] ^= 1  # inside the signature value
    body = seal(bytes(der), _certificate(pki, RELEASE_KEYS["rsa"]))
    with release_keys(pki) as keys, pytest.raises(ReleaseSignatureInvalidError):
        read_release(body, keys)


@pytest.fixture(scope="module")
def keys_of_rsa(pki: Pki) -> Any:
    with release_keys(pki) as keys:
        yield keys


@given(data=st.data())
def test_bit_flips_and_cuts_never_crash(
    rsa_release: tuple[Profile, bytes], keys_of_rsa: Any, data: Any
) -> None:
    """A changed release is refused with a bidcrypt error (or, when the change is harmless, read)."""
    _, body = rsa_release
    changed = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(changed) - 1))
        changed[position] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(changed)))
    for candidate in (bytes(changed), body[:cut], bytes(changed[:cut])):
        with contextlib.suppress(BidcryptError):
            read_release(candidate, keys_of_rsa)


def test_openssl_opens_a_release_and_reads_its_statement(
    pki: Pki, rsa_release: tuple[Profile, bytes], tmp_path: Path
) -> None:
    """Interop: `openssl cms -decrypt` with the RSA release key, `openssl cms -verify -noverify`."""
    openssl = require_tool("openssl")
    profile, body = rsa_release
    (tmp_path / "release.der").write_bytes(body)
    subprocess.run(
        [openssl, "cms", "-decrypt", "-inform", "DER", "-in", tmp_path / "release.der", "-inkey",
         pki.key(RELEASE_KEYS["rsa"]), "-passin", f"pass:{pki.pin}", "-out", tmp_path / "statement.der"],
        check=True, capture_output=True,
    )  # fmt: skip
    verified = subprocess.run(
        [openssl, "cms", "-verify", "-noverify", "-inform", "DER", "-in", tmp_path / "statement.der"],
        check=True, capture_output=True,
    )  # fmt: skip
    payload = json.loads(verified.stdout)
    assert payload["type"] == "bidcrypt-release" and payload["session"] == profile.session
    assert len(payload["content_key"]) == 44 and payload["cipher"] == "aes-256-gcm"
    with release_keys(pki) as keys:
        assert (
            read_statement((tmp_path / "statement.der").read_bytes(), "bidcrypt-release").payload == payload
        )
        assert read_release(body, keys).content_key.hex()
