"""Key sources on SoftHSM2 (the UKey) and PKCS#12 files: the same operations, the same errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bidcrypt.certs import Purpose
from bidcrypt.envelope import KeyTransport, claimed_transports, probe_transports
from bidcrypt.errors import (
    InputError,
    KeyNotFoundError,
    ModuleLoadError,
    ModuleMissingError,
    PinIncorrectError,
    PinUnavailableError,
    TokenAbsentError,
    WrongKeyError,
)
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.keys.pkcs11_token import Pkcs11Source
from bidcrypt.keys.pkcs12_file import MAX_PKCS12_SIZE

from ..conftest import Pki, SoftHsm

Opener = Callable[[str, str], KeySource]


@pytest.fixture(params=["pkcs11", "pkcs12"])
def open_source(request: pytest.FixtureRequest, pki: Pki, pin_env: str) -> Opener:
    """Open (token, object) either on the SoftHSM UKey or from the matching PKCS#12 file."""
    if request.param == "pkcs11":
        softhsm: SoftHsm = request.getfixturevalue("softhsm")
        return lambda token, obj: open_key_source(softhsm.uri(token, obj))
    return lambda token, obj: open_key_source(str(pki.p12(f"{token}/{obj}")))


def test_lists_certificates(softhsm: SoftHsm) -> None:
    with open_key_source(softhsm.uri("bidder-a")) as source:
        labels = {entry.label: entry for entry in source.entries()}
        assert set(labels) == {"sign", "enc", "legal"}
        assert source.entry(Purpose.ENCRYPTION).label == "enc"
        assert labels["legal"].certificate.subject.rfc4514_string().startswith("CN=张伟")


@pytest.mark.parametrize("transport", [KeyTransport.PKCS1V15, KeyTransport.OAEP_SHA1])
def test_rsa_decrypt(open_source: Opener, transport: KeyTransport) -> None:
    with open_source("bidder-a", "enc") as source:
        entry = source.entry()
        public_key = entry.certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        content_key = os.urandom(32)
        assert (
            entry.rsa_decrypt(public_key.encrypt(content_key, transport.padding()), transport.scheme)
            == content_key
        )


def test_rsa_decrypt_with_the_wrong_key_is_a_wrong_key(open_source: Opener, pki: Pki) -> None:
    from bidcrypt.certs import load_certificate

    other = load_certificate(pki.cert("bidder-a/enc-replaced")).public_key()
    assert isinstance(other, rsa.RSAPublicKey)
    content_key = os.urandom(32)
    with open_source("bidder-a", "enc") as source:
        with pytest.raises(WrongKeyError):
            wrapped = other.encrypt(content_key, KeyTransport.OAEP_SHA1.padding())
            source.entry().rsa_decrypt(wrapped, KeyTransport.OAEP_SHA1.scheme)
        # PKCS#1 v1.5: an error, or (OpenSSL's implicit rejection) a key that is not the real one;
        # never a different error that would tell a bad padding from a wrong key.
        wrapped = other.encrypt(content_key, KeyTransport.PKCS1V15.padding())
        with contextlib.suppress(WrongKeyError):
            assert source.entry().rsa_decrypt(wrapped, KeyTransport.PKCS1V15.scheme) != content_key


@pytest.mark.parametrize("bidder", ["bidder-b", "bidder-c"])
def test_ecdh(open_source: Opener, bidder: str) -> None:
    with open_source(bidder, "enc") as source:
        entry = source.entry()
        public_key = entry.certificate.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        ephemeral = ec.generate_private_key(public_key.curve)
        assert entry.ecdh(ephemeral.public_key()) == ephemeral.exchange(ec.ECDH(), public_key)


@pytest.mark.parametrize("bidder", ["bidder-a", "bidder-b"])
@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
def test_sign_and_verify(open_source: Opener, bidder: str, hash_name: str) -> None:
    algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]
    with open_source(bidder, "sign") as source:
        entry = source.entry()
        signature = entry.sign(b"bid document", hash_name)
        public_key = entry.certificate.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, b"bid document", padding.PKCS1v15(), algorithm)
        else:
            assert isinstance(public_key, ec.EllipticCurvePublicKey)
            public_key.verify(signature, b"bid document", ec.ECDSA(algorithm))


def test_softhsm_decrypts_oaep_sha1_and_v15_only(softhsm: SoftHsm, pin_env: str) -> None:
    with open_key_source(softhsm.uri("bidder-a", "enc")) as source:
        entry = source.entry()
        assert KeyTransport.OAEP_SHA256 in claimed_transports(entry)
        assert probe_transports(entry) == (KeyTransport.OAEP_SHA1, KeyTransport.PKCS1V15)


class CountingPins(PinSource):
    """A PIN source that records how often it was asked."""

    asked: list[str]

    def obtain(self, what: str):  # type: ignore[no-untyped-def]
        self.asked.append(what)
        return super().obtain(what)


def test_wrong_pin_raises_once_and_never_logs_in_again(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = CountingPins(fixed="00000000", interactive=False)
    object.__setattr__(pins, "asked", [])
    source = open_key_source(softhsm.uri("bidder-a-changed", "enc"), pins)
    assert isinstance(source, Pkcs11Source)
    logins = []
    real_open = source._token.open
    monkeypatch.setattr(source, "_token", _Spy(source._token, real_open, logins))
    with pytest.raises(PinIncorrectError) as first:
        source.entry().rsa_decrypt(b"x" * 256, KeyTransport.PKCS1V15.scheme)
    with pytest.raises(PinIncorrectError) as second:
        source.entry().sign(b"data")
    assert first.value is second.value
    assert pins.asked == ["bidder-a-changed"]
    assert len([call for call in logins if call.get("user_pin")]) == 1
    assert "00000000" not in str(first.value)
    source.close()
    # a good PIN afterwards clears SoftHSM's count-low flag for later tests
    with open_key_source(softhsm.uri("bidder-a-changed", "enc"), PinSource.of_value(softhsm.pin)) as good:
        assert good.entry().has_private_key


class _Spy:
    def __init__(
        self, token: object, real_open: Callable[..., object], calls: list[dict[str, object]]
    ) -> None:
        self._token = token
        self._real_open = real_open
        self._calls = calls

    def open(self, **kwargs: object) -> object:
        self._calls.append(kwargs)
        return self._real_open(**kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._token, name)


def test_wrong_pkcs12_password(pki: Pki) -> None:
    source = open_key_source(str(pki.p12("bidder-a/enc")), PinSource.of_value("wrong"))
    with pytest.raises(PinIncorrectError):
        source.entries()


def test_a_file_that_is_not_pkcs12_is_not_a_wrong_password(tmp_path: Path) -> None:
    path = tmp_path / "notes.p12"
    path.write_bytes(b"not a key store")
    source = open_key_source(str(path), PinSource.of_value("secret"))
    with pytest.raises(InputError, match="not a PKCS#12 file"):
        source.entries()


def test_a_large_file_is_refused_before_the_password_is_asked(tmp_path: Path) -> None:
    path = tmp_path / "big.p12"
    path.write_bytes(b"\0" * (MAX_PKCS12_SIZE + 1))
    with pytest.raises(InputError, match="too large"):
        open_key_source(str(path), PinSource(interactive=False))


def test_no_pin_and_no_terminal(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIDCRYPT_PIN", raising=False)
    source = open_key_source(softhsm.uri("bidder-a", "enc"), PinSource(interactive=False))
    with source, pytest.raises(PinUnavailableError):
        source.entry().sign(b"x")


def test_absent_token(softhsm: SoftHsm) -> None:
    with pytest.raises(TokenAbsentError) as caught:
        open_key_source(softhsm.uri("no-such-ukey"))
    assert "bidder-a" in caught.value.hint()  # lists the tokens that are there


def test_wrong_module_path(softhsm: SoftHsm) -> None:
    with pytest.raises(ModuleLoadError):
        open_key_source("pkcs11:token=bidder-a?module-path=/usr/lib/nothing/libnone.so")
    with pytest.raises(ModuleLoadError):  # exists but is not a PKCS#11 module
        open_key_source("pkcs11:token=bidder-a", module="/etc/hostname")


def test_no_module_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIDCRYPT_PKCS11_MODULE", raising=False)
    with pytest.raises(ModuleMissingError):
        open_key_source("pkcs11:token=bidder-a")


def test_missing_object(softhsm: SoftHsm) -> None:
    with pytest.raises(KeyNotFoundError):
        open_key_source(softhsm.uri("bidder-a", "nothing")).entries()
    with open_key_source(softhsm.uri("authority")) as source, pytest.raises(KeyNotFoundError):
        source.entry(Purpose.SIGNING)
