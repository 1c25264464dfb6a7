"""Request limits: header bytes (431), JSON nesting depth, input items and tools (400),
each refused in OpenAI's error shape before any work is done. Body bytes (413) and
metadata are covered in test_bad_inputs.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import ServerProcess


def _error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return error


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_headers_over_the_limit_are_431(http: httpx.Client) -> None:
    reply = http.get("/v1/models", headers={"X-Padding": "a" * 40_000})
    error = _error(reply, 431)
    assert error["code"] == "request_headers_too_large"


def test_headers_under_the_limit_pass(http: httpx.Client) -> None:
    assert http.get("/v1/models", headers={"X-Padding": "a" * 16_000}).status_code == 200


def test_many_headers_count_together(http: httpx.Client) -> None:
    headers = {f"X-Pad-{i}": "b" * 1_000 for i in range(40)}
    _error(http.get("/v1/models", headers=headers), 431)


def test_deep_json_is_refused(http: httpx.Client) -> None:
    payload = {"model": "gpt-5.1", "input": "hi", "metadata": {"k": "v"}, "prompt": _nested(100)}
    error = _error(http.post("/v1/responses", json=payload), 400)
    assert error["code"] == "nesting_too_deep"


def test_json_deeper_than_the_parser_allows_is_invalid_json(http: httpx.Client) -> None:
    raw = '{"model": "gpt-5.1", "input": ' + "[" * 5_000 + "]" * 5_000 + "}"
    reply = http.post(
        "/v1/responses", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert _error(reply, 400)["code"] in {"invalid_json", "nesting_too_deep"}


def test_moderate_depth_is_not_a_depth_error(http: httpx.Client) -> None:
    """Sixty levels inside a tool's JSON schema are legal; the request fails (if at all)
    for another reason."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(25):
        schema = {"type": "object", "properties": {"x": schema}}
    payload = {
        "model": "gpt-5.1",
        "input": "hi",
        "tools": [{"type": "function", "name": "f", "parameters": schema}],
    }
    reply = http.post("/v1/responses/input_tokens", json=payload)
    assert reply.status_code == 200 or reply.json()["error"]["code"] != "nesting_too_deep"


def test_many_brackets_but_shallow_is_fine(http: httpx.Client) -> None:
    items = [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}] * 50
    reply = http.post("/v1/responses/input_tokens", json={"model": "gpt-5.1", "input": items})
    assert reply.status_code == 200, reply.text


def test_too_many_tools(http: httpx.Client) -> None:
    tools = [{"type": "function", "name": f"f{i}", "parameters": {}} for i in range(129)]
    reply = http.post("/v1/responses", json={"model": "gpt-5.1", "input": "hi", "tools": tools})
    error = _error(reply, 400)
    assert (error["param"], error["code"]) == ("tools", "array_above_max_length")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/responses", "input"), ("/v1/chat/completions", "messages")],
)
def test_too_many_input_items(http: httpx.Client, path: str, field: str) -> None:
    items = [{"role": "user", "content": "x"}] * 2049
    reply = http.post(path, json={"model": "gpt-5.1", field: items})
    error = _error(reply, 400)
    assert (error["param"], error["code"]) == (field, "array_above_max_length")


def test_chat_tools_are_limited_too(http: httpx.Client) -> None:
    tools = [
        {"type": "function", "function": {"name": f"f{i}", "parameters": {}}} for i in range(129)
    ]
    payload = {"model": "gpt-5.1", "messages": [{"role": "user", "content": "x"}], "tools": tools}
    error = _error(http.post("/v1/chat/completions", json=payload), 400)
    assert error["param"] == "tools"


def test_header_limit_is_configurable(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    config = data_dir.parent / "thinkgate.toml"
    config.write_text("[security]\nmax_header_bytes = 2048\n")
    server = ServerProcess(data_dir, config=config)
    try:
        reply = httpx.get(f"{server.base_url}/health", headers={"X-Padding": "a" * 3_000})
        assert _error(reply, 431)["code"] == "request_headers_too_large"
        assert httpx.get(f"{server.base_url}/health").status_code == 200
    finally:
        server.stop()
