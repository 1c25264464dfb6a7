"""The OpenAI Agents SDK's hosted `FileSearchTool`, unmodified, against thinkgate's own
file search (tests/hosted/test_file_search.py runs it against a server whose model
`scripted-reader` is the stand-in upstream's scripted one: it calls `file_search` with the
question, then answers from the first excerpt, naming its file).

The vector store is the one named `agents-docs` (the test makes it with the same key).
"""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    FileSearchTool,
    ModelSettings,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)
from agents.items import MessageOutputItem, ToolCallItem
from harness import API_KEY, BASE_URL, check, run_cases
from openai import AsyncOpenAI
from openai.types.responses import ResponseFileSearchToolCall

set_tracing_disabled(True)
MODEL = "scripted-reader"


async def _agent() -> Agent[Any]:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    stores = [s async for s in client.vector_stores.list() if s.name == "agents-docs"]
    check(stores, "no vector store named agents-docs")
    return Agent(
        name="Librarian",
        instructions="Answer from the files and name the file.",
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
        model_settings=ModelSettings(max_tokens=64),
        tools=[FileSearchTool(vector_store_ids=[stores[0].id], include_search_results=True)],
    )


async def searches() -> dict[str, Any]:
    result = await Runner.run(await _agent(), "What causes ocean tides?")
    calls = [i.raw_item for i in result.new_items if isinstance(i, ToolCallItem)]
    check(len(calls) == 1, f"calls: {calls}")
    call = calls[0]
    check(isinstance(call, ResponseFileSearchToolCall), f"not a file search: {call}")
    assert isinstance(call, ResponseFileSearchToolCall)
    check(call.status == "completed" and call.queries, f"call: {call}")
    check(call.results and call.results[0].filename == "tides.txt", f"results: {call.results}")
    messages = [i for i in result.new_items if isinstance(i, MessageOutputItem)]
    annotations = messages[-1].raw_item.content[0].annotations  # type: ignore[union-attr]
    check(annotations and annotations[0].type == "file_citation", f"annotations: {annotations}")
    return {"answer": result.final_output, "file": annotations[0].filename}


async def streamed() -> dict[str, Any]:
    result = Runner.run_streamed(await _agent(), "What causes ocean tides?")
    kinds: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event":
            kinds.append(event.data.type)
    for kind in ("in_progress", "searching", "completed"):
        check(f"response.file_search_call.{kind}" in kinds, f"no {kind} event: {kinds}")
    return {"events": len(kinds)}


run_cases({"searches": searches, "streamed": streamed})
