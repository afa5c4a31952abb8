"""Receipts timed by an RFC 3161 timestamp authority on loopback, and every answer that must be refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import http.server
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bidcrypt.clock import TsaClock
from bidcrypt.errors import TimestampError
from bidcrypt.opening import OpeningSession
from bidcrypt.trust import TrustStore

from ..conftest import Pki, require_tool, run_cli
from ..seal.tsa import LocalTsa, Quirks, TsaIdentity, running_tsa, tsa_identity
from .conftest import make_package, new_session

#: The content type of a timestamp request (RFC 3161 §3.4).
TSQ = "application/timestamp-query"


@pytest.fixture(scope="module")
def tsa(pki: Pki) -> Iterator[LocalTsa]:
    """An honest TSA over HTTPS (its TLS CA is the test's own)."""
    with running_tsa(pki.root, tls=True) as authority:
        yield authority


def _pem(certificate: x509.Certificate, path: Path) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _nothing_stored(session: OpeningSession) -> None:
    assert session.submissions() == []
    assert list((session.directory / "submissions").iterdir()) == []


def test_receipt_time_from_the_tsa(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-c")
    receipt = session.submit(package, TsaClock(tsa.url, trust=session.trust_store(), tls=tsa.client_tls()))
    assert receipt.time_source == f"rfc3161:{tsa.url}"
    assert receipt.timestamp_token is not None
    token = cms.ContentInfo.load(receipt.timestamp_token)
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(package.read_bytes()).digest()
    assert info["gen_time"].native == receipt.received_at
    stored = session.ledger.one("SELECT time_source, time_evidence FROM submissions")
    assert stored is not None and bytes(stored["time_evidence"]) == receipt.timestamp_token


def test_a_tsa_asked_from_inside_a_running_event_loop(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    """Tender software may call bidcrypt from its own asyncio loop: the validation must still run."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    clock = TsaClock(tsa.url, trust=session.trust_store(), tls=tsa.client_tls())

    async def submit_in_a_loop() -> str:
        return session.submit(package, clock).time_source

    assert asyncio.run(submit_in_a_loop()) == f"rfc3161:{tsa.url}"


def test_the_async_stamp_is_the_same_check(pki: Pki, tsa: LocalTsa) -> None:
    """``async_stamp`` is the primary API: awaited in the caller's loop, it gives a checked token."""
    store = TrustStore.load([pki.roots, pki.intermediates])
    digest = hashlib.sha256(b"bid").digest()
    stamp = asyncio.run(TsaClock(tsa.url, trust=store, tls=tsa.client_tls()).async_stamp(digest))
    assert stamp.source == f"rfc3161:{tsa.url}" and stamp.evidence is not None
    info = cms.ContentInfo.load(stamp.evidence)["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest


def test_cli_submit_with_an_https_tsa(
    pki: Pki, tmp_path: Path, tsa: LocalTsa, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tsa.tls_ca_pem is not None
    (tmp_path / "tls-ca.pem").write_bytes(tsa.tls_ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "tls-ca.pem"))  # the system CAs, for this test
    new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", tsa.url, "--json")
    assert result.exit_code == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["time_source"] == f"rfc3161:{tsa.url}" and receipt["timestamp_token"]


def test_cli_submit_over_http_with_a_pinned_tsa_certificate(pki: Pki, tmp_path: Path) -> None:
    new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with running_tsa(pki.root) as plain:
        assert plain.url.startswith("http://")
        pin = _pem(plain.certificate, tmp_path / "tsa.pem")
        result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", plain.url, "--tsa-cert", pin)
    assert result.exit_code == 0, result.stderr
    assert f"({'rfc3161:' + plain.url})" in result.stdout


def test_cli_refuses_plain_http_without_a_pin(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with running_tsa(pki.root) as plain:
        result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", plain.url)
        assert plain.answered == []  # refused before asking
    assert result.exit_code == 6
    assert f"the timestamp authority {plain.url} failed: plain http:// needs a pinned TSA certificate" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    _nothing_stored(session)
    usage = run_cli("opening", "submit", tmp_path / "s", package, "--tsa-cert", pki.cert("bidder-a/sign"))
    assert usage.exit_code == 2 and "--tsa-cert needs --tsa" in usage.stderr


@pytest.mark.parametrize(
    ("url", "trust", "message"),
    [
        ("https://tsa.example/", False, "a TSA needs a trust store or a pinned TSA certificate"),
        ("http://tsa.example/", True, "plain http:// needs a pinned TSA certificate"),
        ("ftp://tsa.example/", True, "only http(s) URLs are used"),
        ("file:///etc/passwd", True, "only http(s) URLs are used"),
        ("https:///no-host", True, "only http(s) URLs are used"),
        ("http://[::1", True, "not a URL"),
    ],
)
def test_settings_that_could_not_be_trusted_are_refused(
    pki: Pki, url: str, trust: bool, message: str
) -> None:
    store = TrustStore.load([pki.roots, pki.intermediates]) if trust else None
    with pytest.raises(TimestampError, match=re.escape(message)):
        TsaClock(url, trust=store)


def _bidders_key(pki: Pki) -> TsaIdentity:
    """bidder-a's signing certificate and key: chains to the trusted root, but is no TSA."""
    certificate = x509.load_pem_x509_certificate(pki.cert("bidder-a/sign").read_bytes())
    key = serialization.load_pem_private_key(pki.key("bidder-a/sign").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return TsaIdentity(certificate, key)


#: name: (quirks, certificate variant or "bidder", expected message)
FAULTS: dict[str, tuple[Quirks, str | None, str]] = {
    "bidder-certificate": (Quirks(), "bidder", "is not a timestamping certificate (no extended key usage)"),
    "eku-not-critical": (
        Quirks(),
        "not-critical",
        "extended key usage of the TSA certificate 楚天测试时间戳服务 is not critical",
    ),
    "eku-not-alone": (
        Quirks(),
        "with-server-auth",
        "its extended key usage must be id-kp-timeStamping alone",
    ),
    "eku-absent": (Quirks(), "absent", "is not a timestamping certificate (no extended key usage)"),
    "tsa-expired": (
        Quirks(),
        "expired",
        "the TSA certificate 楚天测试时间戳服务 expired on 2025-06-01 00:00:00Z",
    ),
    "no-ess": (Quirks(ess="none"), None, "the token has no ESS signing-certificate attribute"),
    "wrong-ess": (
        Quirks(ess="other-certificate"),
        None,
        "ESS signing-certificate attribute does not name the certificate",
    ),
    "other-imprint": (Quirks(imprint=bytes(32)), None, "the token timestamps other data than ours"),
    "other-nonce": (Quirks(nonce="other"), None, "the token's nonce is not ours"),
    "no-nonce": (Quirks(nonce="none"), None, "the token's nonce is not ours"),
    "refused": (
        Quirks(status="rejection"),
        None,
        "the request was refused (rejection) refused by the test TSA[31m bad_alg",  # ESC dropped
    ),
    "waiting": (Quirks(status="waiting"), None, "the request was refused (waiting)"),
    "garbage": (Quirks(body=b"<html>busy</html>"), None, "the answer is malformed"),
    "truncated": (Quirks(body=bytes.fromhex("3003020100")), None, "the answer is malformed"),
    "too-large": (Quirks(body=b"\x30" * ((1 << 20) + 1)), None, "answer too large"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_tsa_answer_is_refused_and_nothing_is_stored(pki: Pki, tmp_path: Path, fault: str) -> None:
    quirks, variant, message = FAULTS[fault]
    if variant == "bidder":
        identity = _bidders_key(pki)
    elif variant == "expired":
        expired = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        identity = tsa_identity(
            pki.root, not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), not_after=expired
        )
    elif variant is not None:
        identity = tsa_identity(pki.root, eku=variant)  # type: ignore[arg-type]
    else:
        identity = None
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with running_tsa(pki.root, identity=identity, quirks=quirks, tls=True) as faulty:
        clock = TsaClock(faulty.url, trust=session.trust_store(), tls=faulty.client_tls())
        with pytest.raises(TimestampError, match=re.escape(message)) as raised:
            session.submit(package, clock)
        assert len(faulty.answered) == 1
    assert faulty.url in str(raised.value)
    _nothing_stored(session)


def test_a_token_from_another_certificate_than_the_pinned_one_is_refused(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    pinned = x509.load_pem_x509_certificate(pki.cert("authority/enc").read_bytes())
    with (
        running_tsa(pki.root) as plain,
        pytest.raises(TimestampError, match="not by the pinned TSA certificate"),
    ):
        session.submit(package, TsaClock(plain.url, trust=session.trust_store(), certificate=pinned))
    _nothing_stored(session)


def test_a_pin_alone_is_enough_and_is_the_only_anchor(pki: Pki, tmp_path: Path) -> None:
    """No trust store: the pinned certificate vouches (it need not chain anywhere)."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with running_tsa(pki.root) as plain:
        receipt = session.submit(package, TsaClock(plain.url, certificate=plain.certificate))
    assert receipt.time_source == f"rfc3161:{plain.url}"


def test_an_expired_pinned_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    identity = tsa_identity(
        pki.root,
        not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
    )
    with (
        running_tsa(pki.root, identity=identity) as plain,
        pytest.raises(TimestampError, match="the TSA certificate 楚天测试时间戳服务 expired on 2025-06-01"),
    ):
        session.submit(package, TsaClock(plain.url, certificate=plain.certificate))
    _nothing_stored(session)


def test_openssl_as_the_tsa(pki: Pki, tmp_path: Path) -> None:
    """Interop: tokens made by ``openssl ts -reply`` (ESSCertIDv2, RFC 5816) pass every check."""
    openssl = require_tool("openssl")
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with running_tsa(pki.root, openssl=openssl, tls=True) as peer:
        clock = TsaClock(peer.url, trust=session.trust_store(), tls=peer.client_tls())
        receipt = session.submit(package, clock)
    assert receipt.timestamp_token is not None
    signed_data = cms.ContentInfo.load(receipt.timestamp_token)["content"]
    (signer_info,) = signed_data["signer_infos"]
    assert "signing_certificate_v2" in [a["type"].native for a in signer_info["signed_attrs"]]


def test_untrusted_or_unreachable_tsa(pki: Pki, tmp_path: Path, tsa: LocalTsa) -> None:
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    untrusting = TrustStore.load([pki.root / "trust" / "untrusted-root.pem"])
    with pytest.raises(
        TimestampError,
        match=re.escape("the TSA certificate 楚天测试时间戳服务 is not trusted (no chain to a trusted CA)"),
    ):
        session.submit(package, TsaClock(tsa.url, trust=untrusting, tls=tsa.client_tls()))
    result = run_cli("opening", "submit", tmp_path / "s", package, "--tsa", "https://127.0.0.1:9/tsa")
    assert result.exit_code == 6
    assert "the timestamp authority https://127.0.0.1:9/tsa failed" in result.stderr
    # The TLS certificate of the TSA must verify: without its CA, the handshake fails cleanly.
    with pytest.raises(TimestampError, match="CERTIFICATE_VERIFY_FAILED"):
        session.submit(package, TsaClock(tsa.url, trust=session.trust_store()))
    _nothing_stored(session)


@contextmanager
def _relay(answer: Callable[[bytes], tuple[int, dict[str, str], bytes]]) -> Iterator[str]:
    """An HTTP server on loopback answering each POST body with *answer* (status, headers, body): its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, headers, body = answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_redirect_is_refused(pki: Pki, tmp_path: Path) -> None:
    """The TSA answers where it was asked: a redirect, even to the very same TSA, is refused."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with (
        running_tsa(pki.root) as plain,
        _relay(lambda body: (307, {"Location": plain.url}, b"")) as redirecting,
        pytest.raises(TimestampError, match=re.escape("redirected (HTTP 307): refused")),
    ):
        session.submit(package, TsaClock(redirecting, certificate=plain.certificate))
    assert plain.answered == []
    _nothing_stored(session)


def test_bytes_after_the_answer_are_refused(pki: Pki, tmp_path: Path) -> None:
    """The answer is checked as received: a good answer followed by anything is malformed."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    reply = {"Content-Type": "application/timestamp-reply"}

    def forward(body: bytes, extra: bytes) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(plain.url, data=body, headers={"Content-Type": TSQ})  # noqa: S310
        with urllib.request.urlopen(request) as answer:  # noqa: S310 - the test's own loopback TSA
            return 200, reply, answer.read() + extra

    with running_tsa(pki.root) as plain:
        with _relay(lambda body: forward(body, b"")) as honest:
            receipt = session.submit(package, TsaClock(honest, certificate=plain.certificate))
        assert receipt.time_source == f"rfc3161:{honest}"
        with (
            _relay(lambda body: forward(body, b"\0")) as padded,
            pytest.raises(TimestampError, match="the answer is malformed"),
        ):
            session.submit(package, TsaClock(padded, certificate=plain.certificate))


def test_an_answer_of_another_content_type_is_refused(pki: Pki, tmp_path: Path) -> None:
    """pyHanko's client wants application/timestamp-reply (RFC 3161 §3.4), as it does for seals."""
    session = new_session(pki, tmp_path / "s")
    package = make_package(pki, tmp_path, "bidder-a")
    with (
        running_tsa(pki.root) as plain,
        _relay(lambda body: (200, {"Content-Type": "text/html"}, b"<html>busy</html>")) as html,
        pytest.raises(TimestampError, match="application/timestamp-reply"),
    ):
        session.submit(package, TsaClock(html, certificate=plain.certificate))
    _nothing_stored(session)
