"""The generation routes' lean path (api/hot_routes.py) answers exactly as FastAPI would:
the same errors and headers, and what it does not handle itself still reaches FastAPI."""

from __future__ import annotations

import httpx

from tests.server import ServerProcess

CHAT = {"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]}


def test_a_repeated_query_parameter_still_reaches_the_app_check(http: httpx.Client) -> None:
    """A query string goes through FastAPI, whose app-wide check refuses a repeat."""
    reply = http.post("/v1/chat/completions?tag=a&tag=b", json=CHAT)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "tag"


def test_no_key_on_the_lean_path_is_openai_s_401(server: ServerProcess) -> None:
    for path in ("/v1/chat/completions", "/v1/responses"):
        reply = httpx.post(f"{server.base_url}{path}", json=CHAT)
        assert reply.status_code == 401
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] is None
        assert "x-request-id" in reply.headers  # the outer middleware still ran


def test_bad_json_on_the_lean_path_is_a_400(http: httpx.Client) -> None:
    reply = http.post(
        "/v1/responses", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid_json"


def test_other_methods_still_get_fastapi_s_answer(http: httpx.Client) -> None:
    reply = http.get("/v1/chat/completions")
    assert reply.status_code == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
