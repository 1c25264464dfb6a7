"""Issue 26, hole 1: no request body may crash the server through the grammar engine.

Each case below crashed (or, for the last, hung) `thinkgate serve` before the grammar bounds
(`backends/grammar_bounds.py`): llama.cpp refused the grammar and the null sampler it got
back segfaulted, or a terminal no token can produce made it abort. Now each is a 400 that
names the parameter, and the server process, its PID unchanged, answers the next request.
The server is this module's own, so a crash here cannot take others' tests with it.
Only the embedded engine is bounded: an upstream channel gets such a schema as OpenAI would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import BadRequestError, OpenAI

from tests.support.config import channel, write_config
from tests.support.server import ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess

MODEL = "gpt-5.1"
Schema = dict[str, Any]


@pytest.fixture(scope="module")
def bounds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("grammar-bounds") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sdk(bounds_server: ServerProcess) -> OpenAI:
    return make_client(bounds_server.base_url)


def closed(properties: dict[str, Schema]) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def text_format(schema: Schema) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}}


def function_tool(schema: Schema, name: str = "f") -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": schema, "strict": True}


def regex_tool(definition: str) -> dict[str, Any]:
    return {
        "type": "custom",
        "name": "code",
        "format": {"type": "grammar", "syntax": "regex", "definition": definition},
    }


LONG_STRING = closed({"s": {"type": "string", "maxLength": 1500}})
LEFT_RECURSIVE = {  # passes the text checks; llama.cpp's own parser refuses it
    **closed({"v": {"$ref": "#/$defs/x"}}),
    "$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}, {"type": "integer"}]}},
}
LONG_PATTERN = closed({"s": {"type": "string", "pattern": "^a{1,1500}$"}})

# (id, responses.create keywords, param, code)
RESPONSES_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("maxLength", {"text": text_format(LONG_STRING)}, "text.format.schema", "invalid_json_schema"),
    ("pattern", {"text": text_format(LONG_PATTERN)}, "text.format.schema", "invalid_json_schema"),
    (
        "shorthand class",  # `\d` reached llama.cpp as an unknown escape: a parse failure
        {"text": text_format(closed({"s": {"type": "string", "pattern": "^\\d{3}$"}}))},
        "text.format.schema",
        "invalid_json_schema",
    ),
    (
        "NUL const",  # a terminal no token can produce: llama.cpp aborted
        {"text": text_format(closed({"s": {"const": "a\u0000b"}}))},
        "text.format.schema",
        "invalid_json_schema",
    ),
    (
        "left recursion",
        {"text": text_format(LEFT_RECURSIVE)},
        "text.format.schema",
        "invalid_json_schema",
    ),
    (
        "left-recursive tool",  # named by trying each tool alone
        {
            "tools": [
                function_tool(closed({"a": {"type": "integer"}}), "g"),
                function_tool(LEFT_RECURSIVE),
            ],
            "tool_choice": "required",
        },
        "tools[1].parameters",
        "invalid_function_parameters",
    ),
    (
        "function parameters",
        {"tools": [function_tool(LONG_STRING)], "tool_choice": "required"},
        "tools[0].parameters",
        "invalid_function_parameters",
    ),
    (
        "custom regex",
        {"tools": [regex_tool("a{1,1500}")], "tool_choice": "required"},
        "tools[0].format.definition",
        "invalid_value",
    ),
    (
        "second tool",
        {
            "tools": [function_tool(closed({"a": {"type": "integer"}})), regex_tool("a{1,1500}")],
            "tool_choice": "required",
        },
        "tools[1].format.definition",
        "invalid_value",
    ),
]


def alive(server: ServerProcess, pid: int) -> None:
    assert server.process.poll() is None, f"the server died:\n{server.log()[-3000:]}"
    assert server.process.pid == pid
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("keywords", "param", "code"),
    [case[1:] for case in RESPONSES_CASES],
    ids=[case[0] for case in RESPONSES_CASES],
)
def test_responses_grammar_beyond_bounds_is_400(
    bounds_server: ServerProcess, sdk: OpenAI, keywords: dict[str, Any], param: str, code: str
) -> None:
    pid = bounds_server.process.pid
    with pytest.raises(BadRequestError) as caught:
        sdk.responses.create(model=MODEL, input="Hi.", max_output_tokens=16, **keywords)
    assert (caught.value.param, caught.value.code) == (param, code), caught.value.message
    assert caught.value.body is not None and "embedded engine" in caught.value.message
    alive(bounds_server, pid)


def test_chat_grammar_beyond_bounds_is_400(bounds_server: ServerProcess, sdk: OpenAI) -> None:
    pid = bounds_server.process.pid
    chat = [{"role": "user", "content": "Hi."}]
    with pytest.raises(BadRequestError) as caught:
        sdk.chat.completions.create(
            model=MODEL,
            messages=chat,  # type: ignore[arg-type]
            max_completion_tokens=8,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": LONG_STRING, "strict": True},
            },
        )
    assert caught.value.param == "response_format.json_schema.schema"
    assert caught.value.code == "invalid_json_schema"
    alive(bounds_server, pid)
    with pytest.raises(BadRequestError) as caught:
        sdk.chat.completions.create(
            model=MODEL,
            messages=chat,  # type: ignore[arg-type]
            max_completion_tokens=8,
            tools=[{"type": "function", "function": {"name": "f", "parameters": LONG_PATTERN}}],
            tool_choice="required",
        )
    assert caught.value.param == "tools[0].function.parameters"
    assert caught.value.code == "invalid_function_parameters"
    alive(bounds_server, pid)
    with pytest.raises(BadRequestError) as caught:
        sdk.chat.completions.create(
            model=MODEL,
            messages=chat,  # type: ignore[arg-type]
            max_completion_tokens=8,
            tools=[
                {
                    "type": "custom",
                    "custom": {
                        "name": "code",
                        "format": {
                            "type": "grammar",
                            "grammar": {"syntax": "regex", "definition": "^a{1,1500}$"},
                        },
                    },
                }
            ],
            tool_choice="required",
        )
    assert caught.value.param == "tools[0].custom.format.grammar.definition"
    assert caught.value.code == "invalid_value"
    alive(bounds_server, pid)


def test_within_bounds_still_generates(bounds_server: ServerProcess, sdk: OpenAI) -> None:
    """The bounds leave room: 500 (maxLength, a regex quantifier) and many tool calls."""
    pid = bounds_server.process.pid
    schema = closed({"s": {"type": "string", "maxLength": 500, "pattern": "^[a-z ]{0,500}$"}})
    response = sdk.responses.create(
        model=MODEL, input="Say hi.", max_output_tokens=16, text=text_format(schema)
    )
    assert response.status in ("completed", "incomplete")
    # max_tool_calls beyond the grammar's limit is cut to it (it used to nest 1500 groups).
    response = sdk.responses.create(
        model=MODEL,
        input="Call f.",
        max_output_tokens=16,
        tools=[function_tool(closed({"a": {"type": "integer"}}))],  # type: ignore[list-item]
        tool_choice="required",
        max_tool_calls=1500,
    )
    assert response.status in ("completed", "incomplete")
    alive(bounds_server, pid)


def test_repeated_optional_group_is_400_not_a_hang(
    bounds_server: ServerProcess, sdk: OpenAI
) -> None:
    """`(a?b?){0,60}` made each token's check branch at every character: minutes per token
    while every other request waited. The client's timeout turns such a hang into a failure."""
    pid = bounds_server.process.pid
    schema = closed({"s": {"type": "string", "pattern": "^(a?b?){0,60}$"}})
    with pytest.raises(BadRequestError) as caught:
        sdk.with_options(timeout=60).responses.create(
            model=MODEL, input="Hi.", max_output_tokens=16, text=text_format(schema)
        )
    assert (caught.value.param, caught.value.code) == ("text.format.schema", "invalid_json_schema")
    alive(bounds_server, pid)


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("grammar-bounds-front")
    config = write_config(
        root / "thinkgate.toml", channel("up", standin.base_url, {"upstream-model": "ok:bounds"})
    )
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


def test_upstream_channel_is_not_bounded(front: ServerProcess) -> None:
    response = make_client(front.base_url).responses.create(
        model="upstream-model", input="Hi.", max_output_tokens=16, text=text_format(LONG_STRING)
    )
    assert response.status == "completed"
