"""The OpenAI Agents SDK against thinkgate, as its docs configure a custom endpoint.

Each path runs with both of the SDK's models: `OpenAIResponsesModel` and
`OpenAIChatCompletionsModel`, over one `AsyncOpenAI` client pointed at thinkgate, with
tracing off (its exporter would post traces to OpenAI). Tool calls and the handoff are
forced with `tool_choice` (the SDK resets it after the call, so the next turn answers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agents import (
    Agent,
    Model,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from agents.items import HandoffOutputItem, ToolCallItem, ToolCallOutputItem
from harness import API_KEY, BASE_URL, MAX_TOKENS, MODEL, check, run_cases
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel, Field

set_tracing_disabled(True)


def responses_model() -> Model:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    return OpenAIResponsesModel(model=MODEL, openai_client=client)


def chat_model() -> Model:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    return OpenAIChatCompletionsModel(model=MODEL, openai_client=client)


MODELS: dict[str, Callable[[], Model]] = {"responses": responses_model, "chat": chat_model}


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class City(BaseModel):
    city: str = Field(max_length=12)
    rank: int


def agent(make_model: Callable[[], Model], **kwargs: Any) -> Agent[Any]:
    settings = kwargs.pop("model_settings", ModelSettings())
    return Agent(
        name=kwargs.pop("name", "Assistant"),
        instructions=kwargs.pop("instructions", "You are a helpful assistant. Be brief."),
        model=make_model(),
        model_settings=ModelSettings(max_tokens=MAX_TOKENS, temperature=0).resolve(settings),
        **kwargs,
    )


async def basic(make_model: Callable[[], Model]) -> dict[str, Any]:
    result = await Runner.run(agent(make_model), "Reply with just the word yes.")
    check(isinstance(result.final_output, str), "final_output is not text")
    check(result.final_output.strip(), "empty final_output")
    return {"text": result.final_output}


async def streamed(make_model: Callable[[], Model]) -> dict[str, Any]:
    result = Runner.run_streamed(agent(make_model), "Say hello.")
    deltas: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
            deltas.append(event.data.delta)
    check(len(deltas) > 1, f"expected several text deltas, got {len(deltas)}")
    check("".join(deltas) == result.final_output, "streamed text differs from final_output")
    return {"text": result.final_output, "deltas": len(deltas)}


async def tool(make_model: Callable[[], Model]) -> dict[str, Any]:
    assistant = agent(
        make_model,
        tools=[add],
        model_settings=ModelSettings(tool_choice="add"),
    )
    result = await Runner.run(
        assistant, "Use the add tool to add 2 and 3, then reply with just the sum."
    )
    calls = [item for item in result.new_items if isinstance(item, ToolCallItem)]
    outputs = [item for item in result.new_items if isinstance(item, ToolCallOutputItem)]
    check(calls, "the add tool was not called")
    raw = calls[0].raw_item
    name = getattr(raw, "name", None) or raw["name"]  # type: ignore[index]
    arguments = json.loads(getattr(raw, "arguments", None) or raw["arguments"])  # type: ignore[index]
    check(name == "add", f"called {name!r}")
    check(isinstance(arguments.get("a"), int) and isinstance(arguments.get("b"), int), "bad args")
    check(outputs and outputs[0].output == arguments["a"] + arguments["b"], "no tool output")
    check(isinstance(result.final_output, str), "no final answer after the tool result")
    return {"arguments": arguments, "text": result.final_output}


async def handoff(make_model: Callable[[], Model]) -> dict[str, Any]:
    spanish = agent(
        make_model, name="Spanish agent", instructions="Answer in Spanish, in one short sentence."
    )
    triage = agent(
        make_model,
        name="Triage agent",
        instructions="Hand off to the Spanish agent.",
        handoffs=[spanish],
        model_settings=ModelSettings(tool_choice="transfer_to_spanish_agent"),
    )
    result = await Runner.run(triage, "Hola.")
    handoffs = [item for item in result.new_items if isinstance(item, HandoffOutputItem)]
    check(handoffs, "no handoff happened")
    check(result.last_agent is spanish, f"ended with {result.last_agent.name!r}")
    check(isinstance(result.final_output, str), "the Spanish agent gave no answer")
    return {"last_agent": result.last_agent.name, "text": result.final_output}


async def structured(make_model: Callable[[], Model]) -> dict[str, Any]:
    assistant = agent(make_model, output_type=City, model_settings=ModelSettings(max_tokens=48))
    result = await Runner.run(assistant, "Name a large city and its rank by size.")
    check(isinstance(result.final_output, City), f"got {type(result.final_output).__name__}")
    return {"output": result.final_output.model_dump()}


PATHS = {
    "basic": basic,
    "stream": streamed,
    "tool": tool,
    "handoff": handoff,
    "structured": structured,
}

if __name__ == "__main__":
    run_cases(
        {
            f"{path}_{kind}": (lambda p=path_fn, m=make: p(m))
            for path, path_fn in PATHS.items()
            for kind, make in MODELS.items()
        }
    )
