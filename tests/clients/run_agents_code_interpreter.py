"""The OpenAI Agents SDK's hosted `CodeInterpreterTool`, unmodified, against thinkgate's own
sandboxed code interpreter (tests/hosted/test_hosted_code_interpreter.py runs it against a server
whose model `coder-responses` is the scripted one of tests/support/code_standin.py, reached through
a Responses channel).

The SDK sends `{"type": "code_interpreter", "container": {"type": "auto"}}` as OpenAI's
hosted tool; thinkgate runs the code and hands back `code_interpreter_call` items, which the
SDK must take as its own.
"""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    CodeInterpreterTool,
    ModelSettings,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)
from agents.items import ToolCallItem
from harness import API_KEY, BASE_URL, check, run_cases
from openai import AsyncOpenAI
from openai.types.responses import ResponseCodeInterpreterToolCall

set_tracing_disabled(True)
MODEL = "coder-responses"


def agent() -> Agent[Any]:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    tool = CodeInterpreterTool(
        tool_config={"type": "code_interpreter", "container": {"type": "auto"}}
    )
    return Agent(
        name="Analyst",
        instructions="Use Python for any arithmetic.",
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
        model_settings=ModelSettings(max_tokens=64),
        tools=[tool],
    )


def _calls(items: list[Any]) -> list[ResponseCodeInterpreterToolCall]:
    calls = [i.raw_item for i in items if isinstance(i, ToolCallItem)]
    check(
        all(isinstance(c, ResponseCodeInterpreterToolCall) for c in calls),
        f"not code interpreter calls: {calls}",
    )
    return calls  # type: ignore[return-value]


async def runs_code() -> dict[str, Any]:
    result = await Runner.run(agent(), "run: print(6 * 7)")
    calls = _calls(result.new_items)
    check(len(calls) == 1 and calls[0].status == "completed", f"calls: {calls}")
    check(calls[0].code == "print(6 * 7)", f"code: {calls[0].code}")
    check(calls[0].container_id.startswith("cntr_"), f"container: {calls[0].container_id}")
    check("42" in str(result.final_output), f"no result: {result.final_output}")
    return {"container": calls[0].container_id, "answer": result.final_output}


async def streamed() -> dict[str, Any]:
    result = Runner.run_streamed(agent(), "run: print(sum(range(10)))")
    kinds: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event":
            kinds.append(event.data.type)
    for kind in ("code_interpreter_call.interpreting", "code_interpreter_call.completed"):
        check(f"response.{kind}" in kinds, f"no {kind} event: {kinds}")
    check("response.code_interpreter_call_code.done" in kinds, f"no code event: {kinds}")
    check(len(_calls(result.new_items)) == 1, "no code interpreter call item")
    check("45" in str(result.final_output), f"no result: {result.final_output}")
    return {"events": len(kinds)}


run_cases({"runs_code": runs_code, "streamed": streamed})
