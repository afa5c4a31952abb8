"""The soft SKF token itself (tests/skf/softskf.c), through plain ctypes: the tree, the PIN that
locks across processes, signatures and decryptions checked by independent code, and each fault."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from ctypes import byref, c_void_p, create_string_buffer
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from bidcrypt.gm import Sm2PublicKey, to_raw
from bidcrypt.keys.sm2_digest import sm2_signature_der, sm2_signing_digest
from tests.conftest import PKI, ROOT
from tests.skf import softskf as api
from tests.skf.raw import ULONG, DevInfo, Skf, ecc_cipher_blob
from tests.skf.softskf import SoftSkf

PIN = b"12345678"
SM4_CBC, AES128_CBC, AES256_CBC = 0x402, 0x80000102, 0x80000402


@pytest.fixture
def token(softskf_factory: object) -> SoftSkf:
    return softskf_factory()  # type: ignore[operator, no-any-return]


@pytest.fixture(scope="module")
def skf() -> Skf:
    if not api.built():
        pytest.skip("the soft SKF token is not built")
    return Skf(api.FAST_LIBRARY)


def cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.pem").read_bytes())


def sm2_public(name: str) -> Sm2PublicKey:
    der = cert(name).public_bytes(serialization.Encoding.DER)
    spki = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
    return Sm2PublicKey.from_spki_der(spki.dump())


class Session:
    """A device, application and container opened on the raw client, logged in or not."""

    def __init__(self, skf: Skf, device: str, application: str, container: bytes, login: bool = True) -> None:
        rv, self.dev = skf.connect(device.encode())
        assert rv == 0
        rv, self.app = skf.open_application(self.dev, application.encode())
        assert rv == 0
        rv, self.con = skf.open_container(self.app, container)
        assert rv == 0
        if login:
            assert skf.verify_pin(self.app, PIN)[0] == 0


@pytest.fixture
def sm2(skf: Skf, token: SoftSkf) -> Iterator[Session]:
    yield Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a")


@pytest.fixture
def rsa_session(skf: Skf, token: SoftSkf) -> Iterator[Session]:
    yield Session(skf, "bidder-a", "BIDCRYPT", b"bidder-a")


# ---------------------------------------------------------------- the tree


def test_the_tree_of_devices_applications_and_containers(skf: Skf, token: SoftSkf) -> None:
    assert skf.names("SKF_EnumDev", 1) == (
        0,
        [b"authority", b"bidder-a", b"sm2-authority", b"sm2-bidder-a", b"sm2-bidder-b", b"sm2-bidder-c"],
    )
    rv, dev = skf.connect(b"sm2-bidder-b")
    assert rv == 0
    assert skf.names("SKF_EnumApplication", dev) == (0, ["电子投标".encode()])
    rv, app = skf.open_application(dev, "电子投标".encode())
    assert skf.names("SKF_EnumContainer", app) == (0, [b"sm2-bidder-b"])
    # A GBK-named container: the bytes on the token are GBK, and they open it.
    _, dev_c = skf.connect(b"sm2-bidder-c")
    _, app_c = skf.open_application(dev_c, b"BIDCRYPT")
    assert skf.names("SKF_EnumContainer", app_c) == (0, ["蜀道工程".encode("gbk")])
    rv, con = skf.open_container(app_c, "蜀道工程".encode("gbk"))
    assert rv == 0
    kind = ULONG()
    assert skf.call("SKF_GetContainerType", con, byref(kind)) == 0 and kind.value == 2
    assert skf.certificate(con, True) == (
        0,
        cert("sm2/bidder-c/sign").public_bytes(serialization.Encoding.DER),
    )
    assert skf.certificate(con, False) == (
        0,
        cert("sm2/bidder-c/enc").public_bytes(serialization.Encoding.DER),
    )
    info = DevInfo()
    assert skf.call("SKF_GetDevInfo", dev, byref(info)) == 0
    assert info.MaxBufferSize == 65536 and info.Label == b"sm2-bidder-b"


def test_unknown_names_answer_their_codes(skf: Skf, token: SoftSkf) -> None:
    assert skf.connect(b"nobody")[0] == api.SAR_DEVICE_REMOVED
    _, dev = skf.connect(b"bidder-a")
    assert skf.open_application(dev, b"OTHER")[0] == api.SAR_APPLICATION_NOT_EXISTS
    _, app = skf.open_application(dev, b"BIDCRYPT")
    assert skf.open_container(app, b"other")[0] == api.SAR_FILE_NOT_EXIST
    _, con = skf.open_container(app, b"bidder-a")
    kind = ULONG()
    assert skf.call("SKF_GetContainerType", con, byref(kind)) == 0 and kind.value == 1


def test_the_size_protocol(skf: Skf, sm2: Session) -> None:
    size = ULONG()
    assert skf.call("SKF_ExportCertificate", sm2.con, 1, None, byref(size)) == 0
    needed = size.value
    small = ULONG(needed - 1)
    buffer = create_string_buffer(needed)
    assert skf.call("SKF_ExportCertificate", sm2.con, 1, buffer, byref(small)) == api.SAR_BUFFER_TOO_SMALL
    assert small.value == needed


# ---------------------------------------------------------------- the PIN


VERIFY_IN_A_CHILD = """
import sys
from pathlib import Path
from tests.skf.raw import Skf
skf = Skf(Path(sys.argv[1]))
_, dev = skf.connect(b"bidder-a")
_, app = skf.open_application(dev, b"BIDCRYPT")
rv, left = skf.verify_pin(app, sys.stdin.buffer.read())
print(hex(rv), left)
"""


def verify_in_child(token: SoftSkf, pin: bytes) -> str:
    result = subprocess.run(
        [sys.executable, "-c", VERIFY_IN_A_CHILD, str(api.FAST_LIBRARY)],
        input=pin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **token.env()},
        check=True,
    )
    return result.stdout.decode().strip()


def test_the_pin_locks_for_real_across_processes(skf: Skf, token: SoftSkf) -> None:
    assert verify_in_child(token, b"wrong-1") == "0xa000024 2"
    assert token.retries_left("bidder-a", "BIDCRYPT") == 2
    assert verify_in_child(token, PIN) == "0x0 99"  # a good PIN restores the tries
    assert token.retries_left("bidder-a", "BIDCRYPT") == 3
    assert [verify_in_child(token, b"wrong") for _ in range(3)] == [
        "0xa000024 2",
        "0xa000024 1",
        "0xa000024 0",
    ]
    # Locked: even the right PIN is refused, and no try is taken.
    assert verify_in_child(token, PIN) == "0xa000025 0"
    _, dev = skf.connect(b"bidder-a")
    _, app = skf.open_application(dev, b"BIDCRYPT")
    assert skf.pin_info(app) == (0, 3, 0)
    counters = token.counters("bidder-a")
    assert counters["verify_pin"] == 6 and counters["verify_pin_failed"] == 4


def test_key_operations_need_a_login_on_that_handle(skf: Skf, token: SoftSkf) -> None:
    plain = Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a", login=False)
    assert skf.ecc_sign(plain.con, bytes(32))[0] == api.SAR_USER_NOT_LOGGED_IN
    assert skf.import_session_key(plain.con, SM4_CBC, bytes(200))[0] == api.SAR_USER_NOT_LOGGED_IN
    Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a")  # another handle logs in
    assert skf.ecc_sign(plain.con, bytes(32))[0] == api.SAR_USER_NOT_LOGGED_IN
    assert skf.verify_pin(plain.app, PIN)[0] == 0
    assert skf.call("SKF_ClearSecureState", plain.app) == 0
    assert skf.ecc_sign(plain.con, bytes(32))[0] == api.SAR_USER_NOT_LOGGED_IN
    assert token.counters("sm2-bidder-a")["sign"] == 0


# ---------------------------------------------------------------- signatures


def test_sm2_signature_of_e_verifies(skf: Skf, sm2: Session, token: SoftSkf) -> None:
    certificate = cert("sm2/bidder-a/sign")
    e = sm2_signing_digest(certificate, b"the bid")
    rv, r, s = skf.ecc_sign(sm2.con, e)
    assert rv == 0 and r[:32] == bytes(32) and s[:32] == bytes(32)
    sm2_public("sm2/bidder-a/sign").verify(sm2_signature_der(r, s), b"the bid")
    assert skf.ecc_sign(sm2.con, bytes(31))[0] == api.SAR_INVALIDPARAMERR
    assert token.counters("sm2-bidder-a")["sign"] == 1


def test_rsa_signature_of_a_digest_info_verifies(skf: Skf, rsa_session: Session) -> None:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"the bid")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + digest.finalize()
    rv, signature = skf.rsa_sign(rsa_session.con, digest_info)
    assert rv == 0 and len(signature) == 256
    public = cert("bidder-a/sign").public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"the bid", asym_padding.PKCS1v15(), hashes.SHA256())


# ---------------------------------------------------------------- content keys


def sm2_wrapped(recipient: str, key: bytes) -> bytes:
    raw = to_raw(sm2_public(recipient).encrypt(key), "c1c3c2", prefix=True)
    x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big")
    return ecc_cipher_blob(x, y, raw[65:97], raw[97:])


def rsa_wrapped(recipient: str, key: bytes) -> bytes:
    public = cert(recipient).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public.encrypt(key, asym_padding.PKCS1v15())


def encrypt(algorithm: algorithms.BlockCipherAlgorithm, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def test_sm4_content_decrypted_on_the_token(skf: Skf, sm2: Session, token: SoftSkf) -> None:
    key, iv, content = os.urandom(16), os.urandom(16), os.urandom(200_000)
    ciphertext = encrypt(algorithms.SM4(key), iv, content)
    rv, handle = skf.import_session_key(sm2.con, SM4_CBC, sm2_wrapped("sm2/bidder-a/enc", key))
    assert rv == 0
    assert skf.decrypt_init(handle, iv) == 0
    plain = b""
    for start in range(0, len(ciphertext), 65536):
        rv, chunk = skf.decrypt_update(handle, ciphertext[start : start + 65536])
        assert rv == 0
        plain += chunk
    assert skf.decrypt_final(handle) == (0, b"")
    assert plain[: len(content)] == content  # no padding removed on the token: PKCS#7 is the caller's
    assert skf.decrypt_init(handle, iv) == 0
    too_much = ciphertext[: 65536 + 16]
    assert skf.decrypt_update(handle, too_much)[0] == api.SAR_INDATALENERR
    assert skf.call("SKF_CloseHandle", handle) == 0
    counters = token.counters("sm2-bidder-a")
    assert counters["import_session_key"] == 1 and counters["key_operations"] == 1
    assert counters["decrypt_update"] == 4 and counters["decrypt_update_bytes"] == len(ciphertext)


@pytest.mark.parametrize(("alg", "size"), [(AES128_CBC, 16), (AES256_CBC, 32)])
def test_aes_content_with_an_rsa_wrapped_key(skf: Skf, rsa_session: Session, alg: int, size: int) -> None:
    key, iv = os.urandom(size), os.urandom(16)
    ciphertext = encrypt(algorithms.AES(key), iv, b"tender" * 50)
    rv, handle = skf.import_session_key(rsa_session.con, alg, rsa_wrapped("bidder-a/enc", key))
    assert rv == 0
    assert skf.decrypt_init(handle, iv, padding=1) == 0
    rv, head = skf.decrypt_update(handle, ciphertext)
    assert rv == 0
    rv, tail = skf.decrypt_final(handle)
    assert rv == 0 and head + tail == b"tender" * 50


def test_a_wrong_key_or_algorithm_is_refused(skf: Skf, sm2: Session, rsa_session: Session) -> None:
    wrapped = sm2_wrapped("sm2/bidder-b/enc", bytes(16))
    assert skf.import_session_key(sm2.con, SM4_CBC, wrapped)[0] == api.SAR_INDATAERR
    assert skf.import_session_key(sm2.con, 0x401, wrapped)[0] == api.SAR_NOTSUPPORTYETERR
    other = rsa_wrapped("authority/enc", bytes(16))
    assert skf.import_session_key(rsa_session.con, AES128_CBC, other)[0] == api.SAR_RSADECERR


def test_the_fast_path(skf: Skf, sm2: Session, rsa_session: Session, token: SoftSkf) -> None:
    key = os.urandom(16)
    blob = create_string_buffer(sm2_wrapped("sm2/bidder-a/enc", key))
    assert skf.sized("SKF_ECCDecrypt", sm2.con, blob) == (0, key)
    small = ULONG(15)
    out = create_string_buffer(16)
    assert skf.call("SKF_ECCDecrypt", sm2.con, blob, out, byref(small)) == api.SAR_BUFFER_TOO_SMALL
    assert small.value == 16  # asked before decrypting: not a key operation
    rsa_key = os.urandom(32)
    wrapped = rsa_wrapped("bidder-a/enc", rsa_key)
    assert skf.sized("SKF_RSAPriKeyDecrypt", rsa_session.con, wrapped, len(wrapped)) == (0, rsa_key)
    assert token.counters("sm2-bidder-a")["private_decrypt"] == 1
    assert token.counters("bidder-a")["private_decrypt"] == 1
    standard = Skf(api.STANDARD_LIBRARY)
    assert not standard.has("SKF_ECCDecrypt") and not standard.has("SKF_RSAPriKeyDecrypt")
    assert standard.has("SKF_ImportSessionKey")


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("failure", api.SEED_FAILURES)
def test_seed_failures(skf: Skf, token: SoftSkf, failure: str) -> None:
    device, application, container = api.BIDDERS["sm2/bidder-b"][:3]
    token.seed_failure(device, failure)
    listed = skf.names("SKF_EnumDev", 1)
    assert listed[0] == 0 and (device.encode() in listed[1]) == (failure != "no-device")
    if failure == "no-device":
        return
    _, dev = skf.connect(device.encode())
    applications = skf.names("SKF_EnumApplication", dev)
    assert applications == (0, [] if failure == "no-application" else [application.encode()])
    if failure == "no-application":
        return
    _, app = skf.open_application(dev, application.encode())
    assert skf.names("SKF_EnumContainer", app) == (
        0,
        [] if failure == "no-container" else [container.encode()],
    )
    if failure == "no-container":
        return
    _, con = skf.open_container(app, container.encode())
    sign_rv = skf.certificate(con, True)[0]
    assert sign_rv == (api.SAR_CERTNOTFOUNTERR if failure == "no-signing-certificate" else 0)
    assert skf.certificate(con, False)[0] == 0
    locked = failure == "locked-pin"
    assert skf.pin_info(app) == (0, 3, 0 if locked else 3)
    assert skf.verify_pin(app, PIN) == ((api.SAR_PIN_LOCKED, 0) if locked else (0, 99))
    assert token.counters(device)["verify_pin_failed"] == 0


def test_no_device_at_all(skf: Skf, token: SoftSkf) -> None:
    for device in list(token.devices):
        token.unplug(device)
    assert skf.names("SKF_EnumDev", 1) == (0, [])
    size = ULONG()
    assert skf.call("SKF_EnumDev", 1, None, byref(size)) == 0 and size.value == 1


def test_a_device_removed_after_n_key_operations(skf: Skf, sm2: Session, token: SoftSkf) -> None:
    assert skf.ecc_sign(sm2.con, bytes(32))[0] == 0  # before the fault: not counted in N
    token.inject("sm2-bidder-a", removed_after=2)
    session = Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a")
    assert skf.ecc_sign(session.con, bytes(32))[0] == 0
    assert skf.ecc_sign(session.con, bytes(32))[0] == 0
    assert skf.ecc_sign(session.con, bytes(32))[0] == api.SAR_DEVICE_REMOVED
    assert skf.pin_info(session.app)[0] == api.SAR_DEVICE_REMOVED
    assert skf.ecc_sign(sm2.con, bytes(32))[0] == api.SAR_DEVICE_REMOVED  # every handle
    assert b"sm2-bidder-a" not in skf.names("SKF_EnumDev", 1)[1]
    assert token.removed("sm2-bidder-a") and token.counters("sm2-bidder-a")["sign"] == 3
    assert skf.call("SKF_CloseContainer", session.con) == api.SAR_DEVICE_REMOVED  # closed anyway
    assert skf.call("SKF_CloseContainer", session.con) == 0x0A000005
    token.reinsert("sm2-bidder-a")
    again = Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a")
    assert skf.ecc_sign(again.con, bytes(32))[0] == 0


def test_hostile_answers(skf: Skf, token: SoftSkf) -> None:
    token.truncate_certificates("bidder-a", 100)
    token.inject(
        "sm2-bidder-a",
        sar={"SKF_ExportCertificate": api.SAR_UNKNOWN},
        size_lie={"SKF_EnumContainer": 16},
        size_grow={"SKF_ExportPublicKey": 16},
    )
    rsa_a = Session(skf, "bidder-a", "BIDCRYPT", b"bidder-a", login=False)
    rv, truncated = skf.certificate(rsa_a.con, True)
    assert rv == 0 and truncated == cert("bidder-a/sign").public_bytes(serialization.Encoding.DER)[:100]
    sm2_a = Session(skf, "sm2-bidder-a", "BIDCRYPT", b"sm2-bidder-a", login=False)
    assert skf.certificate(sm2_a.con, True)[0] == api.SAR_UNKNOWN
    size = ULONG()
    assert skf.call("SKF_EnumContainer", sm2_a.app, None, byref(size)) == 0
    given = size.value
    buffer = create_string_buffer(given)
    assert skf.call("SKF_EnumContainer", sm2_a.app, buffer, byref(size)) == 0
    assert size.value == given + 16
    assert skf.call("SKF_ExportPublicKey", sm2_a.con, 1, None, byref(size)) == 0 and size.value == 132
    buffer = create_string_buffer(132)
    assert skf.call("SKF_ExportPublicKey", sm2_a.con, 1, buffer, byref(size)) == api.SAR_BUFFER_TOO_SMALL
    assert size.value == 148
    (token.root / "softskf.conf").write_text("fault.sar.SKF_EnumDev = 0x0A0000FF\n")
    assert skf.names("SKF_EnumDev", 1)[0] == api.SAR_UNKNOWN


def test_stale_handles(skf: Skf, token: SoftSkf) -> None:
    session = Session(skf, "bidder-a", "BIDCRYPT", b"bidder-a")
    assert skf.call("SKF_CloseContainer", session.con) == 0
    assert skf.certificate(session.con, True)[0] == 0x0A000005
    assert skf.call("SKF_DisConnectDev", session.dev) == 0
    assert skf.pin_info(session.app)[0] == 0x0A000005
    assert skf.call("SKF_CloseHandle", c_void_p()) == 0x0A000005


def test_provision_cli_writes_no_pin_on_argv(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "fixtures" / "provision_skf.py"), str(tmp_path / "t"), "sm2/bidder-a"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"export SOFTSKF_ROOT={tmp_path / 't'}"
    assert (tmp_path / "t" / "sm2-bidder-a" / "device.conf").stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------- properties

NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=40
)


@given(application=NAMES, container=NAMES, gbk=st.booleans())
@settings(max_examples=30)
def test_any_name_round_trips(skf: Skf, token: SoftSkf, application: str, container: str, gbk: bool) -> None:
    encoding = "gbk" if gbk else "utf-8"
    try:
        application_bytes, container_bytes = application.encode(encoding), container.encode(encoding)
    except UnicodeEncodeError:
        return  # not a GBK name

    def rename(device: api.Device) -> None:
        app = device.applications[0]
        app.name, app.encoding = application, encoding
        app.containers[0].name, app.containers[0].encoding = container, encoding

    token.edit("sm2-bidder-a", rename)
    token.reset_state("sm2-bidder-a")
    _, dev = skf.connect(b"sm2-bidder-a")
    assert skf.names("SKF_EnumApplication", dev) == (0, [application_bytes])
    rv, app = skf.open_application(dev, application_bytes)
    assert rv == 0 and skf.names("SKF_EnumContainer", app) == (0, [container_bytes])
    assert skf.open_container(app, container_bytes)[0] == 0
    assert skf.verify_pin(app, b"wrong")[0] == api.SAR_PIN_INCORRECT
    assert token.retries_left("sm2-bidder-a", application) == 2


@given(
    cipher=st.sampled_from([(SM4_CBC, algorithms.SM4, 16), (AES128_CBC, algorithms.AES, 16)]),
    content=st.binary(max_size=3000),
    chunks=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
)
@settings(max_examples=25)
def test_decryption_on_the_token_matches_cryptography(
    skf: Skf, sm2: Session, cipher: tuple[int, type[algorithms.AES], int], content: bytes, chunks: list[int]
) -> None:
    alg, algorithm, size = cipher
    key, iv = os.urandom(size), os.urandom(16)
    ciphertext = encrypt(algorithm(key), iv, content)
    rv, handle = skf.import_session_key(sm2.con, alg, sm2_wrapped("sm2/bidder-a/enc", key))
    assert rv == 0 and skf.decrypt_init(handle, iv) == 0
    plain, start = b"", 0
    for blocks in [*chunks, len(ciphertext) // 16]:
        piece = ciphertext[start : start + 16 * blocks]
        start += len(piece)
        if piece:
            rv, out = skf.decrypt_update(handle, piece)
            assert rv == 0
            plain += out
    assert skf.decrypt_final(handle) == (0, b"")
    assert skf.call("SKF_CloseHandle", handle) == 0
    unpadder = padding.PKCS7(128).unpadder()
    assert unpadder.update(plain) + unpadder.finalize() == content


def test_public_keys_as_blobs(skf: Skf, sm2: Session, rsa_session: Session) -> None:
    rv, blob = skf.sized("SKF_ExportPublicKey", sm2.con, 0)
    assert rv == 0 and len(blob) == 132 and int.from_bytes(blob[:4], "little") == 256
    point = sm2_public("sm2/bidder-a/enc").spki_der()[-64:]
    assert blob[4 + 32 : 68] + blob[68 + 32 :] == point
    rv, blob = skf.sized("SKF_ExportPublicKey", rsa_session.con, 1)
    public = cert("bidder-a/sign").public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    assert rv == 0 and len(blob) == 268 and int.from_bytes(blob[4:8], "little") == 2048
    assert int.from_bytes(blob[8:264], "big") == numbers.n and int.from_bytes(blob[264:], "big") == numbers.e


def test_lock_dev_excludes_another_handle(skf: Skf, token: SoftSkf) -> None:
    _, first = skf.connect(b"bidder-a")
    _, second = skf.connect(b"bidder-a")
    assert skf.call("SKF_LockDev", first, ULONG(0)) == 0
    assert skf.call("SKF_LockDev", second, ULONG(0)) == 0x0A00000F  # SAR_TIMEOUTERR
    assert skf.call("SKF_UnlockDev", first) == 0
    assert skf.call("SKF_LockDev", second, ULONG(0)) == 0
    assert skf.call("SKF_UnlockDev", second) == 0


def test_an_invalid_configuration_hides_the_device(skf: Skf, token: SoftSkf) -> None:
    config = token.directory("bidder-a") / "device.conf"
    config.write_text(config.read_text() + "\n[container]\ntype = ecdsa\n")
    assert b"bidder-a" not in skf.names("SKF_EnumDev", 1)[1]
    assert b"sm2-bidder-a" in skf.names("SKF_EnumDev", 1)[1]
