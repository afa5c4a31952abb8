"""Re-encryption in place: only the front and the tail change, journalled, undone when interrupted."""

from __future__ import annotations

import base64
import errno
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bidcrypt.certs import load_certificate
from bidcrypt.envelope import (
    EnvelopeBuilder,
    _inplace,
    interrupted_in_place,
    read_header,
    read_header_file,
    recover_in_place,
    reencrypt,
)
from bidcrypt.envelope._align import ContentFrame
from bidcrypt.errors import InputError, OutputError, PackageError
from bidcrypt.keys import KeySource, PinSource, open_key_source
from bidcrypt.package import check_package, read_package_info, reencrypt_package, unpack
from bidcrypt.trust import TrustStore

from ..conftest import ROOT, Pki, run_cli
from .conftest import Packer


def _p12(pki: Pki, name: str) -> KeySource:
    return open_key_source(str(pki.p12(name)), PinSource.of_value(pki.pin))


def _ciphertext(path: Path) -> tuple[int, bytes]:
    """Where the first ciphertext segment is, and the bytes from there to the unauthenticated attributes."""
    with path.open("rb") as stream:
        header = read_header(stream)
        start = ContentFrame.read(stream, header).copy_from
        stream.seek(start)
        return start, stream.read(header.unauthenticated_attributes_offset - start)


def test_in_place_rewrites_only_the_front_and_tail(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    package = packer("bidder-a").output
    inode, before = package.stat().st_ino, _ciphertext(package)
    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    with _p12(pki, "bidder-a/enc") as old_key:
        result = reencrypt_package(package, None, old_key, replaced)
    assert result.output == package and result.verdict.ok and result.kept_recipients == 1
    assert package.stat().st_ino == inode  # the same file
    assert _ciphertext(package) == before  # the ciphertext not moved, not written
    assert check_package(read_package_info(package), replaced).ok
    assert not interrupted_in_place(package) and not _inplace.journal_path(package).exists()
    with _p12(pki, "bidder-a/enc-replaced") as new_key:
        assert unpack(package, tmp_path / "by-new-key", new_key, trust).ok
    with _p12(pki, "authority/enc") as authority:
        assert unpack(package, tmp_path / "by-authority", authority, trust).ok
    # The room is still there: back to the first certificate, in place again.
    with _p12(pki, "bidder-a/enc-replaced") as old_key:
        reencrypt_package(package, None, old_key, load_certificate(pki.cert("bidder-a/enc")))
    assert _ciphertext(package) == before
    with _p12(pki, "bidder-a/enc") as key:
        assert unpack(package, tmp_path / "back", key, trust).ok


def test_a_package_reencrypted_to_a_new_file_keeps_room_for_in_place(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    package = packer("bidder-a").output
    copy = tmp_path / "copy.bid"
    with _p12(pki, "bidder-a/enc") as old_key:
        reencrypt_package(package, copy, old_key, load_certificate(pki.cert("bidder-a/enc-replaced")))
    with _p12(pki, "bidder-a/enc-replaced") as old_key:
        reencrypt_package(copy, None, old_key, load_certificate(pki.cert("bidder-a/enc-changed")))
    with _p12(pki, "bidder-a/enc-changed") as key:
        assert unpack(copy, tmp_path / "out", key, trust).ok


def test_no_room_is_refused_and_the_file_is_unchanged(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "bid.bin").write_bytes(b"sealed bid " * 1000)
    builder = EnvelopeBuilder().add_recipient(load_certificate(pki.cert("bidder-a/enc")))
    builder.encrypt_file(tmp_path / "bid.bin", tmp_path / "bid.p7m")  # no reserve
    original = (tmp_path / "bid.p7m").read_bytes()
    more = [load_certificate(pki.cert(name)) for name in ("bidder-b/enc", "authority/enc")]
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(OutputError, match="new file"):
        reencrypt(tmp_path / "bid.p7m", None, old_key, more)
    assert (tmp_path / "bid.p7m").read_bytes() == original
    assert not _inplace.journal_path(tmp_path / "bid.p7m").exists()


def test_a_failure_midway_puts_the_old_bytes_back(
    pki: Pki, packer: Packer, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = packer("bidder-a").output
    original = package.read_bytes()

    real, calls = os.ftruncate, []

    def disk_full(descriptor: int, length: int) -> None:  # fails once, as the rewrite's last step
        calls.append(length)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(descriptor, length)

    monkeypatch.setattr(os, "ftruncate", disk_full)
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(OutputError, match="No space"):
        reencrypt_package(package, None, old_key, load_certificate(pki.cert("bidder-a/enc-replaced")))
    monkeypatch.undo()
    assert package.read_bytes() == original
    assert not _inplace.journal_path(package).exists()


_KILLED_MIDWAY = """
import os, sys
from pathlib import Path
from bidcrypt.certs import load_certificate
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import reencrypt_package

package, old_key, new_cert = map(Path, sys.argv[1:4])
os.ftruncate = lambda descriptor, length: os._exit(137)  # dies after the front was written
with open_key_source(str(old_key), PinSource.of_value(os.environ["BIDCRYPT_PIN"])) as key:
    reencrypt_package(package, None, key, load_certificate(new_cert))
"""


def test_a_process_killed_midway_is_undone_by_the_next_run(
    pki: Pki, packer: Packer, trust: TrustStore, tmp_path: Path
) -> None:
    package = packer("bidder-a").output
    original = package.read_bytes()
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_MIDWAY,
            str(package),
            str(pki.p12("bidder-a/enc")),
            str(pki.cert("bidder-a/enc-replaced")),
        ],
        env={**os.environ, "BIDCRYPT_PIN": pki.pin, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert killed.returncode == 137, killed.stderr.decode()
    assert package.read_bytes() != original  # half done: the front is new, the tail old
    assert interrupted_in_place(package)
    with pytest.raises(PackageError, match="interrupted"):
        read_package_info(package)
    inspect = run_cli("inspect", package)
    assert inspect.exit_code == 53 and "reencrypt --in-place" in inspect.stderr  # package error
    # The same command again: the old bytes come back first, then it is done properly.
    with _p12(pki, "bidder-a/enc") as old_key:
        result = reencrypt_package(
            package, None, old_key, load_certificate(pki.cert("bidder-a/enc-replaced"))
        )
    assert result.verdict.ok and not interrupted_in_place(package)
    with _p12(pki, "bidder-a/enc-replaced") as new_key:
        assert unpack(package, tmp_path / "out", new_key, trust).ok


def _interrupted(pki: Pki, package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave *package* half rewritten with its journal, as a process that died in the middle would."""
    real = _inplace._recover_locked
    monkeypatch.setattr(_inplace, "_recover_locked", lambda path, descriptor: None)
    monkeypatch.setattr(os, "ftruncate", lambda descriptor, length: (_ for _ in ()).throw(KeyboardInterrupt))
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(KeyboardInterrupt):
        reencrypt_package(package, None, old_key, load_certificate(pki.cert("bidder-a/enc-replaced")))
    monkeypatch.undo()
    assert _inplace._recover_locked is real


def test_recover_restores_the_exact_bytes(pki: Pki, packer: Packer, monkeypatch: pytest.MonkeyPatch) -> None:
    package = packer("bidder-a").output
    original = package.read_bytes()
    _interrupted(pki, package, monkeypatch)
    assert package.read_bytes() != original
    assert recover_in_place(package)
    assert package.read_bytes() == original
    assert not recover_in_place(package)  # nothing more to undo


def test_a_journal_is_never_applied_to_another_file(
    pki: Pki, packer: Packer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bid killed mid-rewrite, then another bid put under its name: the journal must not touch it."""
    package = packer("bidder-a").output
    _interrupted(pki, package, monkeypatch)
    other = packer("bidder-a", name="other.bid").output
    package.unlink()
    other.rename(package)
    second = package.read_bytes()
    with pytest.raises(InputError, match="another file"):
        recover_in_place(package)
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(InputError, match="another file"):
        reencrypt_package(package, None, old_key, load_certificate(pki.cert("bidder-a/enc-replaced")))
    command = ["--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced")]
    run = run_cli("reencrypt", package, "--in-place", *command, env={"BIDCRYPT_PIN": pki.pin})
    assert run.exit_code == 3 and "another file" in run.stderr  # input error
    assert "Traceback" not in run.stderr and pki.pin not in run.stderr
    assert package.read_bytes() == second
    assert _inplace.journal_path(package).exists()  # kept: it is the only copy of the old bytes


def test_recovery_waits_for_the_lock(pki: Pki, packer: Packer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process may not undo a rewrite that is still under way."""
    package = packer("bidder-a").output
    _interrupted(pki, package, monkeypatch)
    half_done = package.read_bytes()
    with package.open("rb") as held:  # another process's lock, as a running rewrite holds it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another process"):
            recover_in_place(package)
        assert package.read_bytes() == half_done
    assert recover_in_place(package)


def test_a_damaged_journal_is_refused(pki: Pki, packer: Packer) -> None:
    package = packer("bidder-a").output
    _inplace.journal_path(package).write_bytes(b"bidcrypt re-encryption journal 1\nnot a digest\n{}")
    with pytest.raises(InputError, match="journal is damaged"):
        recover_in_place(package)


def test_a_second_writer_is_refused(pki: Pki, packer: Packer) -> None:
    package = packer("bidder-a").output
    replaced = load_certificate(pki.cert("bidder-a/enc-replaced"))
    with (
        _inplace.locked(package),
        _p12(pki, "bidder-a/enc") as old_key,
        pytest.raises(InputError, match="another process"),
    ):
        reencrypt(package, None, old_key, [replaced])


def test_in_place_cli(pki: Pki, packer: Packer) -> None:
    package = packer("bidder-a").output
    common = ["--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced")]
    env = {"BIDCRYPT_PIN": pki.pin}
    neither = run_cli("reencrypt", package, *common, env=env)
    both = run_cli("reencrypt", package, "-o", package.with_suffix(".new"), "--in-place", *common, env=env)
    assert neither.exit_code == both.exit_code == 2
    done = run_cli("reencrypt", package, "--in-place", *common, env=env)
    assert done.exit_code == 0, done.stderr
    assert str(package) in done.stdout and "no re-encryption needed" in done.stdout
    assert read_header_file(package).size == package.stat().st_size


def test_a_pem_envelope_is_not_changed_in_place(pki: Pki, tmp_path: Path) -> None:
    sealed = EnvelopeBuilder().add_recipient(load_certificate(pki.cert("bidder-a/enc"))).encrypt_bytes(b"x")
    pem = tmp_path / "bid.pem"
    pem.write_text("-----BEGIN CMS-----\n" + base64.encodebytes(sealed).decode() + "-----END CMS-----\n")
    original = pem.read_bytes()
    with _p12(pki, "bidder-a/enc") as old_key, pytest.raises(InputError, match="DER/BER"):
        reencrypt(pem, None, old_key, [load_certificate(pki.cert("bidder-a/enc-replaced"))])
    assert pem.read_bytes() == original


@pytest.mark.parametrize("mode", ["--in-place", "-o"])
def test_the_same_reencryption_twice_says_it_is_done(
    pki: Pki, packer: Packer, tmp_path: Path, mode: str
) -> None:
    """The second run finds the package encrypted to the new certificate: it says so, exit 0."""
    package = packer("bidder-a").output
    common = ["--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced")]
    env = {"BIDCRYPT_PIN": pki.pin}
    first_out = package if mode == "--in-place" else tmp_path / "new.bid"
    first = run_cli(
        "reencrypt", package, *([mode] if mode == "--in-place" else [mode, first_out]), *common, env=env
    )
    assert first.exit_code == 0, first.stderr
    done = first_out.read_bytes()
    second_out = tmp_path / "newer.bid"
    args = ["--in-place"] if mode == "--in-place" else ["-o", second_out]
    second = run_cli("reencrypt", first_out, *args, *common, env=env)
    assert second.exit_code == 0, second.stderr
    assert "already encrypted to" in second.stdout and "nothing to re-encrypt" in second.stdout
    assert "rebuild" not in second.stdout + second.stderr
    assert first_out.read_bytes() == done  # untouched
    if mode == "-o":
        assert second_out.read_bytes() == done and "copied unchanged" in second.stdout
        # The output is not overwritten: an existing one is refused as always.
        again = run_cli("reencrypt", first_out, "-o", second_out, *common, env=env)
        assert again.exit_code == 4
    as_json = run_cli("reencrypt", first_out, "--in-place", *common, "--json", env=env)
    assert as_json.exit_code == 0 and '"already_encrypted_to_it": true' in as_json.stdout
    assert not _inplace.journal_path(first_out).exists()


def test_a_rewrap_refuses_a_key_that_unwraps_to_noise(pki: Pki, packer: Packer, tmp_path: Path) -> None:
    """After PKCS#1 v1.5 a bad wrapped key gives a random content key (RFC 3218), not an error. A rewrap
    does not decrypt the content, so it test-opens the first chunk: the bundle must begin with its
    manifest. Without that, noise would be wrapped to the new certificate and the bid lost."""
    from bidcrypt.envelope import KeyTransport

    package = packer("bidder-a", key_transport=KeyTransport.PKCS1V15).output
    header = read_header_file(package)
    bidder = load_certificate(pki.cert("bidder-a/enc"))
    (named,) = [r for r in header.recipients if r.rid is not None and r.rid.matches(bidder)]
    data = package.read_bytes()
    assert data.count(named.encrypted_key) == 1
    package.write_bytes(data.replace(named.encrypted_key, os.urandom(len(named.encrypted_key))))
    output = tmp_path / "new.bid"
    run = run_cli(
        "reencrypt", package, "-o", output, "--key", pki.p12("bidder-a/enc"),
        "--to", pki.cert("bidder-a/enc-replaced"), env={"BIDCRYPT_PIN": pki.pin},
    )  # fmt: skip
    assert run.exit_code == 54, run.stderr  # old-key-unavailable: v1.5 cannot tell it from a wrong key
    assert "cannot tell a wrong key from a damaged or altered file" in run.stderr
    assert not output.exists() and not list(tmp_path.glob("*.part"))


def test_a_rewrap_says_the_content_key_is_unchanged(pki: Pki, packer: Packer, tmp_path: Path) -> None:
    package = packer("bidder-a").output
    common = ["--key", pki.p12("bidder-a/enc"), "--to", pki.cert("bidder-a/enc-replaced")]
    run = run_cli("reencrypt", package, "-o", tmp_path / "new.bid", *common, env={"BIDCRYPT_PIN": pki.pin})
    assert run.exit_code == 0, run.stderr
    assert "content key is unchanged" in run.stdout and "--fresh-key" in run.stdout
