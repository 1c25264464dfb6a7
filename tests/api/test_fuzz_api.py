"""schemathesis against the server's own `/openapi.json`: every `/v1` and `/admin/v1`
operation, schema-valid and schema-invalid requests, with the admin key and with none.

Checks: never a 5xx, every status, content type, header and body as documented, invalid
input refused with a 4xx, and no answer but 401 without a key. Generations are kept to a
few tokens so the run stays short on the embedded model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.server import ADMIN_KEY, ServerProcess
from thinkgate.app import create_app
from thinkgate.config import Settings

_GENERATION = {
    "/v1/responses",
    "/v1/responses/input_tokens",
    "/v1/responses/compact",
    "/v1/chat/completions",
}
NO_SHRINK = (Phase.explicit, Phase.generate)
TIMEOUT = 120  # seconds: generations on a shared 2-core machine
MAX_EXAMPLES = 8  # per operation and mode; the case count is printed at the end
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
_CASES: dict[str, int] = {}
_STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data")
    yield process
    process.stop()
    total = sum(_CASES.values())
    print(f"\nschemathesis: {total} cases in {len(_CASES)} runs, each with and without a key")
    print(f"schemathesis: statuses with the key: {dict(sorted(_STATUSES.items()))}")


def _operations() -> list[tuple[str, str]]:
    """The operations to fuzz, known at collection time from an app that is never started."""
    paths = create_app(Settings()).openapi()["paths"]
    return [
        (method, path)
        for path, methods in paths.items()
        if path.startswith(("/v1/", "/admin/v1/"))
        for method in methods
    ]


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> Any:
    """The document as the running server serves it."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    # Unknown query parameters are ignored, as OpenAI does: not a negative case here.
    schema.config.generation.update(max_examples=MAX_EXAMPLES, allow_extra_parameters=False)
    return schema


@pytest.mark.parametrize(("method", "path"), _operations())
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_operation_conforms(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=NO_SHRINK,  # a failure is reported as found: shrinking would cost minutes
    )
    def run(case: Any) -> None:
        _cheap(case, served_model=mode is GenerationMode.POSITIVE)
        run_name = f"{operation.label} {mode.value}"
        _CASES[run_name] = _CASES.get(run_name, 0) + 1
        reply = case.call_and_validate(
            headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS, timeout=TIMEOUT
        )
        _STATUSES[reply.status_code] += 1
        anonymous = case.call(headers={"Authorization": ""}, timeout=TIMEOUT)
        assert anonymous.status_code == 401, (operation.label, anonymous.text)
        assert set(anonymous.json()["error"]) == {"message", "type", "param", "code"}

    run()


def _cheap(case: Any, *, served_model: bool) -> None:
    """A few tokens per generation: the point is the wire, not the text. Schema-valid
    bodies name a served model, so that generation really runs (an unknown model is a
    404 before any of it)."""
    body = case.body
    if not isinstance(body, dict):
        return
    path = case.operation.path
    if served_model and path in _GENERATION and "model" in body:
        body["model"] = "gpt-5.1"
    if path == "/v1/responses" and "max_output_tokens" not in body:
        body["max_output_tokens"] = 16
    elif path == "/v1/responses" and isinstance(body["max_output_tokens"], int):
        body["max_output_tokens"] = min(max(body["max_output_tokens"], 16), 32)
    if path == "/v1/chat/completions":
        for field in ("max_completion_tokens", "max_tokens"):
            if isinstance(body.get(field), int) and body[field] > 16:
                body[field] = 16
        if "max_completion_tokens" not in body and "max_tokens" not in body:
            body["max_completion_tokens"] = 16
        if isinstance(body.get("n"), int) and body["n"] > 2:
            body["n"] = 2


# --- requests a client would really send: the generation paths run end to end ----------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
_METADATA = st.dictionaries(st.text(max_size=64), st.text(max_size=512), max_size=16)
_FUNCTION = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "name": st.from_regex(r"[a-z_]{1,16}", fullmatch=True),
        "parameters": st.just({"type": "object", "properties": {"q": {"type": "string"}}}),
    },
    optional={"description": _TEXT, "strict": st.booleans()},
)
_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "developer", "assistant"]),
        "content": st.one_of(
            _TEXT,
            st.lists(
                st.builds(lambda t: {"type": "input_text", "text": t}, _TEXT),
                min_size=1,
                max_size=2,
            ),
        ),
    }
)
_CHAT_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "developer"]),
        "content": st.one_of(
            _TEXT,
            st.lists(
                st.builds(lambda t: {"type": "text", "text": t}, _TEXT), min_size=1, max_size=2
            ),
        ),
    }
)
_SAMPLING = {  # temperature/top_p: refused by gpt-5.1 above effort none, as OpenAI does
    "metadata": _METADATA,
    "user": st.text(max_size=64),
    "prompt_cache_key": st.text(max_size=64),
}
_RESPONSES_BODY = st.fixed_dictionaries(
    {
        "model": st.just("gpt-5.1"),
        "input": st.one_of(
            _TEXT,
            st.lists(
                _MESSAGE.filter(lambda m: m["role"] == "user" or isinstance(m["content"], str)),
                min_size=1,
                max_size=3,
            ),
        ),
        "max_output_tokens": st.just(16),
    },
    optional={
        **_SAMPLING,
        "instructions": _TEXT,
        "stream": st.booleans(),
        "store": st.booleans(),
        "reasoning": st.just({"effort": "none"}),  # thinking would cost seconds per case
        "text": st.just({"format": {"type": "text"}}),
        "truncation": st.sampled_from(["auto", "disabled"]),
        # tools: their grammar costs the embedded engine many seconds; /input_tokens has them
        "parallel_tool_calls": st.booleans(),
    },
)
_CHAT_BODY = st.fixed_dictionaries(
    {
        "model": st.just("gpt-5.1"),
        "messages": st.lists(_CHAT_MESSAGE, min_size=1, max_size=3),
        "max_completion_tokens": st.just(8),
    },
    optional={
        **_SAMPLING,
        "stream": st.booleans(),
        "n": st.integers(1, 2),
        "seed": st.integers(0, 2**31),
        "stop": st.lists(st.text(min_size=1, max_size=5), max_size=2),
        "logprobs": st.booleans(),
        "reasoning_effort": st.just("none"),
        "response_format": st.just({"type": "text"}),
    },
)
_WITH_TOOLS = st.tuples(
    _RESPONSES_BODY, st.lists(_FUNCTION, max_size=3, unique_by=lambda t: t["name"])
).map(lambda pair: {**pair[0], "tools": pair[1]})
_REAL_BODIES = {
    # path: (bodies, examples). Few generations: each costs seconds on a busy 2-core machine.
    "/v1/responses": (_RESPONSES_BODY, 3),
    "/v1/chat/completions": (_CHAT_BODY, 3),
    "/v1/responses/input_tokens": (_WITH_TOOLS, 20),
}


@pytest.mark.parametrize("path", sorted(_REAL_BODIES))
def test_real_requests_conform(api_schema: Any, path: str) -> None:
    operation = api_schema[path]["post"]
    bodies, examples = _REAL_BODIES[path]

    @given(body=bodies)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=NO_SHRINK,  # a failure is reported as found: shrinking would cost minutes
    )
    def run(body: dict[str, Any]) -> None:
        if path == "/v1/responses/input_tokens":
            body = {k: v for k, v in body.items() if k in _TOKEN_COUNT_FIELDS}
        if body.get("stream") and path == "/v1/chat/completions":
            body["stream_options"] = {"include_usage": True}
        case = operation.Case(body=body, media_type="application/json")
        run_name = f"{operation.label} real"
        _CASES[run_name] = _CASES.get(run_name, 0) + 1
        reply = case.call_and_validate(
            headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS, timeout=TIMEOUT
        )
        _STATUSES[reply.status_code] += 1
        assert reply.status_code == 200, reply.text

    run()


_TOKEN_COUNT_FIELDS = {
    "model",
    "input",
    "instructions",
    "reasoning",
    "text",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "truncation",
}
