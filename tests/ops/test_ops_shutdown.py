"""SIGTERM with streams in flight: the server drains (new requests 503, /readyz 503), a
stream that ends within the grace period finishes, one that does not is ended cleanly when
the grace is up, and both are in the ledger after the process has exited."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess, start_standin


def _config(url: str) -> str:
    return server_config(
        channel("ticking", url, {"brief": "ticks30:brief", "endless": "slow:endless"}),
        log_format="json",
        shutdown_drain_seconds=2,
    )


@pytest.fixture
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    process = start_standin(tmp_path_factory.mktemp("shutdown-standin"))
    yield process
    process.stop()


class Stream(threading.Thread):
    """A raw streamed /v1/responses request read to its end (or its cut) in a thread."""

    def __init__(self, base_url: str, key: str, model: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.model = base_url, key, model
        self.first = threading.Event()
        self.body = b""
        self.error: str | None = None
        self.ended_at = 0.0

    def run(self) -> None:
        try:
            with httpx.stream(
                "POST",
                f"{self.url}/v1/responses",
                json={
                    "model": self.model,
                    "input": "tick",
                    "stream": True,
                    "max_output_tokens": 1000,
                },
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=120,
            ) as reply:
                for chunk in reply.iter_raw():
                    self.body += chunk
                    self.first.set()
        except httpx.HTTPError as exc:  # a cut connection is a clean end for this test
            self.error = type(exc).__name__
        finally:
            self.ended_at = time.monotonic()
            self.first.set()

    @property
    def response_id(self) -> str:
        marker = b'"id":"resp_'
        start = self.body.index(marker) + len(b'"id":"')
        return self.body[start : self.body.index(b'"', start)].decode()


def test_sigterm_drains_finishes_in_flight_and_flushes_the_ledger(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> None:
    root = tmp_path_factory.mktemp("shutdown")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    server = ServerProcess(
        root / "data", config=config, extra_env={"THINKGATE_SHUTDOWN_GRACE_SECONDS": "6"}
    )
    try:
        with admin_http(server.base_url) as http:
            key_id, secret = Gateway(server.base_url, http).key(budget_usd="1")
        brief = Stream(server.base_url, secret, "brief")  # ~3 s: ends within the grace
        endless = Stream(server.base_url, secret, "endless")  # 60 s: cut at the grace
        brief.start()
        endless.start()
        assert brief.first.wait(30) and endless.first.wait(30)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        refused = httpx.post(
            f"{server.base_url}/v1/responses",
            json={"model": "brief", "input": "late"},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "server_shutting_down"
        assert httpx.get(f"{server.base_url}/readyz").status_code == 503
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
        brief.join(30)
        endless.join(60)
        assert server.process.wait(60) == 0
    finally:
        server.stop()
    assert brief.error is None and b"response.completed" in brief.body
    assert endless.ended_at - signalled < 2 + 6 + 10  # drain + grace + slack on a loaded CI
    assert b"response.completed" not in endless.body
    rows = _ledger(root / "data" / "thinkgate.db", key_id)
    assert set(rows) == {brief.response_id, endless.response_id}, (rows, brief.response_id)
    assert rows[brief.response_id]["status"] == "completed"
    assert rows[endless.response_id]["output_tokens"] > 0  # what was streamed is billed
    log = server.log()
    assert secret not in log


def _ledger(path: Any, key_id: str) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT request_id, status, output_tokens FROM ledger WHERE key_id = ?", (key_id,)
        ).fetchall()
    return {row["request_id"]: dict(row) for row in rows}
