"""The bidder's client against small servers of the test's own: refusals, redirects, broken answers,
and the hall page's embedded data, which no string can make close its element."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidcrypt.errors import InputError, RemoteRefusedError, RemoteUnreachableError
from bidcrypt.remote import RemoteSession
from bidcrypt.remote.hall import embedded_json

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/s/abc/status": (200, {"Content-Type": "application/json"}, b'{"window": {"state": "running"}}'),
    "/s/refuse/status": (
        409,
        {"Content-Type": "application/json"},
        json.dumps({"code": "window-closed", "message": "closed", "message_zh": "已关闭"}).encode(),
    ),
    "/s/moved/status": (302, {"Location": "http://example.invalid/s/abc/status"}, b""),
    "/s/broken/status": (200, {"Content-Type": "application/json"}, b"<html>not json</html>"),
    "/s/list/status": (200, {"Content-Type": "application/json"}, b"[1, 2]"),
    "/s/opaque/status": (502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>"),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, headers, body = ANSWERS.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_status(server: str) -> None:
    assert RemoteSession(f"{server}/s/abc/").status() == {"window": {"state": "running"}}
    assert (
        RemoteSession(f"{server}/s/abc/hall").status()["window"]["state"] == "running"
    )  # a page's URL will do
    assert RemoteSession(f"{server}/s/abc").session_id == "abc"


def test_a_refusal_keeps_the_services_code_and_messages(server: str) -> None:
    with pytest.raises(RemoteRefusedError) as refused:
        RemoteSession(f"{server}/s/refuse/").status()
    assert refused.value.params["remote_code"] == "window-closed"
    assert refused.value.params["http_status"] == 409
    assert refused.value.message("zh").endswith("[window-closed] 已关闭")


@pytest.mark.parametrize(
    ("path", "error"),
    [("moved", RemoteRefusedError), ("broken", RemoteUnreachableError), ("list", RemoteUnreachableError)],
)
def test_redirects_and_broken_answers_are_refused(server: str, path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        RemoteSession(f"{server}/s/{path}/").status()


def test_an_answer_that_is_not_a_refusal(server: str) -> None:
    with pytest.raises(RemoteRefusedError) as refused:
        RemoteSession(f"{server}/s/opaque/").status()
    assert refused.value.params["remote_code"] == "http-502"


def test_nothing_listening_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(RemoteUnreachableError):
        RemoteSession("https://127.0.0.1:1/s/abc/", timeout=5).status()
    for url in ("file:///etc/passwd", "ftp://host/s/abc/", "https:///s/abc/"):
        with pytest.raises(InputError):
            RemoteSession(url)
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    with pytest.raises(InputError):
        RemoteSession("https://127.0.0.1:1/s/abc/", ca=bad_ca)


@given(
    st.recursive(
        st.text() | st.integers() | st.none(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_embedded_data_never_closes_its_element(value: object) -> None:
    text = embedded_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value
