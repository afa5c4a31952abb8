"""End to end on the soft SKF token: content decrypted on the token (standard path) and the fast path.

``libsoftskf-std.so`` has no private-key decryption: bidcrypt imports each
content key (``SKF_ImportSessionKey``) and the token decrypts the content,
chunk by chunk (``SKF_DecryptUpdate``). ``libsoftskf.so`` returns the key
(``SKF_ECCDecrypt`` / ``SKF_RSAPriKeyDecrypt``) and bidcrypt decrypts in
software. The token's own counters prove one key operation per file or bid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import ContentCipher, EnvelopeBuilder, KeyTransport
from bidcrypt.opening import build_record
from tests.conftest import Pki, run_bidcrypt, run_cli
from tests.opening.conftest import make_package, move_opening_time_back
from tests.opening.test_sm2_opening import mixed_session
from tests.package.test_sm2_packages import SUMMARY, trust_args
from tests.skf.softskf import SoftSkf

Factory = Callable[..., SoftSkf]

#: (the recipient's certificate, its soft SKF device, the content cipher, how the key is wrapped).
RECIPIENTS = {
    "sm2": ("sm2/authority/enc", "sm2-authority", ContentCipher.SM4_CBC, {}),
    "rsa": (
        "authority/enc",
        "authority",
        ContentCipher.AES_256_CBC,
        {"key_transport": KeyTransport.PKCS1V15},
    ),
}


def _sealed(pki: Pki, path: Path, kind: str, data: bytes, cipher: ContentCipher | None = None) -> str:
    name, device, default, options = RECIPIENTS[kind]
    builder = EnvelopeBuilder().set_cipher(cipher or default)
    builder = builder.add_recipient(load_certificate(pki.cert(name)), **options)  # type: ignore[arg-type]
    path.write_bytes(builder.encrypt_bytes(data))
    return device


@pytest.mark.parametrize("kind", ["sm2", "rsa"])
@pytest.mark.parametrize("fast", [False, True], ids=["standard", "fast"])
def test_envelope_decrypt(softskf_factory: Factory, pki: Pki, tmp_path: Path, kind: str, fast: bool) -> None:
    token = softskf_factory()
    data = bytes(range(256)) * 1000  # 256 000 bytes: four SKF_DecryptUpdate calls of at most 64 KiB
    device = _sealed(pki, tmp_path / "bid.p7m", kind, data)
    result = run_cli(
        "envelope", "decrypt", tmp_path / "bid.p7m", "-o", tmp_path / "out",
        "--key", token.uri(device, fast=fast), env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert (tmp_path / "out").read_bytes() == data
    counted = token.counters(device)
    assert counted["key_operations"] == 1 and counted["verify_pin"] == 1
    if fast:
        assert counted["private_decrypt"] == 1 and counted["decrypt_update"] == 0
    else:
        assert counted["import_session_key"] == 1 and counted["private_decrypt"] == 0
        assert counted["decrypt_update"] == 4 and counted["decrypt_update_bytes"] == 256_016


def test_the_standard_path_refuses_gcm_content_with_its_own_exit_code(
    softskf_factory: Factory, pki: Pki, tmp_path: Path
) -> None:
    token = softskf_factory(["authority"])
    device = _sealed(pki, tmp_path / "bid.p7m", "rsa", b"bid", ContentCipher.AES_256_GCM)
    result = run_cli(
        "envelope", "decrypt", tmp_path / "bid.p7m", "-o", tmp_path / "out",
        "--key", token.uri(device, fast=False), env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 31, result.output + result.stderr
    assert "AES-256-GCM" in result.stderr and "PKCS#1 v1.5" in result.stderr
    assert token.counters(device)["key_operations"] == 0 and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def packages(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory, sm2_sealed_pdfs: dict[str, Path]
) -> dict[str, Path]:
    """SM2 bids to the SM2 authority (SM4-CBC), and one to the RSA authority (PKCS#1 v1.5)."""
    directory = tmp_path_factory.mktemp("skf-bids")
    authorities = {"sm2/bidder-a": "authority/enc", "sm2/bidder-b": "sm2/authority/enc"}
    authorities["sm2/bidder-c"] = "sm2/authority/enc"
    return {
        bidder: make_package(
            pki,
            directory,
            bidder,
            authority=authority,
            price=f"{300 + n}.00",
            size=200_000,
            sealed_pdf=sm2_sealed_pdfs[bidder],
            name=f"skf-{n}",
        )
        for n, (bidder, authority) in enumerate(authorities.items())
    }


@pytest.mark.slow
def test_unpack_on_the_standard_path(
    softskf_factory: Factory, pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    token = softskf_factory(["sm2/authority"])
    result = run_cli(
        "unpack", packages["sm2/bidder-b"], "-o", tmp_path / "out",
        "--key", token.uri("sm2-authority", fast=False), *trust_args(pki), "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(result.stdout)["ok"] and (tmp_path / "out" / "投标函.pdf").is_file()
    counted = token.counters("sm2-authority")
    assert counted["key_operations"] == counted["import_session_key"] == 1 and counted["decrypt_update"] > 1


@pytest.mark.slow
@pytest.mark.parametrize("fast", [False, True], ids=["standard", "fast"])
@pytest.mark.parametrize(
    ("authority", "device", "bids"), [("sm2/authority", "sm2-authority", 2), ("authority", "authority", 1)]
)
def test_the_bulk_opening_costs_one_key_operation_per_bid(
    softskf_factory: Factory,
    pki: Pki,
    tmp_path: Path,
    packages: dict[str, Path],
    fast: bool,
    authority: str,
    device: str,
    bids: int,
) -> None:
    """The SM2 authority's container opens its two bids, the RSA one its GM/T 0010 bid (PKCS#1 v1.5)."""
    token = softskf_factory([authority])
    session = mixed_session(pki, tmp_path / "session", tuple(packages))
    for path in packages.values():
        session.submit(path)
    move_opening_time_back(session)
    result = run_bidcrypt(
        "opening", "open", session.directory, "--key", token.uri(device, fast=fast),
        "--workers", "2", env={"BIDCRYPT_PIN": pki.pin, "SOFTSKF_ROOT": str(token.root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert ("decrypted on the UKey" in result.stdout) is not fast
    assert ("one at a time" in result.stderr) is not fast  # the progress says the token decrypts
    counted = token.counters(device)
    assert counted["key_operations"] == bids and counted["verify_pin"] == 1
    assert counted["import_session_key" if not fast else "private_decrypt"] == bids
    assert len(list((session.directory / "opened").iterdir())) == bids
    rows = [row for row in build_record(session).rows if row.status == "opened"]
    assert len(rows) == bids and all(row.seals == "valid" for row in rows)


@pytest.mark.slow
def test_a_token_removed_mid_batch_stops_it_and_the_next_run_resumes(
    softskf_factory: Factory, pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    token = softskf_factory(["sm2/authority"])
    token.inject("sm2-authority", removed_after=1)  # the first bid's import works, the second's finds it gone
    sm2 = {bidder: path for bidder, path in packages.items() if bidder != "sm2/bidder-a"}
    session = mixed_session(pki, tmp_path / "session", tuple(sm2))
    for path in sm2.values():
        session.submit(path)
    move_opening_time_back(session)
    ref = token.uri("sm2-authority", fast=False)
    env = {"BIDCRYPT_PIN": pki.pin, "SOFTSKF_ROOT": str(token.root)}
    first = run_bidcrypt("opening", "open", session.directory, "--key", ref, "--json", env=env)
    assert first.returncode == 11, first.stderr  # the token was removed: exit 11, not 70
    assert "Traceback" not in first.stderr
    run = json.loads(first.stdout)
    assert len(run["opened"]) == 1 and run["failed"] == [] and run["stopped"]["code"] == "token-removed"
    assert [p.name for p in (session.directory / "opened").iterdir()] == [str(run["opened"][0])]
    token.reinsert("sm2-authority")
    second = run_bidcrypt("opening", "open", session.directory, "--key", ref, "--json", env=env)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert len(again["opened"]) == 1 and again["token_decrypted"] == 1 and again["unwraps"] == 1
    assert len(list((session.directory / "opened").iterdir())) == 2


@pytest.mark.slow
@pytest.mark.parametrize("bidder", ["bidder-a", "sm2/bidder-a"])
def test_pack_signs_and_test_opens_on_the_standard_path(
    softskf_factory: Factory,
    pki: Pki,
    tmp_path: Path,
    sealed_pdfs: dict[str, Path],
    sm2_sealed_pdfs: dict[str, Path],
    bidder: str,
) -> None:
    """`bidcrypt pack --key skf:…` on a UKey without private-key decryption: it signs, and the test-open
    imports the key and decrypts on the token (an RSA bidder's package is AES-256-CBC, said in a warning)."""
    token = softskf_factory([bidder])
    device = next(iter(token.devices))
    folder = tmp_path / "src"
    (folder / "附件").mkdir(parents=True)
    (folder / "投标函.pdf").write_bytes({**sealed_pdfs, **sm2_sealed_pdfs}[bidder].read_bytes())
    (folder / "附件" / "资质.txt").write_text("资质证书" * 100, encoding="utf-8")
    (tmp_path / "summary.toml").write_text(SUMMARY, encoding="utf-8")
    authority = "authority/enc" if bidder == "bidder-a" else "sm2/authority/enc"
    result = run_cli(
        "pack", folder, "-o", tmp_path / "bid.bid", "--tender", "T-SKF",
        "--key", token.bidder_uri(bidder, fast=False),
        "--encrypt-to", pki.cert(f"{bidder}/enc"), "--encrypt-to", pki.cert(authority),
        "--authority-transport", "pkcs1v15", "--summary", tmp_path / "summary.toml",
        *trust_args(pki), "--json",
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(result.stdout)
    assert report["test_opened"] is True
    assert report["cipher"] == ("aes-256-cbc" if bidder == "bidder-a" else "sm4-cbc")
    assert ("AES-256-CBC" in result.stderr) is (bidder == "bidder-a")
    counted = token.counters(device)
    assert counted["import_session_key"] == 1 and counted["private_decrypt"] == 0 and counted["sign"] >= 1


@pytest.mark.slow
def test_reencrypt_on_the_standard_path_needs_a_fresh_key(
    softskf_factory: Factory, pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    """A UKey that keeps the content key cannot rewrap it (exit 17, saying --fresh-key); --fresh-key works."""
    token = softskf_factory(["sm2/bidder-a"])
    ref = token.bidder_uri("sm2/bidder-a", fast=False)
    args = ["--to", pki.cert("sm2/bidder-a/enc-replaced"), *trust_args(pki), "--json"]
    rewrap = run_cli(
        "reencrypt", packages["sm2/bidder-a"], "-o", tmp_path / "rewrapped.bid", "--key", ref, *args,
        env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert rewrap.exit_code == 17, rewrap.output + rewrap.stderr
    assert "--fresh-key" in rewrap.stderr and not (tmp_path / "rewrapped.bid").exists()
    fresh = run_cli(
        "reencrypt", packages["sm2/bidder-a"], "-o", tmp_path / "fresh.bid", "--key", ref, *args,
        "--fresh-key", env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert fresh.exit_code == 0, fresh.output + fresh.stderr
    assert json.loads(fresh.stdout)["fresh_key"] is True
    counted = token.counters("sm2-bidder-a")
    assert counted["import_session_key"] == 2 and counted["private_decrypt"] == 0


@pytest.mark.slow
def test_the_opening_says_in_chinese_that_the_ukey_decrypts(
    softskf_factory: Factory, pki: Pki, tmp_path: Path, packages: dict[str, Path]
) -> None:
    token = softskf_factory(["authority"])
    session = mixed_session(pki, tmp_path / "session", ("sm2/bidder-a",))
    session.submit(packages["sm2/bidder-a"])
    move_opening_time_back(session)
    result = run_bidcrypt(
        "opening", "open", session.directory, "--key", token.uri("authority", fast=False),
        env={"BIDCRYPT_PIN": pki.pin, "SOFTSKF_ROOT": str(token.root), "BIDCRYPT_LANG": "zh_CN.UTF-8"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "逐个在 U-KEY 内解密" in result.stderr and "在 U-KEY 内解密（慢速方式）" in result.stdout
