"""Operations: /metrics, request ids, the JSON access log, /healthz and /readyz, against a
server with JSON logs and upstream channels to the misbehaving stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.metrics import metrics, value
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess


def _config(url: str) -> str:
    return server_config(
        channel("good", url, {"gpt-5.1-up": "ok:ops"}),
        channel(
            "brittle", url, {"broken": "fail500:ops"}, breaker_failures=1, breaker_cooldown=600
        ),
        log_format="json",
    )


@pytest.fixture(scope="module")
def ops(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("ops")
    config = root / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gateway(ops: ServerProcess) -> Iterator[Gateway]:
    with admin_http(ops.base_url) as http:
        yield Gateway(ops.base_url, http)


def test_request_id_is_propagated_or_made(ops: ServerProcess) -> None:
    given = httpx.get(f"{ops.base_url}/healthz", headers={"X-Request-Id": "trace-abc.123"})
    assert given.headers["x-request-id"] == "trace-abc.123"
    made = httpx.get(f"{ops.base_url}/healthz")
    assert made.headers["x-request-id"].startswith("req_")
    hostile = httpx.get(f"{ops.base_url}/healthz", headers={"X-Request-Id": "x" * 500})
    assert hostile.headers["x-request-id"].startswith("req_")
    error = httpx.get(f"{ops.base_url}/v1/models")  # an error reply carries it too
    assert error.status_code == 401 and error.headers["x-request-id"].startswith("req_")


def test_healthz_and_readyz_need_no_key_and_stay_out_of_the_schema(ops: ServerProcess) -> None:
    assert httpx.get(f"{ops.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{ops.base_url}/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {name for name, check in checks.items() if check["ok"]} >= {
        "database",
        "migrations",
        "engine",
        "shutdown",
    }
    assert "redis" not in checks  # not configured here
    paths = httpx.get(f"{ops.base_url}/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_metrics_is_for_admins(ops: ServerProcess, gateway: Gateway) -> None:
    assert httpx.get(f"{ops.base_url}/metrics").status_code == 401
    _, member = gateway.key()
    refused = httpx.get(f"{ops.base_url}/metrics", headers={"Authorization": f"Bearer {member}"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_permissions"


def test_metrics_count_requests_tokens_cost_and_latency(
    ops: ServerProcess, gateway: Gateway
) -> None:
    before = metrics(ops.base_url)
    key_id, secret = gateway.key()
    sdk = gateway.sdk(secret)
    reply = sdk.responses.create(model="gpt-5.1-up", input="hello")
    with sdk.responses.stream(model="gpt-5.1-up", input="hello") as stream:
        for _ in stream:
            pass
    gateway.ledger(key_id, wait_for=2)
    after = metrics(ops.base_url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    served = {"route": "/v1/responses", "method": "POST", "status": "200", "model": "gpt-5.1-up"}
    assert grew("thinkgate_http_requests_total", **served) == 2
    usage = reply.usage
    assert usage is not None and usage.input_tokens == 42  # the stand-in's usage
    assert grew("thinkgate_tokens_total", model="gpt-5.1-up", kind="input") == 84
    assert grew("thinkgate_tokens_total", model="gpt-5.1-up", kind="cached") == 64
    assert grew("thinkgate_tokens_total", model="gpt-5.1-up", kind="output") == 18
    assert grew("thinkgate_tokens_total", model="gpt-5.1-up", kind="reasoning") == 6
    # $1.00 / $0.10 / $8.00 per 1M: (10 x 1 + 32 x 0.1 + 9 x 8) / 1e6 per request
    assert grew("thinkgate_cost_usd_total", model="gpt-5.1-up") == pytest.approx(2 * 85.2e-6)
    settled = [
        after[k] - before.get(k, 0.0)
        for k in after
        if k[0] == "thinkgate_generations_total"
        and dict(k[1]).get("model") == "gpt-5.1-up"
        and dict(k[1]).get("status") == "completed"
    ]
    assert sum(settled) == 2
    assert grew("thinkgate_http_request_duration_seconds_count", route="/v1/responses") >= 2
    assert grew("thinkgate_http_time_to_first_byte_seconds_count", route="/v1/responses") >= 2
    for queue in ("local_engine", "background_jobs", "ledger"):
        assert ("thinkgate_queue_depth", (("queue", queue),)) in after
    assert value(after, "thinkgate_prompt_cache_lookups", result="miss") >= 0
    assert value(after, "process_resident_memory_bytes") > 10 * 1024 * 1024


def test_metrics_show_an_open_circuit(ops: ServerProcess, gateway: Gateway) -> None:
    _, secret = gateway.key()
    failed = httpx.post(
        f"{ops.base_url}/v1/responses",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "broken", "input": "hi"},
        timeout=60,
    )
    assert failed.status_code == 502, failed.text
    samples = metrics(ops.base_url)
    assert value(samples, "thinkgate_channel_breaker_state", channel="brittle", state="open") == 1
    assert value(samples, "thinkgate_channel_breaker_state", channel="good", state="closed") == 1


def test_one_json_access_line_per_request_without_the_key(
    ops: ServerProcess, gateway: Gateway
) -> None:
    key_id, secret = gateway.key()
    gateway.sdk(secret).with_options(
        default_headers={"X-Request-Id": "trace-json-1"}
    ).responses.create(model="gpt-5.1-up", input="hello")
    # the access line is written once the reply's last byte is out: the client may be first
    deadline = time.monotonic() + 10
    while True:
        lines = _log_lines(ops.log_path)
        access = [line for line in lines if line.get("request_id") == "trace-json-1"]
        if any(line["logger"] == "thinkgate.access" for line in access):
            break
        assert time.monotonic() < deadline, "no access line"
        time.sleep(0.05)
    time.sleep(0.2)  # a second line, were one written, would be in by now
    access = [line for line in _log_lines(ops.log_path) if line.get("request_id") == "trace-json-1"]
    assert len([line for line in access if line["logger"] == "thinkgate.access"]) == 1
    entry = next(line for line in access if line["logger"] == "thinkgate.access")
    assert entry["method"] == "POST" and entry["path"] == "/v1/responses"
    assert entry["status"] == 200 and entry["model"] == "gpt-5.1-up"
    assert entry["key_id"] == key_id and entry["latency_ms"] > 0
    assert secret not in ops.log_path.read_text()


def _log_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the server's log is one JSON object (the start-up key banner aside)."""
    parsed = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            parsed.append(json.loads(raw))
    assert parsed
    return parsed
