"""bidcrypt's SKF key source (bidcrypt/keys/skf_*.py) against the soft SKF token: selection, names,
signatures, both content-key paths, one login, threads, hostile answers."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bidcrypt import certs, errors
from bidcrypt.gm import Sm2PublicKey
from bidcrypt.keys import KeySource, PinSource, SkfSource, open_key_source
from bidcrypt.keys.base import KeyEntry
from tests.conftest import Pki
from tests.skf import softskf as api
from tests.skf.softskf import SoftSkf

Factory = Callable[..., SoftSkf]

CIPHERS = {
    "sm4-cbc": lambda key: algorithms.SM4(key),
    "aes-128-cbc": lambda key: algorithms.AES(key),
    "aes-256-cbc": lambda key: algorithms.AES(key),
}
KEY_SIZES = {"sm4-cbc": 16, "aes-128-cbc": 16, "aes-256-cbc": 32}


def open_skf(ref: str, pki: Pki) -> KeySource:
    return open_key_source(ref, PinSource.of_value(pki.pin))


def wrap(entry: KeyEntry, key: bytes) -> tuple[bytes, str]:
    public = certs.public_key(entry.certificate)
    if isinstance(public, Sm2PublicKey):
        return public.encrypt(key), "sm2"
    assert isinstance(public, rsa.RSAPublicKey)
    return public.encrypt(key, padding.PKCS1v15()), "pkcs1v15"


def verify(entry: KeyEntry, signature: bytes, data: bytes, hash_name: str) -> None:
    public = certs.public_key(entry.certificate)
    if isinstance(public, Sm2PublicKey):
        public.verify(signature, data)
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(
            signature,
            data,
            padding.PKCS1v15(),
            {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name],
        )


@pytest.mark.parametrize(
    ("bidder", "hash_name"), [("sm2/bidder-a", "sm3"), ("bidder-a", "sha256"), ("bidder-a", "sha384")]
)
@pytest.mark.parametrize("fast", [True, False])
def test_sign_and_verify(softskf: SoftSkf, pki: Pki, bidder: str, hash_name: str, fast: bool) -> None:
    with open_skf(softskf.bidder_uri(bidder, fast=fast), pki) as source:
        assert isinstance(source, SkfSource)
        signer = source.entry(certs.Purpose.SIGNING)
        data = "投标文件 manifest".encode() * 50
        verify(signer, signer.sign(data, hash_name), data, hash_name)
        if hash_name == "sm3":
            e = os.urandom(32)
            public = certs.public_key(signer.certificate)
            assert isinstance(public, Sm2PublicKey)
            public.verify_digest(signer.sm2_sign_digest(e), e)


@pytest.mark.parametrize("bidder", ["sm2/bidder-a", "bidder-a"])
def test_fast_path_unwraps_the_key(softskf: SoftSkf, pki: Pki, bidder: str) -> None:
    with open_skf(softskf.bidder_uri(bidder), pki) as source:
        assert isinstance(source, SkfSource) and source.fast_path
        entry = source.entry(certs.Purpose.ENCRYPTION)
        assert entry.returns_content_keys
        key = os.urandom(16)
        wrapped, how = wrap(entry, key)
        got = entry.sm2_decrypt(wrapped) if how == "sm2" else entry.rsa_decrypt(wrapped, "pkcs1v15")
        assert got == key
        if how == "pkcs1v15":
            assert entry.claimed_rsa_schemes() == ("pkcs1v15",)
            with pytest.raises(errors.MechanismUnsupportedError):
                entry.rsa_decrypt(wrapped, "oaep-sha256")
        with pytest.raises(errors.MechanismUnsupportedError):
            entry.ecdh(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bidder", ["sm2/bidder-a", "bidder-a"])
@pytest.mark.parametrize("cipher", ["sm4-cbc", "aes-128-cbc", "aes-256-cbc"])
@pytest.mark.parametrize("fast", [True, False])
def test_content_decrypted_on_the_token_equals_software(
    softskf: SoftSkf, pki: Pki, bidder: str, cipher: str, fast: bool
) -> None:
    with open_skf(softskf.bidder_uri(bidder, fast=fast), pki) as source:
        entry = source.entry(certs.Purpose.ENCRYPTION)
        assert entry.returns_content_keys is fast
        key, iv = os.urandom(KEY_SIZES[cipher]), os.urandom(16)
        plaintext = os.urandom(16 * 300)
        encryptor = Cipher(CIPHERS[cipher](key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        wrapped, how = wrap(entry, key)
        with entry.import_content_key(wrapped, how, cipher) as content_key:
            assert content_key.max_chunk == 65536 and content_key.cipher == cipher
            decryptor = content_key.decryptor(iv)
            out = b"".join(
                decryptor.update(ciphertext[i : i + 1024]) for i in range(0, len(ciphertext), 1024)
            )
            assert out + decryptor.finalize() == plaintext


def test_standard_path_refuses_to_return_keys(softskf: SoftSkf, pki: Pki) -> None:
    for ref in (
        softskf.bidder_uri("sm2/bidder-a", fast=False),
        softskf.bidder_uri("sm2/bidder-a") + "&fast-path=no",
    ):
        with open_skf(ref, pki) as source:
            entry = source.entry(certs.Purpose.ENCRYPTION)
            assert not entry.returns_content_keys
            with pytest.raises(errors.MechanismUnsupportedError, match="imported into the token"):
                entry.sm2_decrypt(wrap(entry, b"k" * 16)[0])


def test_one_key_operation_each_and_one_login(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    with open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source:
        signer, decrypter = source.entry(certs.Purpose.SIGNING), source.entry(certs.Purpose.ENCRYPTION)
        for _ in range(3):
            signer.sign(b"x", "sm3")
            decrypter.sm2_decrypt(wrap(decrypter, b"k" * 16)[0])
    counted = token.counters("sm2-bidder-a")
    assert counted["verify_pin"] == 1 and counted["sign"] == 3 and counted["private_decrypt"] == 3
    assert counted["key_operations"] == 6


def test_threads_share_one_source(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    failures: list[BaseException] = []
    with open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source:
        signer = source.entry(certs.Purpose.SIGNING)

        def work(n: int) -> None:
            try:
                data = f"bid {n}".encode()
                for _ in range(5):
                    verify(signer, signer.sign(data, "sm3"), data, "sm3")
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures
    assert token.counters("sm2-bidder-a")["verify_pin"] == 1
    assert token.counters("sm2-bidder-a")["sign"] == 30


def test_names_utf8_gbk_and_selection(softskf: SoftSkf, pki: Pki) -> None:
    with open_skf(softskf.bidder_uri("sm2/bidder-c"), pki) as source:  # 蜀道工程, GBK on the token
        assert isinstance(source, SkfSource)
        assert source.container_name.text == "蜀道工程" and source.container_name.raw == "蜀道工程".encode(
            "gbk"
        )
        assert "蜀道工程" in source.description
    with open_skf(softskf.uri("sm2-bidder-c"), pki) as source:  # the only application and container
        assert isinstance(source, SkfSource) and source.container_name.text == "蜀道工程"
    with open_skf(softskf.uri("sm2-bidder-b"), pki) as source:
        assert isinstance(source, SkfSource) and source.application_name.text == "电子投标"


def test_several_devices_and_none_named_lists_them(softskf: SoftSkf, pki: Pki) -> None:
    with pytest.raises(errors.KeyRefError) as caught:
        open_skf(softskf.uri(), pki)
    assert "sm2-bidder-a" in str(caught.value) and "bidder-a" in str(caught.value)
    with pytest.raises(errors.TokenAbsentError) as absent:
        open_skf(softskf.uri("no-such-ukey"), pki)
    assert "sm2-bidder-a" in absent.value.hint("en")


def test_max_chunk_is_the_device_buffer_in_whole_blocks(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.edit("sm2-bidder-a", lambda device: setattr(device, "max_buffer", 100))
    with open_skf(token.bidder_uri("sm2/bidder-a", fast=False), pki) as source:
        entry = source.entry(certs.Purpose.ENCRYPTION)
        key = os.urandom(16)
        with entry.import_content_key(wrap(entry, key)[0], "sm2", "sm4-cbc") as content_key:
            assert content_key.max_chunk == 96
            decryptor = content_key.decryptor(bytes(16))
            with pytest.raises(ValueError):
                decryptor.update(bytes(112))


def test_wrong_wrapped_key_is_a_wrong_key(softskf: SoftSkf, pki: Pki) -> None:
    other = Sm2PublicKey.from_spki_der(certs.public_key_der(pki_sm2_cert(pki, "sm2/bidder-b/enc")))
    for fast in (True, False):
        with open_skf(softskf.bidder_uri("sm2/bidder-a", fast=fast), pki) as source:
            entry = source.entry(certs.Purpose.ENCRYPTION)
            wrapped = other.encrypt(b"k" * 16)
            with pytest.raises(errors.WrongKeyError):
                if fast:
                    entry.sm2_decrypt(wrapped)
                else:
                    entry.import_content_key(wrapped, "sm2", "sm4-cbc")


def pki_sm2_cert(pki: Pki, name: str) -> object:
    return certs.load_certificates(pki.cert(name))[0]


def test_signing_pair_does_not_decrypt_and_encryption_pair_does_not_sign(softskf: SoftSkf, pki: Pki) -> None:
    with open_skf(softskf.bidder_uri("sm2/bidder-a"), pki) as source:
        signer, decrypter = source.entry(certs.Purpose.SIGNING), source.entry(certs.Purpose.ENCRYPTION)
        with pytest.raises(errors.MechanismUnsupportedError):
            signer.sm2_decrypt(wrap(signer, b"k" * 16)[0])
        with pytest.raises(errors.MechanismUnsupportedError):
            decrypter.sign(b"x", "sm3")
        with pytest.raises(errors.MechanismUnsupportedError):
            signer.sign(b"x", "sha256")


# -- hostile answers --------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["SKF_EnumContainer", "SKF_ExportCertificate", "SKF_EnumApplication"])
def test_size_lies_are_clean_token_errors(softskf_factory: Factory, pki: Pki, function: str) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.inject("sm2-bidder-a", size_lie={function: 16})
    with (
        pytest.raises(errors.TokenError, match="impossible answer"),
        open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source,
    ):
        source.entries()


def test_truncated_certificate_is_a_clean_token_error(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.truncate_certificates("sm2-bidder-a", 100)
    with (
        open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source,
        pytest.raises(errors.TokenError, match="unreadable"),
    ):
        source.entries()


def test_unknown_sar_code_is_quoted(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.inject("sm2-bidder-a", sar={"SKF_ECCSignData": api.SAR_UNKNOWN})
    with (
        open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source,
        pytest.raises(errors.TokenError) as caught,
    ):
        source.entry(certs.Purpose.SIGNING).sign(b"x", "sm3")
    assert caught.value.code == "token-error" and "0x0A0000FF" in str(caught.value)


def test_device_removed_mid_way(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.inject("sm2-bidder-a", removed_after=2)
    with open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source:
        signer = source.entry(certs.Purpose.SIGNING)
        signer.sign(b"1", "sm3")
        signer.sign(b"2", "sm3")
        with pytest.raises(errors.TokenRemovedError) as caught:
            signer.sign(b"3", "sm3")
    assert caught.value.code == "token-removed"
    token.reinsert("sm2-bidder-a")
    with open_skf(token.bidder_uri("sm2/bidder-a"), pki) as source:
        source.entry(certs.Purpose.SIGNING).sign(b"3", "sm3")


def test_library_that_is_not_skf(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(errors.SkfLibraryLoadError):
        open_skf("skf:?module-path=" + str(tmp_path / "missing.so"), pki)
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if Path(libc).exists():
        with pytest.raises(errors.SkfLibraryLoadError, match="SKF_EnumDev is missing"):
            open_skf("skf:?module-path=" + libc, pki)


def test_module_from_environment_and_pkcs11_variable_ignored(
    softskf: SoftSkf, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIDCRYPT_SKF_MODULE", str(api.FAST_LIBRARY))
    monkeypatch.setenv("BIDCRYPT_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
    with open_key_source(
        "skf:device=sm2-bidder-a", PinSource.of_value(pki.pin), "/usr/lib/softhsm/libsofthsm2.so"
    ) as source:
        assert isinstance(source, SkfSource) and source.library.path == str(api.FAST_LIBRARY)


def test_close_destroys_keys_and_later_use_is_a_clean_error(softskf: SoftSkf, pki: Pki) -> None:
    source = open_skf(softskf.bidder_uri("sm2/bidder-a", fast=False), pki)
    entry = source.entry(certs.Purpose.ENCRYPTION)
    content_key = entry.import_content_key(wrap(entry, b"k" * 16)[0], "sm2", "sm4-cbc")
    source.close()
    source.close()  # idempotent
    with pytest.raises(errors.TokenError):
        content_key.decryptor(bytes(16))
    content_key.close()  # already destroyed by the source's close: nothing happens
    with pytest.raises(errors.TokenError):
        source.entry(certs.Purpose.SIGNING).sign(b"x", "sm3")


def test_a_cipher_the_token_does_not_know_is_unsupported(softskf_factory: Factory, pki: Pki) -> None:
    token = softskf_factory(["sm2/bidder-a"])
    token.inject("sm2-bidder-a", sar={"SKF_ImportSessionKey": api.SAR_NOTSUPPORTYETERR})
    with open_skf(token.bidder_uri("sm2/bidder-a", fast=False), pki) as source:
        entry = source.entry(certs.Purpose.ENCRYPTION)
        with pytest.raises(errors.MechanismUnsupportedError, match="aes-256-cbc decryption on the token"):
            entry.import_content_key(wrap(entry, b"k" * 32)[0], "sm2", "aes-256-cbc")
