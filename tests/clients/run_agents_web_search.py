"""The OpenAI Agents SDK's hosted `WebSearchTool`, unmodified, against thinkgate's own
web search (tests/hosted/test_hosted_web_search.py runs it against a server whose search
provider is the SearXNG stand-in, tests/support/search_standin.py, and whose model
`searcher-responses` is the stand-in's scripted one, reached through a Responses channel).

The SDK sends `{"type": "web_search", ...}` as OpenAI's hosted tool; thinkgate runs the
search and hands back `web_search_call` items, which the SDK must take as its own.
"""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    ModelSettings,
    OpenAIResponsesModel,
    Runner,
    WebSearchTool,
    set_tracing_disabled,
)
from agents.items import MessageOutputItem, ToolCallItem
from harness import API_KEY, BASE_URL, check, run_cases
from openai import AsyncOpenAI
from openai.types.responses import ResponseFunctionWebSearch

set_tracing_disabled(True)
MODEL = "searcher-responses"


def agent(**tool: Any) -> Agent[Any]:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    return Agent(
        name="Researcher",
        instructions="Search the web and cite your sources.",
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
        model_settings=ModelSettings(max_tokens=64),
        tools=[WebSearchTool(**tool)],
    )


def _calls(items: list[Any]) -> list[ResponseFunctionWebSearch]:
    calls = [i.raw_item for i in items if isinstance(i, ToolCallItem)]
    check(
        all(isinstance(c, ResponseFunctionWebSearch) for c in calls), f"not web searches: {calls}"
    )
    return calls  # type: ignore[return-value]


async def searches() -> dict[str, Any]:
    result = await Runner.run(agent(search_context_size="high"), "thinkgate hosted tools")
    calls = _calls(result.new_items)
    check(len(calls) == 1 and calls[0].status == "completed", f"calls: {calls}")
    check(calls[0].action.type == "search", f"action: {calls[0].action}")
    check("/page/1" in str(result.final_output), f"no cited source: {result.final_output}")
    messages = [i for i in result.new_items if isinstance(i, MessageOutputItem)]
    annotations = messages[-1].raw_item.content[0].annotations  # type: ignore[union-attr]
    check(annotations and annotations[0].type == "url_citation", f"annotations: {annotations}")
    return {"query": calls[0].action.query, "answer": result.final_output}


async def streamed() -> dict[str, Any]:
    result = Runner.run_streamed(agent(), "thinkgate hosted tools")
    kinds: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event":
            kinds.append(event.data.type)
    for kind in ("searching", "completed"):
        check(f"response.web_search_call.{kind}" in kinds, f"no {kind} event: {kinds}")
    check(len(_calls(result.new_items)) == 1, "no web search call item")
    return {"events": len(kinds)}


async def opens_a_page() -> dict[str, Any]:
    result = await Runner.run(agent(), "open the page about thinkgate")
    actions = [call.action.type for call in _calls(result.new_items)]
    check(actions == ["search", "open_page"], f"actions: {actions}")
    check("read from the page itself" in str(result.final_output), "the page was not read")
    return {"actions": actions}


run_cases({"searches": searches, "streamed": streamed, "opens_a_page": opens_a_page})
