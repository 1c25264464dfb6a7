"""The request path: state → model → plan → backend Deltas → assembler → store.

`ResponsesPipeline.start()` does everything that can fail as a client error
(unknown model, unknown previous response, prompt too long) before any byte is
sent, so those failures are plain HTTP errors. The returned `ResponseRun`
(`engine.response_run`) then yields events; however it ends (done, failed, client
gone), the response is settled and stored exactly once, under a shielded scope.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio

from thinkgate.backends.registry import ModelRegistry
from thinkgate.core.admission import Admission, Settlement
from thinkgate.core.backend import Backend, GenerationPlan, Prepared, UsageMeter
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.engine.assembler import Event, ResponseAssembler
from thinkgate.engine.compaction_codec import open_summaries
from thinkgate.engine.context_management import compact_before_generation, supersede
from thinkgate.engine.hosted_loop import HostedLoop
from thinkgate.engine.hosted_prelude import refuse_stray_approvals
from thinkgate.engine.input_state import settle_input
from thinkgate.engine.model_rules import apply_model_rules, apply_sampling_defaults
from thinkgate.engine.prepared import NoGeneration, PreparedAssembler
from thinkgate.engine.response_object import new_response
from thinkgate.engine.response_run import (
    SERVER_ERROR_MESSAGE,
    Assembler,
    ConversationStore,
    E,
    ResponseRun,
    ResponseStore,
)
from thinkgate.engine.tool_pairs import check_tool_pairs
from thinkgate.errors import NotFoundError, ServerError, ThinkgateError
from thinkgate.hosted import HostedTools
from thinkgate.ids import new_id
from thinkgate.protocol.hosted_costs import price_keys
from thinkgate.protocol.tool_catalog import unavailable_tools
from thinkgate.protocol.tool_choice import hosted_choice
from thinkgate.reasoning import ReasoningPlanner, Sealer

log = logging.getLogger(__name__)

_ITEM_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "apply_patch_call": "apc",
    "apply_patch_call_output": "apco",
    "shell_call": "sh",
    "shell_call_output": "sho",
    "web_search_call": "ws",
    "file_search_call": "fs",
    "tool_search_call": "tsc",
    "tool_search_output": "tso",
}


AssemblerFactory = Callable[[CanonicalRequest, str], Assembler[E]]


def responses_assembler(request: CanonicalRequest, response_id: str) -> Assembler[Event]:
    response = new_response(request, response_id, int(time.time()))
    return ResponseAssembler(response, obfuscate=request.include_obfuscation, tools=request.tools)


class ResponsesPipeline:
    def __init__(
        self,
        registry: ModelRegistry,
        store: ResponseStore,
        conversations: ConversationStore | None = None,
        reasoning: ReasoningPlanner | None = None,
        hosted: HostedTools | None = None,
    ) -> None:
        self._registry = registry
        self._store = store
        self._conversations = conversations
        self._reasoning = reasoning or ReasoningPlanner(Sealer.ephemeral())
        self._hosted = hosted or HostedTools()

    def unavailable_tools(self, declared: list[dict[str, Any]], model: str = "") -> list[str]:
        """Declared hosted tools no model is offered here (no provider configured, and the
        model's upstream does not run them itself)."""
        if model and self._passes_through(model):
            return []
        return [kind for kind in unavailable_tools(declared) if not self._hosted.serves(kind)]

    def _passes_through(self, model: str) -> bool:
        try:
            _, backend = self._registry.resolve(model)
        except ThinkgateError:  # an unknown model is refused later, in `prepare`
            return False
        return backend.capabilities().runs_hosted_tools

    @property
    def sealer(self) -> Sealer:
        """The server's sealing key: reasoning and compaction items sent to clients."""
        return self._reasoning.sealer

    async def prepare(self, request: CanonicalRequest) -> CanonicalRequest:
        """Resolve the model's rules and the stored history (shared with token counting)."""
        info, backend = self._registry.resolve(request.model)
        apply_model_rules(request, info)
        apply_sampling_defaults(request, backend.capabilities())
        if request.store:
            await self._store.ensure_writable()
        if request.previous_response_id is not None:
            history = await self._store.conversation(
                request.previous_response_id, owner=request.context.owner
            )
            if history is None:
                raise NotFoundError(
                    f"Previous response with id '{request.previous_response_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            request.context.history = history
            # affinity routing: this turn goes where the last one went, while it is up
            request.context.previous_channel = await self._store.served_by(
                request.previous_response_id
            )
        if request.conversation_id is not None:
            request.context.history = await self._conversation_items(request)
        await settle_input(request, self._store)  # references, duplicates, callable tools
        check_tool_pairs(request.all_items, param=request.context.param_names.get("input", "input"))
        self._reasoning.unseal_inputs(request)  # sent-back reasoning returns to context
        open_summaries(self._reasoning.sealer, request)  # and compactions' summaries
        supersede(request)  # the latest compaction item stands for what came before it
        for item in request.input_items:
            item.setdefault("id", new_id(_ITEM_PREFIXES.get(item.get("type", "message"), "item")))
        return request

    async def _conversation_items(self, request: CanonicalRequest) -> list[Item]:
        assert request.conversation_id is not None
        items = None
        if self._conversations is not None:
            items = await self._conversations.all_items(
                request.conversation_id, owner=request.context.owner or ""
            )
        if items is None:
            raise NotFoundError(
                f"Conversation with id '{request.conversation_id}' not found.",
                param="conversation",
                code="not_found",
            )
        return items

    async def count_input_tokens(self, request: CanonicalRequest) -> int:
        await self.prepare(request)
        _, backend = self._registry.resolve(request.model)
        return await backend.count_tokens(request)

    async def start(
        self,
        request: CanonicalRequest,
        admission: Admission | None = None,
        *,
        response_id: str | None = None,
    ) -> ResponseRun[Event]:
        """A Responses run (its client is sent Responses events). `response_id`: the id a
        background job already handed out (queued)."""
        return await self.start_with(
            request, admission, response_id=response_id, assembler_for=responses_assembler
        )

    async def start_prepared(
        self, request: CanonicalRequest, admission: Admission | None = None
    ) -> ResponseRun[Event]:
        """`generate: false` (`engine.prepared`): checked, resolved and admitted as a
        generation is, settled (stored, billed at nothing) as one is; no model runs."""
        await self.prepare(request)
        response = new_response(request, new_id("resp"), int(time.time()))
        assembler = PreparedAssembler(response, obfuscate=False, tools=request.tools)
        generation = NoGeneration()
        assembler.feed(generation.prompt)
        run = ResponseRun(request, assembler, generation, UsageMeter(), self._store)
        run.conversations = self._conversations
        if admission is not None:
            run.settlement = await admission.admit(request, 0, 0)
        return run

    async def start_with(
        self,
        request: CanonicalRequest,
        admission: Admission | None,
        *,
        response_id: str | None,
        assembler_for: AssemblerFactory[E],
    ) -> ResponseRun[E]:
        """A run whose Deltas become what `assembler_for` makes of them (chat: chunks);
        `response_id`: the chat completion's, shared by its choices."""
        await self.prepare(request)
        if admission is not None:
            request.context.upstream_detail = admission.upstream_detail
        _, backend = self._registry.resolve(request.model)
        compaction = await compact_before_generation(self, backend, request, admission)
        plan = self._reasoning.plan(request, backend)  # effort → thinking budget
        assembler = assembler_for(request, response_id or new_id("resp"))
        if compaction is not None and isinstance(assembler, ResponseAssembler):
            assembler.lead_with(compaction)  # output[0], announced before the answer
        settlement: Settlement | None = None
        try:  # 1. checked and sized: nothing is sent yet
            prepared = await self._prepare(backend, request, plan, shown=assembler.shows_reasoning)
        except ThinkgateError as error:
            upstream = plan.meter.channel is not None or isinstance(error, ServerError)
            if admission is not None and upstream:  # not a prompt refused as too long
                admission.failed_early(
                    request, assembler.response["id"], error, channel=plan.meter.channel
                )
            raise
        try:
            assembler.feed(prepared.prompt)  # the prompt was accepted: it fits
            if admission is not None:  # 2. admitted on its size (a refusal sends nothing)
                room = backend.capabilities().context_window - assembler.input_tokens
                worst = min(plan.max_output_tokens or room, max(room, 0))
                settlement = await admission.admit(request, assembler.input_tokens, worst)
            try:  # 3. sent: an upstream's request goes out, failover between channels
                await prepared.send()
            except BaseException as failure:
                if settlement is not None:
                    await _withdraw(settlement, assembler, failure, plan.meter)
                raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await prepared.aclose()
            raise
        # 4. streamed by the run
        run = ResponseRun(request, assembler, prepared, plan.meter, self._store)
        run.conversations = self._conversations
        run.settlement = settlement
        return run

    async def _prepare(
        self, backend: Backend, request: CanonicalRequest, plan: GenerationPlan, *, shown: bool
    ) -> Prepared:
        """The model's generation, prepared; with hosted tools declared and served, the tool
        loop's (engine.hosted_loop), which runs their calls between the model's turns."""
        if backend.capabilities().runs_hosted_tools:  # the upstream runs them: as declared
            declared = request.declared_tools or ()
            request.context.hosted_price_keys = price_keys(tool["type"] for tool in declared)
            return await self._reasoning.prepare(backend, request, plan, shown=shown)
        offered = self._hosted.offered(request.declared_tools)
        request.context.hosted_price_keys = price_keys(
            kind for _, tool in offered for kind in tool.types
        )
        if not offered:
            refuse_stray_approvals(request)  # an MCP approval needs its server declared
            if hosted_choice(request.tool_choice) is not None:  # forced, but not served here
                request = dataclasses.replace(request, tool_choice="auto")
            return await self._reasoning.prepare(backend, request, plan, shown=shown)

        async def prepare(round_request: CanonicalRequest, round_plan: GenerationPlan) -> Prepared:
            return await self._reasoning.prepare(backend, round_request, round_plan, shown=shown)

        return await HostedLoop(prepare, request, plan, offered).prepare()


async def _withdraw(
    settlement: Settlement, assembler: Assembler[Any], failure: BaseException, meter: UsageMeter
) -> None:
    """An admitted request that failed before its first Delta: nothing to bill, the
    reservation back (shielded: a cancelled request must still give it back)."""
    error: ThinkgateError | None = None  # None: cancelled
    if isinstance(failure, ThinkgateError):
        error = failure
    elif isinstance(failure, Exception):
        error = ServerError(SERVER_ERROR_MESSAGE)
    response_id = assembler.response["id"]
    with anyio.CancelScope(shield=True):
        try:
            await settlement.withdraw(response_id, error, channel=meter.channel)
        except Exception:  # logged: the request's own failure is what the client hears
            log.exception("could not withdraw the reservation of %s", response_id)
