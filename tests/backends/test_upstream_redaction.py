"""Upstream failures as a member key sees them: the kind of failure, never the channel's
name nor an upstream's words that quote the operator's key; an admin key sees it all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import PEPPER, Gateway, admin_http
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess


def _config(url: str) -> str:
    return server_config(
        channel(
            "secret-route-a",
            url,
            {
                "locked": "fail401:locked",
                "broken": "fail500:broken",
                "cuts": "cut:cuts",
                "quoting": "fail400quoting:quoting",
            },
            priority=1,
        ),
        channel("secret-route-b", url, {"locked": "fail401:locked-b"}, priority=2),
    )


CHANNELS = ("secret-route-a", "secret-route-b")


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[Gateway]:
    root: Path = tmp_path_factory.mktemp("redaction")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    server = ServerProcess(root / "data", config=config, extra_env={"THINKGATE_KEY_PEPPER": PEPPER})
    try:
        with admin_http(server.base_url) as admin:
            yield Gateway(server.base_url, admin)
    finally:
        server.stop()


def _ask(gateway: Gateway, secret: str, model: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": model, "input": "Say hello.", "stream": stream}
    return httpx.post(
        f"{gateway.base_url}/v1/responses",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=120,
    )


def _hidden(text: str) -> None:
    for secret in (*CHANNELS, "sk-proj", "sk-live", "****", "the stand-in broke"):
        assert secret not in text, f"{secret!r} leaked: {text}"


@pytest.mark.parametrize("model", ["locked", "broken"])
def test_member_sees_the_kind_of_failure_only(gateway: Gateway, model: str) -> None:
    _, member = gateway.key()
    reply = _ask(gateway, member, model)
    assert reply.status_code in (502, 503), reply.text
    error = reply.json()["error"]
    assert error["type"] == "server_error" and "upstream" in error["message"]
    _hidden(reply.text)
    if model == "locked":  # both channels tried: said how many, and the last one's status
        assert "(2)" in error["message"] and "HTTP 401" in error["message"]


def test_admin_sees_channels_and_the_upstream_words(gateway: Gateway) -> None:
    _, admin = gateway.key(role="admin", user_id=None)
    reply = _ask(gateway, admin, "locked")
    message = reply.json()["error"]["message"]
    assert all(channel in message for channel in CHANNELS), message
    assert "Incorrect API key provided: sk-proj-ab12" in message


def test_a_request_error_keeps_its_words_but_not_a_key(gateway: Gateway) -> None:
    _, member = gateway.key()
    reply = _ask(gateway, member, "quoting")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["message"] == "Bad request for key [redacted]"


def test_a_stream_cut_midway_names_no_channel(gateway: Gateway) -> None:
    _, member = gateway.key()
    reply = _ask(gateway, member, "cuts", stream=True)
    assert reply.status_code == 200
    assert "response.failed" in reply.text and "Mid-response" in reply.text
    _hidden(reply.text)
    response_id = reply.text.split('"id":"', 1)[1].split('"', 1)[0]
    stored = httpx.get(
        f"{gateway.base_url}/v1/responses/{response_id}",
        headers={"Authorization": f"Bearer {member}"},
        timeout=60,
    )
    assert stored.json()["error"]["code"] == "server_error", stored.text
    _hidden(stored.text)
