"""Input files: only regular files, refused by name otherwise, never waited on, never read past a limit."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bidcrypt import certs
from bidcrypt.errors import InputError
from bidcrypt.files import CERTIFICATES, CRL, PKCS12, SUMMARY, InputKind, open_input, read_input
from bidcrypt.keys import PinSource, open_key_source
from bidcrypt.package import load_summary_file
from bidcrypt.trust import TrustStore

from .conftest import PathLikeOnly, Pki, run_cli


def _without_blocking(call: Callable[[], Any]) -> BaseException | None:
    """Run *call* in a thread; fail the test if it is still blocked a long while later."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "blocked on a FIFO"
    return caught[0] if caught else None


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "certificate.pem"
    os.mkfifo(path)
    return path


def test_a_fifo_is_refused_by_name_without_waiting_for_a_writer(fifo: Path) -> None:
    error = _without_blocking(lambda: open_input(fifo))
    assert isinstance(error, InputError)
    assert str(fifo) in str(error) and "FIFO" in str(error)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda tmp: tmp, "a directory"),
        (lambda tmp: Path("/dev/zero"), "a character device"),
        (lambda tmp: Path("/dev/null"), "a character device"),
    ],
)
def test_directories_and_devices_are_refused_by_name(
    tmp_path: Path, make: Callable[[Path], Path], what: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=f"{path}: it is {what}, not a regular file"):
        open_input(path)
    with pytest.raises(InputError, match=what):
        read_input(path)


def test_a_socket_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(InputError, match="a socket"):
            open_input(path)


def test_a_symbolic_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_input(tmp_path / "link") == b"data"
    (tmp_path / "to-device").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="character device"):
        read_input(tmp_path / "to-device")


def test_streams_accept_pipes_and_character_devices(tmp_path: Path) -> None:
    with open_input("/dev/zero", streams=True) as stream:
        assert stream.read(4) == b"\0\0\0\0"
    read, write = os.pipe()
    os.write(write, b"piped")
    os.close(write)
    try:
        with open_input(f"/proc/self/fd/{read}", streams=True) as stream:
            assert stream.read() == b"piped"
    finally:
        os.close(read)
    with pytest.raises(InputError, match="a directory"):
        open_input(tmp_path, streams=True)


def test_paths_as_str_and_pathlike(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert read_input(str(tmp_path / "f")) == b"abc"
    with open_input(os.fsencode(tmp_path / "f").decode()) as stream:
        assert stream.read() == b"abc"


def test_a_nul_in_a_name_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        open_input(tmp_path / "a\0b")


@pytest.mark.parametrize("kind", [CERTIFICATES, CRL, SUMMARY, PKCS12])
def test_each_kind_has_a_limit_and_says_so(tmp_path: Path, kind: InputKind) -> None:
    path = tmp_path / "big"
    with path.open("wb") as out:
        out.truncate(kind.max_size + 1)  # sparse: no disk used
    with pytest.raises(InputError) as caught:
        read_input(path, kind)
    assert str(path) in str(caught.value) and "too large for" in str(caught.value)
    assert kind.en in str(caught.value)


def test_the_limit_of_a_kind_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDCRYPT_LANG", "zh_CN.UTF-8")
    path = tmp_path / "big"
    path.write_bytes(b"0" * (SUMMARY.max_size + 1))
    with pytest.raises(InputError, match="大于 1 MiB，作为摘要文件过大"):
        read_input(path, SUMMARY)


def test_every_loader_refuses_a_device_and_a_fifo(pki: Pki, fifo: Path) -> None:
    loaders: list[Callable[[Path], Any]] = [
        certs.load_certificate,
        certs.load_certificates,
        lambda path: TrustStore.load([path]),
        lambda path: TrustStore.load([pki.roots], [path]),
        load_summary_file,
        lambda path: open_key_source(str(path), PinSource.of_value(pki.pin)),
    ]
    for load in loaders:
        for path in (Path("/dev/zero"), fifo):
            error = _without_blocking(lambda load=load, path=path: load(path))  # type: ignore[misc]
            assert isinstance(error, InputError), (load, path, error)
            assert str(path) in str(error)


@pytest.mark.parametrize(
    "args",
    [
        ["envelope", "encrypt", "{plain}", "-o", "{out}", "--recipient", "{bad}"],
        ["envelope", "inspect", "{bad}"],
        ["inspect", "{bad}"],
        ["check", "{bad}", "--current-cert", "{cert}"],
    ],
)
@pytest.mark.parametrize("bad_kind", ["fifo", "zero"])
def test_the_command_line_refuses_a_fifo_or_a_device(
    tmp_path: Path, pki: Pki, fifo: Path, args: list[str], bad_kind: str
) -> None:
    (tmp_path / "plain").write_bytes(b"plain")
    bad = fifo if bad_kind == "fifo" else Path("/dev/zero")
    values = {
        "plain": tmp_path / "plain",
        "out": tmp_path / "out.p7m",
        "bad": bad,
        "cert": pki.cert("bidder-a/enc"),
    }
    argv = [a.format(**values) for a in args]
    result: list[Any] = []
    error = _without_blocking(lambda: result.append(run_cli(*argv)))
    assert error is None
    outcome = result[0]
    assert outcome.exit_code == 3, outcome.output + outcome.stderr
    assert str(bad) in outcome.stderr and "not a regular file" in outcome.stderr
    assert "internal error" not in outcome.stderr
    assert not (tmp_path / "out.p7m").exists()
    assert not list(tmp_path.glob(".*.part"))


def test_public_functions_take_str_and_any_pathlike(pki: Pki, tmp_path: Path) -> None:
    from bidcrypt.doctor import examine
    from bidcrypt.files import atomic_output, check_output

    for kind in (str, PathLikeOnly):
        assert (
            certs.load_certificate(kind(pki.cert("bidder-a/enc")))
            == certs.load_certificates(kind(pki.cert("bidder-a/enc")))[0]
        )
        store = TrustStore.load([kind(pki.roots), kind(pki.intermediates)], [kind(pki.crl)])
        assert store.anchors and store.crls
        with open_key_source(kind(pki.p12("bidder-a/enc")), PinSource.of_value(pki.pin)) as source:
            assert source.entries()
        report = examine(kind(pki.p12("bidder-a/enc")), pin_source=PinSource.of_value(pki.pin))
        assert report.reference == str(pki.p12("bidder-a/enc")) and report.certificates
        output = tmp_path / f"out-{kind.__name__}"
        check_output(kind(output), force=False)
        with atomic_output(kind(output)) as sink:
            sink.write(b"x")
        assert output.read_bytes() == b"x"
