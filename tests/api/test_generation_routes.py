"""The two generation routes are plain Starlette routes with one code path
(`api/generation.py`): every request to them, odd ones included, gets the OpenAI-style
answer it got when FastAPI served them — the key, the app-wide query check, the body
limits, the method check, the access log, the metrics — and `/openapi.json` documents
them as before."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import ADMIN_KEY, ServerProcess
from thinkgate.app import create_app
from thinkgate.config import Settings

KEY = {"Authorization": f"Bearer {ADMIN_KEY}"}
JSON = {"content-type": "application/json"}
ROUTES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]},
    "/v1/responses": {"model": "gpt-5.1", "input": "hi"},
}
NO_MODEL = {path: {**body, "model": "no-such-model"} for path, body in ROUTES.items()}
LIMIT = 16 * 1024 * 1024  # Settings.max_body_bytes


def _error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert "x-request-id" in reply.headers  # the outer middleware ran
    error: dict[str, Any] = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.fixture(scope="module")
def raw(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=120) as client:
        yield client


KEYED = {**KEY, **JSON}
MODEL = (404, "model", "model_not_found")  # the body was read: the unknown model is its answer
NOT_ALLOWED = (405, None, "method_not_allowed")
FORM = {**KEY, "content-type": "application/x-www-form-urlencoded"}
# method, query, body (None: the route's own, with an unknown model), headers, answer
ODD = [
    pytest.param("POST", "", None, JSON, (401, None, None), id="no key"),
    pytest.param("POST", "", b"{not json", KEYED, (400, None, "invalid_json"), id="bad json"),
    pytest.param("POST", "", b"", KEYED, (400, None, "invalid_json"), id="empty body"),
    pytest.param("POST", "", b"[]", KEYED, (400, None, "invalid_type"), id="array body"),
    pytest.param("POST", "", b"a=1", FORM, (400, None, "invalid_json"), id="form body"),
    pytest.param("POST", "?tag=a&tag=b", None, KEYED, (400, "tag", "invalid_value"), id="repeat"),
    pytest.param("POST", "?tag=a&tag=b", None, JSON, (401, None, None), id="repeat, no key"),
    pytest.param("POST", "", None, {**KEY, "content-type": "text/plain"}, MODEL, id="text/plain"),
    pytest.param("POST", "", None, KEY, MODEL, id="no content type"),
    pytest.param("POST", "?x=1", None, KEYED, MODEL, id="query"),
    pytest.param("POST", "?include=a&include=b", None, KEYED, MODEL, id="repeated list query"),
    pytest.param("GET", "", b"", KEY, NOT_ALLOWED, id="GET"),
    pytest.param("PUT", "", None, KEYED, NOT_ALLOWED, id="PUT"),
    pytest.param("OPTIONS", "", b"", KEY, NOT_ALLOWED, id="OPTIONS"),
    pytest.param("DELETE", "", b"", {}, NOT_ALLOWED, id="DELETE, no key"),
]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(("method", "query", "body", "headers", "answer"), ODD)
def test_odd_requests_get_openai_s_answers(
    raw: httpx.Client,
    path: str,
    method: str,
    query: str,
    body: bytes | None,
    headers: dict[str, str],
    answer: tuple[int, str | None, str | None],
) -> None:
    content = json.dumps(NO_MODEL[path]).encode() if body is None else body
    reply = raw.request(method, f"{path}{query}", content=content, headers=headers)
    error = _error(reply, answer[0])
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == answer[1:]


@pytest.mark.parametrize("path", ROUTES)
def test_head_trailing_slash_bad_key_and_huge_bodies(raw: httpx.Client, path: str) -> None:
    head = raw.head(path, headers=KEY)
    assert head.status_code == 405 and head.content == b"" and "x-request-id" in head.headers
    slash = raw.post(f"{path}/", json=NO_MODEL[path], headers=KEY)  # Starlette's redirect
    assert slash.status_code == 307 and slash.headers["location"].endswith(path)
    wrong = raw.post(path, json=ROUTES[path], headers={"Authorization": "Bearer sk-wrong"})
    assert _error(wrong, 401)["code"] == "invalid_api_key"
    declared = raw.post(path, content=b"x" * (LIMIT + 1), headers={**KEY, **JSON})
    assert _error(declared, 413)["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(17):
            yield b"x" * (1024 * 1024)

    streamed = raw.post(path, content=chunks(), headers={**KEY, **JSON})
    assert _error(streamed, 413)["code"] == "request_too_large"


def test_a_generation_with_a_query_and_a_plain_text_body_is_served(raw: httpx.Client) -> None:
    body = {
        **ROUTES["/v1/chat/completions"],
        "max_completion_tokens": 4,
        "reasoning_effort": "none",
    }
    reply = raw.post(
        "/v1/chat/completions?note=1",
        content=json.dumps(body),
        headers={**KEY, "content-type": "text/plain"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["object"] == "chat.completion"


def test_a_streamed_response_its_access_log_and_metrics(
    raw: httpx.Client, server: ServerProcess
) -> None:
    body = {**ROUTES["/v1/responses"], "max_output_tokens": 16, "reasoning": {"effort": "none"}}
    body["stream"] = True
    with server.stream("/v1/responses", body) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in reply.iter_lines() if line.startswith("data: ")]
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] in {"response.completed", "response.incomplete"}  # 16 tokens
    for _ in range(100):  # metrics and the access log are written once the stream has ended
        metrics = raw.get("/metrics", headers=KEY).text
        log = server.log_path.read_text().splitlines()
        served = [line for line in log if "POST /v1/responses 200" in line]
        if served and 'route="/v1/responses",status="200"' in metrics:
            break
        time.sleep(0.05)
    assert 'route="/v1/responses",status="200"' in metrics
    assert 'method="GET",model="",route="/v1/chat/completions",status="405"' in metrics
    assert 'method="POST",model="",route="/v1/chat/completions",status="401"' in metrics
    assert served and "model=gpt-5.1" in served[-1] and "key_id=key_" in served[-1]


def test_the_openapi_document_describes_them_as_before() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    errors = ["400", "401", "403", "404", "413", "429", "431", "500", "503", "502", "504"]
    for path, (name, body, reply) in {
        "/v1/responses": ("create_response", "CreateResponseRequest", "Response"),
        "/v1/chat/completions": (
            "create_chat_completion",
            "ChatCompletionRequest",
            "ChatCompletion",
        ),
    }.items():
        assert list(paths[path]) == ["post"]
        operation = paths[path]["post"]
        assert list(operation) == ["summary", "operationId", "responses", "security", "requestBody"]
        assert operation["summary"] == name.replace("_", " ").title()
        assert operation["operationId"] == f"{name}{path.replace('/', '_')}_post"
        assert operation["security"] == [{"bearer": []}]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{body}"}
        assert list(operation["responses"]) == ["200", *errors]
        ok = operation["responses"]["200"]["content"]
        assert ok["application/json"]["schema"] == {"$ref": f"#/components/schemas/{reply}"}
        assert "text/event-stream" in ok
