"""uvicorn pinned and checked: `api/http_protocol.py` subclasses uvicorn's private protocol,
so it serves only under the tested uvicorn series with every private name it uses present;
otherwise the server warns and runs on uvicorn's stock protocol."""

from __future__ import annotations

import asyncio
import logging
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from packaging.requirements import Requirement
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from thinkgate.api.http_protocol import (
    TESTED_UVICORN,
    HeadersWithBodyProtocol,
    server_protocol,
    unsupported_uvicorn,
)
from thinkgate.net.short_waits import WaitPoller

TESTED = ".".join(map(str, TESTED_UVICORN))


def test_the_pin_is_the_tested_series_and_the_installed_uvicorn_passes() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [Requirement(line) for line in pyproject["project"]["dependencies"]]
    pin = next(requirement for requirement in pins if requirement.name == "uvicorn")
    assert f"{TESTED}.0" in pin.specifier and f"{TESTED}.99" in pin.specifier
    major, minor = TESTED_UVICORN
    assert f"{major}.{minor + 1}.0" not in pin.specifier
    assert f"{major}.{minor - 1}.99" not in pin.specifier
    assert unsupported_uvicorn() is None  # what runs the tests is the tested series
    assert issubclass(server_protocol(WaitPoller(0.0)), HeadersWithBodyProtocol)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["0.56.0", "1.0.0", "0.54.9", "0.5.55", "dev"])
def test_another_uvicorn_version_is_refused(version: str) -> None:
    assert unsupported_uvicorn(version) is not None
    assert unsupported_uvicorn(f"{TESTED}.7") is None  # any patch release of the series


def test_a_missing_private_attribute_or_hook_is_named() -> None:
    class Cycle:  # as if uvicorn renamed `disconnected`
        def __init__(self, scope: dict[str, Any], transport: Any) -> None:
            self.scope, self.transport, self.client_gone = scope, transport, False

    reason = unsupported_uvicorn(f"{TESTED}.0", HttpToolsProtocol, Cycle)
    assert reason is not None and reason.endswith(
        "lacks what thinkgate's protocol uses: Cycle.disconnected"
    )

    class Protocol(asyncio.Protocol):  # no uvicorn callbacks; of its attributes only `transport`
        def data_received(self, data: bytes) -> None:
            self.transport = None

    reason = unsupported_uvicorn(f"{TESTED}.0", Protocol, RequestResponseCycle)
    assert reason is not None
    assert "Protocol.on_headers_complete()" in reason and "Protocol.connection_lost()" in reason
    assert "Protocol.cycle" in reason and "Protocol.timeout_keep_alive_task" in reason
    assert "Protocol.data_received()" not in reason and "Protocol.transport" not in reason


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def test_an_untested_uvicorn_warns_and_serves_with_the_stock_protocol(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="thinkgate.api.http_protocol"):
        http = server_protocol(WaitPoller(0.0), version="0.99.0")
    assert http == "httptools"
    assert "uvicorn 0.99.0 is not the tested series" in caplog.text
    assert "stock httptools protocol" in caplog.text

    async def serve_once() -> httpx.Response:
        config = uvicorn.Config(_hello, host="127.0.0.1", port=0, http=http, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110  # uvicorn offers a flag, not an event
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            async with httpx.AsyncClient() as client:
                return await client.get(f"http://127.0.0.1:{port}/")
        finally:
            server.should_exit = True
            await task

    reply = asyncio.run(serve_once())
    assert reply.status_code == 200 and reply.json() == {"ok": True}
