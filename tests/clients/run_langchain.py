"""LangChain's `ChatOpenAI` against thinkgate, over both of its APIs.

Configured as LangChain's docs show for an OpenAI-compatible server (`base_url`,
`api_key`); `use_responses_api=True` speaks `/v1/responses`, `False` speaks
`/v1/chat/completions`. `reasoning_effort="none"` keeps `temperature=0` (LangChain drops
sampling parameters for gpt-5 models at any other effort, as OpenAI refuses them).
"""

from __future__ import annotations

import json
from typing import Any

from harness import API_KEY, BASE_URL, MAX_TOKENS, MODEL, check, run_cases
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field


def chat(responses: bool, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=BASE_URL,
        api_key=API_KEY,
        use_responses_api=responses,
        max_tokens=kwargs.pop("max_tokens", MAX_TOKENS),
        temperature=0,
        reasoning_effort="none",
        max_retries=0,
        **kwargs,
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class City(BaseModel):
    """A city and its rank by size."""

    city: str = Field(max_length=12)
    rank: int


def basic(responses: bool) -> dict[str, Any]:
    message = chat(responses).invoke("Reply with just the word yes.")
    check(isinstance(message, AIMessage) and message.text.strip(), "no text")
    check(message.usage_metadata and message.usage_metadata["output_tokens"] > 0, "no usage")
    return {"text": message.text}


def streamed(responses: bool) -> dict[str, Any]:
    chunks: list[AIMessageChunk] = list(chat(responses).stream("Say hello."))
    texts = [chunk.text for chunk in chunks if chunk.text]
    check(len(texts) > 1, f"expected several text chunks, got {len(texts)}")
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    check(whole.text == "".join(texts), "the merged message differs from the chunks")
    return {"text": whole.text, "chunks": len(texts)}


def tools(responses: bool) -> dict[str, Any]:
    bound = chat(responses).bind_tools([add], tool_choice="add")
    message = bound.invoke("Add 2 and 3.")
    check(message.tool_calls, "no tool call")
    call = message.tool_calls[0]
    check(call["name"] == "add", f"called {call['name']!r}")
    args = call["args"]
    check(isinstance(args.get("a"), int) and isinstance(args.get("b"), int), f"args {args}")
    result = add.invoke(call)  # a ToolMessage with the call's id, as LangChain's docs do
    follow_up = (
        chat(responses)
        .bind_tools([add])
        .invoke(
            ["Add 2 and 3.", message, result]  # the call and its output go back to the model
        )
    )
    check(isinstance(follow_up, AIMessage), "no answer after the tool result")
    return {"args": args, "text": follow_up.text}


def structured(responses: bool) -> dict[str, Any]:
    runnable = chat(responses).with_structured_output(City, method="json_schema", strict=True)
    city = runnable.invoke("Name a large city and its rank by size.")
    check(isinstance(city, City), f"got {type(city).__name__}")
    return {"output": city.model_dump()}


def streamed_structured(responses: bool) -> dict[str, Any]:
    runnable = chat(responses).with_structured_output(City, method="json_schema", strict=True)
    parts = list(runnable.stream("Name a large city and its rank by size."))
    check(parts, "nothing streamed")
    final = parts[-1]
    check(isinstance(final, City), f"got {type(final).__name__}")
    return {"output": json.loads(final.model_dump_json())}


PATHS = {
    "basic": basic,
    "stream": streamed,
    "tool": tools,
    "structured": structured,
    "stream_structured": streamed_structured,
}

if __name__ == "__main__":
    run_cases(
        {
            f"{path}_{api}": (lambda p=path_fn, r=responses: p(r))
            for path, path_fn in PATHS.items()
            for api, responses in (("responses", True), ("chat", False))
        }
    )
