"""Bad inputs get OpenAI's error answer: the right status, the four-key error body, the exact
`param` (and `code` where it matters), and the SDK's matching exception class."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.server import ServerProcess, make_client

ANY = object()  # the `code` is not checked
BASE: dict[str, Any] = {"model": "gpt-5.1", "input": "Say hi.", "max_output_tokens": 16}
CONTEXT = 16384  # the embedded model's n_ctx
MIB = 1024 * 1024


def body(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k not in names}


def message(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(parts)}


def words(count: int, word: str = "apple") -> str:
    return " ".join([word] * count)


def assert_error(
    response: httpx.Response, status: int, param: str | None, code: object = ANY
) -> dict[str, Any]:
    """OpenAI's error body: exactly `{"error": {message, type, param, code}}`."""
    assert response.status_code == status, response.text[:500]
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    if code is not ANY:
        assert error["code"] == code, error
    return dict(error)


def post(http: httpx.Client, payload: object, path: str = "/v1/responses") -> httpx.Response:
    if isinstance(payload, bytes):
        return http.post(path, content=payload, headers={"Content-Type": "application/json"})
    return http.post(path, json=payload)


def xfail_bug(reason: str) -> pytest.MarkDecorator:
    """A known server bug: only a failed assertion counts (a crash or a timeout is a failure)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


# (request body, status, param, code)
CREATE_CASES = [
    # --- the body itself -----------------------------------------------------------------
    pytest.param(b'{"model": "gpt-5.1", ', 400, None, "invalid_json", id="malformed-json"),
    pytest.param(b"", 400, None, "invalid_json", id="empty-body"),
    pytest.param([BASE], 400, None, "invalid_type", id="body-is-an-array"),
    pytest.param(b'"hello"', 400, None, "invalid_type", id="body-is-a-string"),
    # --- model -----------------------------------------------------------------------------
    pytest.param(without("model"), 400, "model", "missing_required_parameter", id="no-model"),
    pytest.param(body(model=""), 400, "model", ANY, id="empty-model"),
    pytest.param(body(model=5), 400, "model", "invalid_type", id="model-not-a-string"),
    pytest.param(body(model="gpt-9-ultra"), 404, "model", "model_not_found", id="unknown-model"),
    # --- unknown and mistyped fields -------------------------------------------------------
    pytest.param(body(colour="red"), 400, "colour", "unknown_parameter", id="unknown-field"),
    pytest.param(
        body(stream=True, stream_options={"colour": "red"}),
        400,
        "stream_options.colour",
        "unknown_parameter",
        id="unknown-nested-field",
    ),
    pytest.param(body(temperature="hot"), 400, "temperature", "invalid_type", id="temp-string"),
    pytest.param(body(stream="yes"), 400, "stream", "invalid_type", id="stream-string"),
    pytest.param(
        body(max_output_tokens="64"), 400, "max_output_tokens", "invalid_type", id="max-tokens-str"
    ),
    pytest.param(body(reasoning="low"), 400, "reasoning", "invalid_type", id="reasoning-string"),
    # --- ranges ----------------------------------------------------------------------------
    # (3 is reported as integer_above_max_value although temperature is a decimal: not checked)
    pytest.param(body(temperature=3), 400, "temperature", ANY, id="temperature-3"),
    pytest.param(
        body(temperature=-0.5), 400, "temperature", "decimal_below_min_value", id="temp-negative"
    ),
    pytest.param(body(top_p=1.5), 400, "top_p", "decimal_above_max_value", id="top-p-above-1"),
    pytest.param(
        body(max_output_tokens=15),
        400,
        "max_output_tokens",
        "integer_below_min_value",
        id="max-output-tokens-15",
    ),
    pytest.param(
        body(top_logprobs=21), 400, "top_logprobs", "integer_above_max_value", id="top-logprobs-21"
    ),
    pytest.param(
        body(safety_identifier="x" * 65),
        400,
        "safety_identifier",
        "string_above_max_length",
        id="safety-identifier-65",
    ),
    # --- enums -----------------------------------------------------------------------------
    pytest.param(body(truncation="sometimes"), 400, "truncation", "invalid_value", id="truncation"),
    pytest.param(
        body(text={"verbosity": "loud"}), 400, "text.verbosity", "invalid_value", id="verbosity"
    ),
    pytest.param(body(include=["everything"]), 400, "include[0]", "invalid_value", id="include"),
    pytest.param(
        body(text={"format": {"type": "yaml"}}), 400, "text.format", "invalid_value", id="format"
    ),
    # --- input -----------------------------------------------------------------------------
    pytest.param(without("input"), 400, "input", "missing_required_parameter", id="no-input"),
    pytest.param(body(input=42), 400, "input", "invalid_type", id="input-number"),
    pytest.param(
        body(input=[{"type": "telepathy", "content": "hi"}]),
        400,
        "input[0].type",
        "invalid_value",
        id="item-type",
    ),
    pytest.param(
        body(input=[{"role": "robot", "content": "hi"}]),
        400,
        "input[0].role",
        "invalid_value",
        id="item-role",
    ),
    pytest.param(
        body(input=[message({"type": "input_video", "url": "x"})]),
        400,
        "input[0].content[0].type",
        "invalid_value",
        id="content-part-type",
    ),
    pytest.param(
        body(input=[message({"type": "input_text"})]),
        400,
        "input[0].content[0].text",
        "missing_required_parameter",
        id="input-text-without-text",
    ),
    pytest.param(
        body(input=[message({"type": "input_text", "text": 7})]),
        400,
        "input[0].content[0].text",
        "invalid_type",
        id="input-text-not-a-string",
    ),
    pytest.param(
        body(
            input=[
                {"role": "user", "content": "fine"},
                message({"type": "input_text", "text": "fine"}, {"type": "input_text"}),
            ]
        ),
        400,
        "input[1].content[1].text",
        "missing_required_parameter",
        id="error-names-the-right-index",
    ),
    pytest.param(
        body(input=[{"type": "function_call", "name": "f", "arguments": "{}"}]),
        400,
        "input[0].call_id",
        "missing_required_parameter",
        id="function-call-without-call-id",
    ),
    pytest.param(
        body(input=["hi"]),
        400,
        "input[0]",
        "invalid_type",
        id="input-item-not-an-object",
    ),
    # --- metadata --------------------------------------------------------------------------
    pytest.param(
        body(metadata={f"key{i}": "v" for i in range(17)}),
        400,
        "metadata",
        "object_above_max_length",
        id="metadata-17-keys",
    ),
    pytest.param(
        body(metadata={"note": "v" * 513}),
        400,
        "metadata",
        "invalid_value",
        id="metadata-value-513",
    ),
    pytest.param(
        body(metadata={"k" * 65: "v"}), 400, "metadata", "invalid_value", id="metadata-key-65"
    ),
    pytest.param(body(metadata={"n": 1}), 400, "metadata.n", "invalid_type", id="metadata-int"),
    # --- reasoning and GPT-5.1's parameter rules -------------------------------------------
    pytest.param(
        body(reasoning_effort="low"), 400, None, "unsupported_parameter", id="reasoning-effort"
    ),
    pytest.param(
        body(reasoning={"effort": "minimal"}),
        400,
        "reasoning.effort",
        "unsupported_value",
        id="effort-minimal-on-gpt-5.1",
    ),
    pytest.param(
        body(reasoning={"effort": "xhigh"}),
        400,
        "reasoning.effort",
        "unsupported_value",
        id="effort-xhigh-on-gpt-5.1",
    ),
    pytest.param(
        body(reasoning={"effort": "extreme"}),
        400,
        "reasoning.effort",
        "invalid_value",
        id="effort-unknown",
    ),
    pytest.param(
        body(temperature=0.5, reasoning={"effort": "low"}),
        400,
        "temperature",
        None,
        id="temperature-with-effort-low",
    ),
    pytest.param(
        body(top_p=0.5, reasoning={"effort": "high"}),
        400,
        "top_p",
        None,
        id="top-p-with-effort-high",
    ),
    # --- caching, chaining, streaming ------------------------------------------------------
    pytest.param(
        body(prompt_cache_retention="1h"),
        400,
        "prompt_cache_retention",
        "invalid_value",
        id="cache-retention-1h",
    ),
    pytest.param(
        body(previous_response_id="resp_doesnotexist"),
        404,
        "previous_response_id",
        "previous_response_not_found",
        id="previous-response-unknown",
    ),
    pytest.param(
        body(previous_response_id="@results.ress"),
        400,
        "previous_response_id",
        "invalid_value",
        id="previous-response-bad-chars",
    ),
    pytest.param(
        body(previous_response_id="resp_abc", conversation="conv_abc"),
        400,
        "conversation",
        "mutually_exclusive_parameters",
        id="previous-response-and-conversation",
    ),
    pytest.param(
        body(stream_options={"include_obfuscation": False}),
        400,
        "stream_options",
        "invalid_value",
        id="stream-options-without-stream",
    ),
    pytest.param(
        body(background=True, store=False),
        400,
        "background",
        "invalid_value",
        id="background-without-store",
    ),
    # --- what this server does not do (yet) ------------------------------------------------
    pytest.param(
        body(tools=[{"type": "image_generation"}]),
        400,
        "tools[0].type",
        "unsupported_value",
        id="tool",
    ),
    pytest.param(
        body(tool_choice="required"), 400, "tool_choice", "invalid_value", id="tool-choice"
    ),
    # --- text.format -----------------------------------------------------------------------
    pytest.param(
        body(text={"format": {"type": "json_schema", "schema": {"type": "object"}}}),
        400,
        "text.format.name",
        "missing_required_parameter",
        id="json-schema-without-name",
    ),
    pytest.param(
        body(text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "tuple"}}}),
        400,
        "text.format.schema",
        "invalid_json_schema",
        id="schema-the-grammar-cannot-take",
    ),
    # --- size ------------------------------------------------------------------------------
    pytest.param(
        body(input=words(60_000)),
        400,
        "input",
        "context_length_exceeded",
        id="input-over-context",
    ),
]


@pytest.mark.parametrize(("payload", "status", "param", "code"), CREATE_CASES)
def test_create_rejects_bad_input(
    http: httpx.Client, payload: Any, status: int, param: str | None, code: object
) -> None:
    assert_error(post(http, payload), status, param, code)


def test_there_are_many_distinct_cases() -> None:
    assert len(CREATE_CASES) >= 18
    assert len({case.id for case in CREATE_CASES}) == len(CREATE_CASES)


def test_context_error_names_the_window(http: httpx.Client) -> None:
    error = assert_error(
        post(http, body(input=words(60_000))), 400, "input", "context_length_exceeded"
    )
    assert str(CONTEXT) in error["message"]


# --- body size ---------------------------------------------------------------------------


def test_body_over_the_size_limit_is_413(http: httpx.Client) -> None:
    payload = body(input="a" * (17 * MIB))
    assert_error(post(http, payload), 413, None, "request_too_large")


def test_chunked_body_over_the_size_limit_is_413(http: httpx.Client) -> None:
    """No Content-Length: the limit is counted as the chunks arrive."""

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-5.1", "input": "'
        for _ in range(17):
            yield b"a" * MIB
        yield b'"}'

    response = http.post(
        "/v1/responses", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, None, "request_too_large")


# --- truncation --------------------------------------------------------------------------

# ~120,000 tokens of history: six turns each over the window, then a short recent exchange.
LONG_HISTORY = [{"role": "user", "content": words(20_000, word)} for word in ("apple", "pear") * 3]
LONG_HISTORY += [
    {"role": "user", "content": words(200, "plum")},
    {"role": "user", "content": "Say hello."},
]


def test_long_history_without_truncation_is_refused(http: httpx.Client) -> None:
    payload = body(input=LONG_HISTORY)
    assert_error(post(http, payload), 400, "input", "context_length_exceeded")


def test_truncation_auto_drops_the_oldest_items(http: httpx.Client) -> None:
    payload = body(input=LONG_HISTORY, truncation="auto")
    response = http.post("/v1/responses", json=payload, timeout=600)  # shared CPUs can be slow
    assert response.status_code == 200, response.text[:500]
    result = response.json()
    assert result["status"] in {"completed", "incomplete"}
    assert result["truncation"] == "auto"
    # Only the two newest items fit: the 200-word turn and the question.
    assert 200 < result["usage"]["input_tokens"] < 600


# --- authentication ----------------------------------------------------------------------


def test_missing_api_key_is_401(server: ServerProcess) -> None:
    response = httpx.post(f"{server.base_url}/v1/responses", json=BASE, timeout=30)
    assert_error(response, 401, None)


def test_missing_api_key_has_a_null_code(server: ServerProcess) -> None:
    response = httpx.post(f"{server.base_url}/v1/responses", json=BASE, timeout=30)
    assert_error(response, 401, None, None)


def test_non_bearer_authorization_is_401(server: ServerProcess) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/responses/resp_x",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
        timeout=30,
    )
    assert_error(response, 401, None)


def test_wrong_api_key_is_401_and_masked(server: ServerProcess) -> None:
    key = "sk-wrong-0123456789abcdefghijklmnopqrstuv"
    response = httpx.post(
        f"{server.base_url}/v1/responses",
        json=BASE,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    error = assert_error(response, 401, None, "invalid_api_key")
    assert key not in error["message"]
    assert key[6:-4] not in error["message"]  # not even its middle


# --- the other endpoints ------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_id(http: httpx.Client) -> str:
    response = http.post("/v1/responses", json=BASE, timeout=600)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


# (method, path — "{stored}" is a stored response —, query, status, param)
ENDPOINT_CASES = [
    pytest.param("GET", "/v1/responses/resp_doesnotexist", {}, 404, "response_id", id="get"),
    pytest.param("DELETE", "/v1/responses/resp_doesnotexist", {}, 404, "response_id", id="delete"),
    pytest.param(
        "GET", "/v1/responses/resp_doesnotexist/input_items", {}, 404, "response_id", id="items"
    ),
    pytest.param(
        "POST", "/v1/responses/resp_doesnotexist/cancel", {}, 404, "response_id", id="cancel"
    ),
    pytest.param("GET", "{stored}/input_items", {"limit": 0}, 400, "limit", id="limit-0"),
    pytest.param("GET", "{stored}/input_items", {"limit": 101}, 400, "limit", id="limit-101"),
    pytest.param("GET", "{stored}/input_items", {"limit": "ten"}, 400, "limit", id="limit-text"),
    pytest.param("GET", "{stored}/input_items", {"order": "sideways"}, 400, "order", id="order"),
    pytest.param("GET", "{stored}", {"starting_after": -5}, 400, "starting_after", id="after-5"),
    pytest.param("GET", "{stored}", {"stream": "maybe"}, 400, "stream", id="stream-maybe"),
    pytest.param("POST", "{stored}/cancel", {}, 400, "response_id", id="cancel-foreground"),
    pytest.param("GET", "/v1/no-such-route", {}, 404, None, id="unknown-route"),
    pytest.param("PUT", "/v1/responses", {}, 405, None, id="wrong-method"),
]


@pytest.mark.parametrize(("method", "path", "query", "status", "param"), ENDPOINT_CASES)
def test_endpoints_reject_bad_requests(
    http: httpx.Client,
    stored_id: str,
    method: str,
    path: str,
    query: dict[str, Any],
    status: int,
    param: str | None,
) -> None:
    url = path.replace("{stored}", f"/v1/responses/{stored_id}")
    assert_error(http.request(method, url, params=query), status, param)


# (request body, status, param, code) for POST /v1/responses/input_tokens
TOKEN_COUNT_CASES = [
    pytest.param(b"{", 400, None, "invalid_json", id="malformed-json"),
    pytest.param(
        {"model": "gpt-9-ultra", "input": "x"}, 404, "model", "model_not_found", id="model"
    ),
    pytest.param(
        {"model": "gpt-5.1", "input": "x", "temperature": 0},
        400,
        "temperature",
        "unknown_parameter",
        id="temperature-is-not-a-counting-field",
    ),
    pytest.param(
        {"model": "gpt-5.1", "input": [{"type": "telepathy"}]},
        400,
        "input[0].type",
        "invalid_value",
        id="bad-item",
    ),
]


@pytest.mark.parametrize(("payload", "status", "param", "code"), TOKEN_COUNT_CASES)
def test_input_tokens_rejects_bad_input(
    http: httpx.Client, payload: Any, status: int, param: str | None, code: object
) -> None:
    assert_error(post(http, payload, "/v1/responses/input_tokens"), status, param, code)


# --- the SDK's exception classes ----------------------------------------------------------


def test_sdk_raises_not_found_for_an_unknown_model(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-9-ultra", input="hi")
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found" and caught.value.param == "model"


def test_sdk_raises_bad_request_for_a_bad_value(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5.1", input="hi", reasoning={"effort": "minimal"})
    assert caught.value.param == "reasoning.effort" and caught.value.code == "unsupported_value"
    assert caught.value.type == "invalid_request_error"


def test_sdk_raises_bad_request_for_an_unknown_parameter(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5.1", input="hi", extra_body={"colour": "red"})
    assert caught.value.param == "colour" and caught.value.code == "unknown_parameter"


def test_sdk_raises_authentication_error_for_a_wrong_key(server: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        make_client(server.base_url, api_key="sk-not-a-real-key-000000").responses.create(
            model="gpt-5.1", input="hi"
        )
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_sdk_raises_not_found_for_an_unknown_response(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_doesnotexist")


def test_sdk_raises_bad_request_for_a_bad_page_size(client: OpenAI, stored_id: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.input_items.list(stored_id, limit=0)
    assert caught.value.param == "limit"


# --- accepted spellings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "echoed"), [("in-memory", "in_memory"), ("in_memory", "in_memory"), ("24h", "24h")]
)
def test_prompt_cache_retention_spellings(client: OpenAI, sent: str, echoed: str) -> None:
    response = client.with_options(timeout=600).responses.create(  # type: ignore[call-overload]
        model="gpt-5.1",
        input="Say hi.",
        max_output_tokens=16,
        temperature=0,
        prompt_cache_retention=sent,
    )
    assert response.prompt_cache_retention == echoed
    assert client.responses.retrieve(response.id).prompt_cache_retention == echoed
