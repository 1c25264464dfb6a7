"""The SSRF guard (thinkgate.net): private targets refused however they are spelled, the
fetcher bounded and re-checked at every redirect, and URLs in requests refused before
anything runs (allowed when configured)."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

from tests.support.server import ServerProcess
from thinkgate.errors import InvalidRequestError
from thinkgate.net import FetchLimits, UrlPolicy, check_url, fetch, is_forbidden_address

REFUSED_URLS = [
    "http://localhost/",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.0.1:8080/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "ftp://example.com/file.txt",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http:///no-host",
    "http://example.com:99999/",
    "http://nonexistent.invalid/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_refused_by_default(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        anyio.run(lambda: check_url(url, UrlPolicy(), param="input[0].content[0].image_url"))
    assert caught.value.code == "invalid_url"
    assert caught.value.param == "input[0].content[0].image_url"


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/", "https://1.1.1.1:8443/a?b=c", "http://[2606:4700::1111]/"]
)
def test_public_addresses_pass(url: str) -> None:
    checked = anyio.run(lambda: check_url(url, UrlPolicy(), param="x"))
    assert checked.addresses


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("127.0.0.1", True),
        ("::ffff:8.8.8.8", False),
        ("::ffff:10.0.0.1", True),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo of 10.0.0.1
    ],
)
def test_address_table(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_configuration_allows_private_targets() -> None:
    anyio.run(lambda: check_url("http://127.0.0.1/", UrlPolicy(allow_private=True), param="x"))
    policy = UrlPolicy.from_config(False, ["10.0.0.0/8"])
    anyio.run(lambda: check_url("http://10.2.3.4/", policy, param="x"))
    with pytest.raises(InvalidRequestError):
        anyio.run(lambda: check_url("http://192.168.1.1/", policy, param="x"))


# --- the fetcher, against a local HTTP server ----------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/text":
            self._send(200, b"hello from a file")
        elif self.path == "/big":
            self._send(200, b"x" * 5_000)
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, b"late")
        elif self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/") :])
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def local_site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


LOOPBACK = UrlPolicy.from_config(False, ["127.0.0.0/8"])


def _fetch(url: str, policy: UrlPolicy, limits: FetchLimits | None = None) -> bytes:
    async def go() -> bytes:
        return (await fetch(url, policy, limits or FetchLimits(), param="file_url")).body

    return anyio.run(go)


def _refusal(url: str, policy: UrlPolicy, limits: FetchLimits | None = None) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        _fetch(url, policy, limits)
    assert (caught.value.param, caught.value.code) == ("file_url", "invalid_url")
    return caught.value.message


def test_loopback_is_refused_by_default(local_site: str) -> None:
    assert "non-public" in _refusal(f"{local_site}/text", UrlPolicy())


def test_loopback_is_fetched_when_allowed(local_site: str) -> None:
    assert _fetch(f"{local_site}/text", LOOPBACK) == b"hello from a file"
    assert _fetch(f"{local_site}/text", UrlPolicy(allow_private=True)) == b"hello from a file"


def test_redirects_are_followed_and_rechecked(local_site: str) -> None:
    assert _fetch(f"{local_site}/to/{local_site}/text", LOOPBACK) == b"hello from a file"
    # 127.0.0.0/8 is allowed, ::1 and 10/8 are not: the redirect target is judged anew.
    assert "non-public" in _refusal(f"{local_site}/to/http://10.0.0.1/x", LOOPBACK)


def test_size_time_and_redirect_limits(local_site: str) -> None:
    assert "larger than 1000 bytes" in _refusal(
        f"{local_site}/big", LOOPBACK, FetchLimits(max_bytes=1_000)
    )
    assert "longer than" in _refusal(f"{local_site}/slow", LOOPBACK, FetchLimits(timeout=0.5))
    assert "redirects" in _refusal(f"{local_site}/loop", LOOPBACK, FetchLimits(max_redirects=2))
    assert "answered 404" in _refusal(f"{local_site}/missing", LOOPBACK)


# --- URLs in requests ----------------------------------------------------------------------


def _image_input(url: str) -> list[dict[str, object]]:
    content = [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": url},
    ]
    return [{"role": "user", "content": content}]


def test_responses_refuse_private_image_urls(http: httpx.Client, local_site: str) -> None:
    payload = {"model": "gpt-5.1", "input": _image_input(f"{local_site}/text")}
    reply = http.post("/v1/responses", json=payload)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["param"], error["code"]) == ("input[0].content[1].image_url", "invalid_url")


def test_chat_refuses_metadata_service_urls(http: httpx.Client) -> None:
    parts = [{"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest"}}]
    payload = {"model": "gpt-5.1", "messages": [{"role": "user", "content": parts}]}
    reply = http.post("/v1/chat/completions", json=payload)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "invalid_url"


def test_conversation_items_refuse_private_file_urls(http: httpx.Client) -> None:
    part = {"type": "input_file", "file_url": "http://[::1]:8080/secret.txt"}
    items = [{"type": "message", "role": "user", "content": [part]}]
    reply = http.post("/v1/conversations", json={"items": items})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "items[0].content[0].file_url"


def test_data_urls_are_not_fetched_and_pass_the_guard(http: httpx.Client) -> None:
    payload = {"model": "gpt-5.1", "input": _image_input("data:image/png;base64,iVBORw0KGgo=")}
    reply = http.post("/v1/responses", json=payload)
    assert reply.status_code == 400  # the embedded model reads text only…
    assert reply.json()["error"]["code"] != "invalid_url"  # …but the URL was not the problem


def test_private_urls_pass_when_configured(
    tmp_path_factory: pytest.TempPathFactory, local_site: str
) -> None:
    data_dir = tmp_path_factory.mktemp("ssrf") / "data"
    config = data_dir.parent / "thinkgate.toml"
    config.write_text('[security]\nallowed_networks = ["127.0.0.0/8"]\n')
    server = ServerProcess(data_dir, config=config)
    try:
        reply = httpx.post(
            f"{server.base_url}/v1/responses",
            json={"model": "gpt-5.1", "input": _image_input(f"{local_site}/text")},
            headers={"Authorization": "Bearer sk-test-admin-0123456789abcdef"},
            timeout=60,
        )
        assert reply.json()["error"]["code"] != "invalid_url", reply.text
    finally:
        server.stop()
