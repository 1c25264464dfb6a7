"""The gateway-owned tool loop: hosted tools (`thinkgate.hosted`) offered to any model as
functions, their calls run here, the model told the results, until it is done.

    round 0 ─► model (hosted tools offered as functions) ─► Deltas to the client, except
       │       the hosted calls, which are held back
       ├─ no hosted call, a client-side call (function, custom, apply_patch, shell),
       │  `max_tool_calls` spent, the output budget spent ─► FinishDelta (usage summed)
       └─ hosted calls ─► each item opened, all run at once, each closed in order
                         ─► call + output join the context ─► round 1 …

Every round's prompt and output tokens add up into one usage; the run bills it once.
Closing the stream (client gone) cancels the round and any call still running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkgate.core.backend import Batches, GenerationPlan, Prepared, UsageMeter
from thinkgate.core.deltas import (
    AnnotationDelta,
    Delta,
    FinishDelta,
    HostedItemDelta,
    PromptDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
)
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.engine.hosted_prelude import call_arguments, client_text, model_view, prepare
from thinkgate.hosted import CallOutcome, FileSource, HostedCall, HostedTool, Source, Turn
from thinkgate.hosted.base import Event
from thinkgate.hosted.file_search import file_citations
from thinkgate.ids import new_call_id, new_id
from thinkgate.protocol.hosted_costs import call_cap
from thinkgate.protocol.tool_choice import hosted_choice

log = logging.getLogger(__name__)

Prepare = Callable[[CanonicalRequest, GenerationPlan], Awaitable[Prepared]]
Offered = tuple[dict[str, Any], HostedTool]  # (the declared tool, the tool serving it)
Served = tuple[dict[str, Any], HostedTool]  # what a function name calls: (declared, tool)

MAX_ROUNDS = 5  # hosted rounds one response may take (then the model must answer)


@dataclass(slots=True)
class _Usage:
    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0


@dataclass(slots=True)
class _Round:
    """What one model call did, as far as the loop cares."""

    calls: list[tuple[str, str]] = field(default_factory=list)  # (function name, arguments)
    client_call: bool = False
    text: list[str] = field(default_factory=list)  # since the last call: the open message
    finish: FinishDelta | None = None
    prompt: PromptDelta | None = None
    _open: str | None = None  # the hosted function being called
    _arguments: list[str] = field(default_factory=list)


class HostedLoop:
    def __init__(
        self,
        prepare: Prepare,
        request: CanonicalRequest,
        plan: GenerationPlan,
        offered: Sequence[Offered],
    ) -> None:
        self._prepare = prepare
        self._first: Prepared | None = None  # round 0, prepared with the loop
        self.prompt = PromptDelta(input_tokens=0)  # round 0's, set by `prepare`
        self._request = request
        self._plan = plan
        self._offer(offered)
        self._held: list[Delta] = []  # the prelude's items, sent after round 0's prompt
        self._paused = False  # a call awaits the client (an MCP approval request)
        self._usage = _Usage()
        self._calls_made = 0
        self._sources: list[Source] = []
        self._files: list[FileSource] = []  # file_search excerpts: `file_citation`s
        self._context: list[Item] = []  # this turn's rounds, as the model reads them
        self._turn = Turn(client_text(request), owner=request.context.owner)  # what the calls share
        self._turn.items = request.all_items

    def _offer(self, offered: Sequence[Offered]) -> None:
        self._offered = list(offered)
        own = {str(tool.get("name")) for tool in self._request.tools}
        self._functions = [
            (function, declared, tool)
            for declared, tool in offered
            for function in tool.functions(declared)
            if function["name"] not in own  # a client's tool of that name stays the client's
        ]
        self._by_name: dict[str, Served] = {f["name"]: (d, t) for f, d, t in self._functions}

    async def prepare(self) -> HostedLoop:
        """The prelude (MCP: tool lists, approvals) and round 0 prepared: this is then the
        run's `core.backend.Prepared`, admitted on round 0's prompt. Later rounds are
        prepared and sent inside the stream, under the same admission."""
        prelude = await prepare(self._offered, self._request)
        self._offer(prelude.offered)
        self._held, self._context = list(prelude.held), list(prelude.context)
        plan = self._round_plan(0)
        assert plan is not None  # round 0 has the whole budget
        self._first = await self._prepare(self._round_request(0), plan)
        self.prompt = self._first.prompt
        return self

    async def send(self) -> None:
        assert self._first is not None
        await self._first.send()

    async def aclose(self) -> None:
        if self._first is not None:
            await self._first.aclose()

    async def stream(self) -> Batches:
        last: _Round | None = None
        for number in range(MAX_ROUNDS + 1):
            plan = self._round_plan(number)
            if plan is None:  # the output budget is spent: the answer is cut short
                yield (self._finish("length"),)
                return
            last = _Round()
            async for batch in self._one_round(number, plan, last):
                yield batch
            assert last.finish is not None
            if last.finish.reason != "stop" or last.client_call or not last.calls:
                break  # a client-side call ends the response: hosted calls beside it wait
            if number == MAX_ROUNDS:
                break
            runnable = last.calls[: self._calls_left()]
            if not runnable:
                break
            async for delta in self._run_calls(runnable, "".join(last.text)):
                yield (delta,)
            if self._paused:
                break
        finish = self._finish(last.finish.reason if last and last.finish else "stop")
        yield [*self._citations(last), *self._file_citations(last), finish]

    # --- one model call -----------------------------------------------------------

    async def _one_round(self, number: int, plan: GenerationPlan, state: _Round) -> Batches:
        prepared: Prepared | None = None
        try:
            if number == 0:  # prepared, admitted and sent with the loop
                prepared = self._first
                assert prepared is not None
                self._observe(prepared.prompt, state)  # the run's prompt already
                held, self._held = self._held, []
                if held:
                    yield held
            else:
                prepared = await self._prepare(self._round_request(number), plan)
                prompt = self._observe(prepared.prompt, state)
                assert prompt is not None
                yield (prompt,)  # the prompts so far, summed
                await prepared.send()
            batches = prepared.stream()
            try:
                async for batch in batches:
                    observe = self._observe
                    passed = [p for delta in batch if (p := observe(delta, state)) is not None]
                    if passed:
                        yield passed
            finally:
                await batches.aclose()
        finally:
            if prepared is not None:
                await prepared.aclose()
            if plan.meter is not self._plan.meter:  # what this round counted joins the total
                self._plan.meter.output_tokens = self._usage.output + plan.meter.output_tokens
                self._plan.meter.reasoning_tokens = (
                    self._usage.reasoning + plan.meter.reasoning_tokens
                )
                self._plan.meter.channel = plan.meter.channel or self._plan.meter.channel
        if state.finish is None:
            state.finish = FinishDelta("stop", 0)
        if state.prompt is not None:
            self._usage.input += state.prompt.input_tokens
            self._usage.cached += state.prompt.cached_tokens
        self._usage.output += state.finish.output_tokens
        self._usage.reasoning += state.finish.reasoning_tokens
        self._plan.meter.output_tokens = self._usage.output
        self._plan.meter.reasoning_tokens = self._usage.reasoning

    def _observe(self, delta: Delta, state: _Round) -> Delta | None:
        """The Delta the client is sent for `delta` (None: held back), noting the round."""
        if isinstance(delta, PromptDelta):
            state.prompt = delta
            return PromptDelta(
                self._usage.input + delta.input_tokens, self._usage.cached + delta.cached_tokens
            )
        if isinstance(delta, FinishDelta):
            state.finish = delta
            return None
        if isinstance(delta, TextDelta):
            state.text.append(delta.text)
            return delta
        if isinstance(delta, ToolCallStartDelta):
            state.text.clear()
            if delta.tool != "function" or delta.name not in self._by_name:
                state.client_call = True
                return delta
            state._open, state._arguments = delta.name, []
            return None
        if state._open is not None and isinstance(delta, ToolCallDelta):
            state._arguments.append(delta.text)
            return None
        if state._open is not None and isinstance(delta, ToolCallDoneDelta):
            payload = delta.payload
            arguments = payload if isinstance(payload, str) else json.dumps(payload)
            state.calls.append((state._open, arguments or "".join(state._arguments)))
            state._open = None
            return None
        return delta

    def _round_request(self, number: int) -> CanonicalRequest:
        """The request as round `number` sends it: hosted tools as functions (while calls
        are left), the rounds so far after the input, the choice relaxed after round 0."""
        request = self._request
        offer = number < MAX_ROUNDS and self._calls_left() > 0
        functions = [function for function, _, _ in self._functions] if offer else []
        hosted_types = {kind for _, tool in self._offered for kind in tool.types}
        declared = request.declared_tools
        if declared is not None:
            declared = [t for t in declared if t["type"] not in hosted_types] + functions
        choice = request.tool_choice
        kind = hosted_choice(choice)
        if kind is not None:
            named = [
                f["name"]
                for f, declared, tool in self._functions
                if kind in tool.types and _chooses(tool, choice, declared, f)
            ]
            forced = offer and number == 0 and bool(named)
            choice = {"type": "function", "name": named[0]} if forced else "auto"
        elif number > 0 and choice == "required":
            choice = "auto"
        tools = [tool for _, tool in self._offered]
        return dataclasses.replace(
            request,
            input_items=model_view(tools, [*request.input_items, *self._context]),
            tools=[*request.tools, *functions],
            declared_tools=declared,
            tool_choice=choice,
            context=dataclasses.replace(
                request.context, history=model_view(tools, request.context.history)
            ),
        )

    def _round_plan(self, number: int) -> GenerationPlan | None:
        if number == 0:
            return self._plan  # the pipeline reads its meter (channel, admission)
        cap = self._plan.max_output_tokens
        if cap is not None and cap - self._usage.output <= 0:
            return None
        left = None if cap is None else cap - self._usage.output
        return dataclasses.replace(self._plan, max_output_tokens=left, meter=UsageMeter())

    def _calls_left(self) -> int:
        return max(call_cap(self._request.max_tool_calls) - self._calls_made, 0)

    # --- hosted calls -------------------------------------------------------------

    async def _run_calls(
        self, calls: list[tuple[str, str]], text: str
    ) -> AsyncGenerator[Delta, None]:
        """Open every item, run the calls side by side, close the items in order."""
        started: list[tuple[HostedTool, HostedCall]] = []
        for name, arguments in calls:
            declared, tool = self._by_name[name]
            item = {"id": new_id(tool.id_prefix)}
            call = HostedCall(declared, name, call_arguments(arguments), item)
            call.include = self._request.include
            call.turn = self._turn
            tool.begin(call)
            started.append((tool, call))
            opening = tool.opening if call.opening is None else call.opening
            yield HostedItemDelta("added", dict(call.item), opening)
        tasks = [asyncio.ensure_future(_run(tool, call)) for tool, call in started]
        try:
            for tool, call in started:
                yield HostedItemDelta("progress", dict(call.item), tool.working)
            outcomes: list[CallOutcome] = []
            for (tool, _call), task in zip(started, tasks, strict=True):
                outcome = await task
                outcomes.append(outcome)
                closing: tuple[Event, ...] = tool.closing if outcome.completed else ()
                closing = closing if outcome.closing is None else outcome.closing
                self._paused = self._paused or outcome.pauses
                yield HostedItemDelta("done", dict(outcome.item), closing)
        finally:
            for task in tasks:
                task.cancel()
        self._calls_made += len(started)
        self._remember(started, [a for _, a in calls], outcomes, text)

    def _remember(
        self,
        started: list[tuple[HostedTool, HostedCall]],
        arguments: list[str],
        outcomes: list[CallOutcome],
        text: str,
    ) -> None:
        """The round joins the context: its text, then each call and its output."""
        if text:
            part = {"type": "output_text", "text": text, "annotations": []}
            self._context.append({"type": "message", "role": "assistant", "content": [part]})
        for (_tool, call), raw, outcome in zip(started, arguments, outcomes, strict=True):
            if outcome.pauses:  # not run: the client answers it first
                continue
            call_id = new_call_id()  # the model's own call id (an item id is too long for some)
            self._context.append(
                {"type": "function_call", "call_id": call_id, "name": call.name, "arguments": raw}
            )
            self._context.append(
                {"type": "function_call_output", "call_id": call_id, "output": outcome.output}
            )
            self._sources.extend(outcome.sources)
            self._files.extend(outcome.files)

    # --- the end ------------------------------------------------------------------

    def _file_citations(self, last: _Round | None) -> list[Delta]:
        if last is None or not self._files:
            return []
        return [AnnotationDelta(a) for a in file_citations("".join(last.text), self._files)]

    def _citations(self, last: _Round | None) -> list[Delta]:
        """`url_citation`s where the answer's text names a source's URL."""
        if last is None or not self._sources:
            return []
        text = "".join(last.text)
        found: list[tuple[int, int, Source]] = []
        seen: set[str] = set()
        for source in self._sources:
            if source.url in seen:
                continue
            seen.add(source.url)
            start = text.find(source.url)
            while start >= 0:
                found.append((start, start + len(source.url), source))
                start = text.find(source.url, start + len(source.url))
        return [
            AnnotationDelta(
                {**source.annotation, "start_index": start, "end_index": end}
                if source.annotation is not None
                else {
                    "type": "url_citation",
                    "start_index": start,
                    "end_index": end,
                    "url": source.url,
                    "title": source.title or source.url,
                }
            )
            for start, end, source in sorted(found, key=lambda hit: hit[0])
        ]

    def _finish(self, reason: Any) -> FinishDelta:
        return FinishDelta(reason, self._usage.output, self._usage.reasoning)


def _chooses(tool: HostedTool, choice: Any, declared: dict[str, Any], function: Any) -> bool:
    """Whether a hosted `tool_choice` forces `function` (MCP's names a server and a tool)."""
    chooses = getattr(tool, "chooses", None)
    return chooses is None or bool(chooses(choice, declared, function))


async def _run(tool: HostedTool, call: HostedCall) -> CallOutcome:
    """A tool's own failures are outcomes; a bug in one is a failed call, logged."""
    try:
        return await tool.run(call)
    except Exception:
        log.exception("hosted tool %s failed", call.name)
        return CallOutcome({**call.item, "status": "failed"}, "The tool failed.")
