"""`POST /v1/responses/compact`: shrink a long history so the next turn fits.

The older turns are summarised by the model itself (temperature 0, a short
budget) into one `compaction` item; the most recent turn is kept verbatim after
it. A turn starts at a user message. The result reports the input tokens of the
history before and after, as the model's tokenizer counts them.

    [u1 a1 u2 a2 u3 a3]  →  [compaction(summary of u1 a1 u2 a2), u3 a3]

The summary is a generation like any other: the pipeline runs it with the caller's
`Admission` (model allow-list, RPM/TPM, budget reservation) and settles it (ledger row,
cost) under the compaction's own id, however it ends. A compaction with nothing older
to fold runs no model, yet is admitted and settled (nothing to bill) all the same, so
limits and the ledger count every call. The summary goes back sealed (compaction_codec).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from thinkgate.backends.chat_prompt import content_text
from thinkgate.core.admission import Admission
from thinkgate.core.request import CanonicalRequest, Item, RequestContext, Sampling
from thinkgate.engine.assembler import Event
from thinkgate.engine.compaction_codec import seal_summary
from thinkgate.engine.response_object import usage_object
from thinkgate.engine.response_run import ResponseRun
from thinkgate.errors import InvalidRequestError, ServerError
from thinkgate.ids import new_id
from thinkgate.reasoning import Sealer

KEEP_RECENT_TURNS = 1
SUMMARY_MAX_TOKENS = 96
_TRANSCRIPT_MAX_CHARS = 6000  # the tail of a very long history; the model's window is small
_SUMMARY_INSTRUCTIONS = (
    "Summarize the conversation below in two or three short sentences. "
    "Keep names, numbers, facts and decisions."
)


class SummaryPipeline(Protocol):
    """What compaction asks of the pipeline (`ResponsesPipeline` provides it): compaction
    runs inside the pipeline too (`context_management`), so it names no pipeline class."""

    @property
    def sealer(self) -> Sealer: ...

    async def prepare(self, request: CanonicalRequest) -> CanonicalRequest: ...

    async def count_input_tokens(self, request: CanonicalRequest) -> int: ...

    async def start(
        self,
        request: CanonicalRequest,
        admission: Admission | None = None,
        *,
        response_id: str | None = None,
    ) -> ResponseRun[Event]: ...


class Compactor:
    def __init__(self, pipeline: SummaryPipeline) -> None:
        self._pipeline = pipeline

    async def compact(
        self, request: CanonicalRequest, admission: Admission | None = None
    ) -> dict[str, Any]:
        """`admission`: the caller's account with the gateway (None: the engine alone)."""
        await self._pipeline.prepare(request)
        items = request.all_items
        if not items:
            raise InvalidRequestError(
                "There is nothing to compact: 'input' is empty.",
                param="input",
                code="invalid_value",
            )
        older, recent = split_turns(items)
        before = await self._count(request, items)
        response_id = new_id("resp")
        if older:
            summary, usage = await self.summarise(request, older, admission, response_id)
            compaction = {
                "id": new_id("cmp"),
                "type": "compaction",
                "encrypted_content": seal_summary(self._pipeline.sealer, summary),
            }
            output = [compaction, *recent]
        else:  # one turn only: nothing older to fold away, no model to run
            output, usage = list(items), usage_object(0, 0, 0, 0)
            if admission is not None:
                settlement = await admission.admit(request, 0, 0)
                await settlement.settle({"id": response_id, "status": "completed"}, usage)
        after = await self._count(request, output)
        return {
            "id": response_id,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": output,
            "usage": usage,
            "compaction": {
                "input_tokens_before": before,
                "input_tokens_after": after,
                "input_tokens_saved": before - after,
                "items_before": len(items),
                "items_after": len(output),
            },
        }

    async def summarise(
        self,
        request: CanonicalRequest,
        older: list[Item],
        admission: Admission | None,
        response_id: str,
    ) -> tuple[str, dict[str, Any]]:
        """The model's summary and its usage; admitted and billed as `response_id`."""
        text = transcript(older, request.context.summaries)[-_TRANSCRIPT_MAX_CHARS:]
        summary_request = CanonicalRequest(
            model=request.model,
            input_items=[_user_message(text)],
            instructions=_SUMMARY_INSTRUCTIONS,
            max_output_tokens=SUMMARY_MAX_TOKENS,
            sampling=Sampling(temperature=0.0),
            reasoning_effort="none",
            store=False,
            context=RequestContext(owner=request.context.owner),
        )
        run = await self._pipeline.start(summary_request, admission, response_id=response_id)
        response = await run.collect()  # settled (stored nothing, billed) however it ended
        if response["status"] == "failed":
            raise ServerError("The model could not summarise the conversation.")
        summary = "".join(
            part.get("text", "")
            for item in response["output"]
            if item.get("type") == "message"
            for part in item["content"]
        ).strip()
        return summary, response["usage"]

    async def _count(self, request: CanonicalRequest, items: list[Item]) -> int:
        probe = CanonicalRequest(
            model=request.model,
            input_items=[dict(item) for item in items],
            instructions=request.instructions,
            context=RequestContext(owner=request.context.owner),
        )
        return await self._pipeline.count_input_tokens(probe)


def split_turns(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """(older, recent): the recent part starts at the last KEEP_RECENT_TURNS user messages."""
    starts = [index for index, item in enumerate(items) if _is_user_message(item)]
    if len(starts) <= KEEP_RECENT_TURNS:
        return [], list(items)
    cut = starts[-KEEP_RECENT_TURNS]
    return list(items[:cut]), list(items[cut:])


def transcript(items: list[Item], summaries: dict[str, str]) -> str:
    """The older turns as plain lines for the summariser to read (`summaries`: earlier
    compactions', opened by the pipeline)."""
    lines = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            lines.append(f"{item['role']}: {content_text(item['content'])}")
        elif kind == "compaction":
            summary = summaries.get(item["encrypted_content"], "")
            lines.append(f"(earlier summary) {summary}")
        elif kind == "function_call":
            lines.append(f"assistant called {item['name']}({item['arguments']})")
        elif kind == "function_call_output":
            output = item["output"]
            lines.append(f"tool: {output if isinstance(output, str) else content_text(output)}")
    return "\n".join(lines)


def _is_user_message(item: Item) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"


def _user_message(text: str) -> Item:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
        "status": "completed",
    }
