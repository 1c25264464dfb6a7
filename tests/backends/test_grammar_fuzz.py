"""Fuzz the grammar engine through the API: schemas, tool parameters and regexes with large
and nested repetitions go to a running server, in every place a grammar comes from
(Responses `text.format`, function tools, custom regex tools, `max_tool_calls`; Chat
`response_format`, function and custom tools).

Every answer must be a 200 or a 4xx with an OpenAI error body, and the server process must
be alive at the end with its PID unchanged (issue 26, hole 1: llama.cpp crashed the process
on a grammar it refused). Counts lean on the edges of the bounds (`grammar_bounds`) and of
llama.cpp's own limits; generations are kept to a few tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.support.server import ADMIN_KEY, ServerProcess

MODEL = "gpt-5.1"
MAX_EXAMPLES = 30
Json = dict[str, Any]

COUNTS = st.one_of(
    st.sampled_from([0, 1, 2, 12, 13, 64, 65, 499, 500, 501, 1000, 1001, 1200, 1500, 2001]),
    st.integers(0, 3000),
)
QUANTIFIERS = st.sampled_from(["", "?", "*", "+", "{m}", "{m,}", "{m,n}", "{0,n}"])
ATOMS = st.sampled_from(["a", "b", "[a-z]", '[^"]', ".", "\\d", "\\w", "(a|bc)", "\\x00", " "])


@st.composite
def quantified(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    text = draw(inner)
    m, n = draw(COUNTS), draw(COUNTS)
    return text + draw(QUANTIFIERS).replace("m", str(m)).replace("n", str(n))


REGEX = st.recursive(
    quantified(ATOMS),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]}|{pair[1]})"),
        quantified(inner.map(lambda text: f"({text})")),  # nested repetitions
    ),
    max_leaves=6,
)


def closed(properties: dict[str, Json]) -> Json:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


STRINGS = st.fixed_dictionaries(
    {"type": st.just("string")},
    optional={"minLength": COUNTS, "maxLength": COUNTS, "pattern": REGEX.map(lambda r: f"^{r}$")},
)
LEAVES = st.one_of(
    STRINGS,
    st.fixed_dictionaries(
        {"type": st.just("integer")},
        optional={"minimum": st.integers(-(10**9), 10**9), "maximum": st.integers(0, 10**12)},
    ),
    st.sampled_from([{"type": "boolean"}, {"type": "number"}, {"enum": ["x", "y"]}]),
    st.sampled_from([{"const": "a\u0000b"}, {"type": "null"}]),
)
SCHEMAS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner},
            optional={"minItems": COUNTS, "maxItems": COUNTS},
        ),
        st.dictionaries(st.sampled_from("abcdef"), inner, min_size=1, max_size=4).map(closed),
        st.lists(inner, min_size=2, max_size=3).map(lambda schemas: {"anyOf": schemas}),
    ),
    max_leaves=8,
)
TARGETS = st.sampled_from(
    [
        "responses.text",
        "responses.function",
        "responses.custom",
        "responses.max_tool_calls",
        "chat.response_format",
        "chat.function",
        "chat.custom",
    ]
)


def request_for(target: str, schema: Json, regex: str, count: int) -> tuple[str, Json]:
    """(path, body) putting the generated schema or regex where `target` names."""
    wrapped = closed({"v": schema})
    function = {"type": "function", "name": "f", "parameters": wrapped, "strict": True}
    custom = {"type": "grammar", "syntax": "regex", "definition": regex}
    responses: Json = {"model": MODEL, "input": "Hi.", "max_output_tokens": 16}
    chat: Json = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi."}],
        "max_completion_tokens": 8,
    }
    if target == "responses.text":
        fmt = {"type": "json_schema", "name": "out", "schema": wrapped, "strict": True}
        return "/v1/responses", {**responses, "text": {"format": fmt}}
    if target == "responses.function":
        return "/v1/responses", {**responses, "tools": [function], "tool_choice": "required"}
    if target == "responses.custom":
        tool = {"type": "custom", "name": "code", "format": custom}
        return "/v1/responses", {**responses, "tools": [tool], "tool_choice": "required"}
    if target == "responses.max_tool_calls":
        return "/v1/responses", {**responses, "tools": [function], "max_tool_calls": count}
    if target == "chat.response_format":
        fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": wrapped}}
        return "/v1/chat/completions", {**chat, "response_format": fmt}
    if target == "chat.function":
        spec = {"name": "f", "parameters": wrapped, "strict": True}
        tools = [{"type": "function", "function": spec}]
        return "/v1/chat/completions", {**chat, "tools": tools, "tool_choice": "required"}
    grammar = {"type": "grammar", "grammar": {"syntax": "regex", "definition": regex}}
    tools = [{"type": "custom", "custom": {"name": "code", "format": grammar}}]
    return "/v1/chat/completions", {**chat, "tools": tools, "tool_choice": "required"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("grammar-fuzz") / "data")
    pid = process.process.pid
    yield process
    alive = process.process.poll() is None and process.process.pid == pid
    process.stop()
    assert alive, f"the server died:\n{process.log()[-3000:]}"


@pytest.fixture(scope="module")
def http(fuzz_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=fuzz_server.base_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=300,  # a shared 2-core machine; a hang still fails
    ) as session:
        yield session


STATUSES: dict[int, int] = {}


@pytest.mark.timeout(900)  # ~30 s on two idle cores; minutes when other suites share them
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each case costs a request
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(target=TARGETS, schema=SCHEMAS, regex=REGEX, count=COUNTS)
@example("responses.text", {"type": "string", "maxLength": 1500}, "a", 1)
@example("responses.custom", {"type": "null"}, "a{1,1500}", 1)
@example("chat.function", {"type": "string", "pattern": "^a{1,1500}$"}, "a", 1)
@example("chat.custom", {"type": "null"}, "(a?b?){0,60}", 1)
@example("responses.max_tool_calls", {"type": "integer"}, "a", 1500)
def test_grammars_never_crash_the_server(
    fuzz_server: ServerProcess,
    http: httpx.Client,
    target: str,
    schema: Json,
    regex: str,
    count: int,
) -> None:
    pid = fuzz_server.process.pid
    path, body = request_for(target, schema, regex, count)
    reply = http.post(path, json=body)
    STATUSES[reply.status_code] = STATUSES.get(reply.status_code, 0) + 1
    assert fuzz_server.process.poll() is None, f"the server died:\n{fuzz_server.log()[-3000:]}"
    assert fuzz_server.process.pid == pid
    assert reply.status_code == 200 or 400 <= reply.status_code < 500, reply.text
    if reply.status_code != 200:
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"], error


def test_fuzz_statuses() -> None:
    """Runs after the fuzz (file order): both outcomes were exercised."""
    print(f"\ngrammar fuzz statuses: {dict(sorted(STATUSES.items()))}")
    assert STATUSES.get(200) and STATUSES.get(400), STATUSES
