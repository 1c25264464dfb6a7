"""`UpstreamBackend`: one public model served by upstream channels, with failover.

    prepare ─► PromptDelta (an estimate: the gateway admits the request on it)
    send    ─► for each candidate channel (priority, session affinity or weight,
               breaker, back-off; sealed reasoning only to the channel that sealed it):
                 open the stream ─ fails before the first event? ─► next channel
    stream  ─► committed: each read's Deltas (`dialects`), FinishDelta

Nothing is retried once `send` has returned: a failure after it ends the response
as failed, with what was generated counted through the meter. Closing the generator
(client gone) closes the upstream stream, which cancels the upstream request.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

import anyio
import orjson

from thinkgate.backends.upstream.affinity import affinity_of, replayable
from thinkgate.backends.upstream.channel import Channel, UpstreamStream
from thinkgate.backends.upstream.chat_wire import chat_body
from thinkgate.backends.upstream.dialects import dialect_for
from thinkgate.backends.upstream.failure import UpstreamFailure, exhausted
from thinkgate.backends.upstream.responses_wire import responses_body
from thinkgate.backends.upstream.routing import Route, candidates
from thinkgate.backends.upstream.service_tiers import TierChoice, tier_for_channel
from thinkgate.config import ChannelConfig
from thinkgate.core.backend import (
    ALL_EFFORTS,
    Batches,
    Capabilities,
    ChannelStatus,
    GenerationPlan,
    Health,
    Prepared,
)
from thinkgate.core.deltas import PromptDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.protocol.turn_state import reply_turn_state

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.05  # seconds; full jitter, doubled per attempt
BACKOFF_CAP = 1.0


class UpstreamBackend:
    """A `Backend` over the channels that serve one public model name."""

    def __init__(self, model: str, routes: Sequence[Route], rng: random.Random | None = None):
        self.name = f"upstream:{model}"
        self.model = model
        self.routes = list(routes)
        self._rng = rng or random.Random()
        limits = [route.channel.config.limits_for(model) for route in self.routes]
        outputs = [output for _, output, _ in limits if output is not None]
        self._capabilities = Capabilities(
            context_window=max(window for window, _, _ in limits),
            max_output_tokens=max(outputs) if outputs else None,
            image_input=any("image" in modalities for _, _, modalities in limits),
            reasoning_efforts=ALL_EFFORTS,
            owned_by="system",
            native_reasoning=True,  # the upstream thinks itself: no scaffold around it
            runs_hosted_tools=all(r.channel.config.hosted_tools == "passthrough" for r in routes),
        )

    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def count_tokens(self, request: CanonicalRequest) -> int:
        """An estimate (about four characters a token): the upstream's tokenizer is remote.
        The upstream's own count replaces it when the generation's usage arrives."""
        text = orjson.dumps(
            [request.instructions, request.all_items, request.tools], default=str
        )  # bytes: a character count for ASCII, a little more for the rest
        return max(1, len(text) // 4)

    async def prepare(self, request: CanonicalRequest, plan: GenerationPlan) -> Prepared:
        """The estimate only: nothing is sent before the gateway admits the request."""
        return _Prepared(self, request, plan, PromptDelta(await self.count_tokens(request)))

    async def load(self) -> None:
        """Nothing to open: channels connect on their first request."""

    def health(self) -> Health:
        return Health(True, "(upstream)")

    def queue_depth(self) -> int:
        return 0

    def channels(self) -> list[ChannelStatus]:
        return [
            ChannelStatus(
                name=route.channel.name,
                kind=route.channel.config.kind,
                upstream_model=route.upstream_model,
                breaker=route.channel.breaker.state,
                cooling_down=route.channel.cooling_down,
                base_url=route.channel.config.base_url,
                priority=route.channel.config.priority,
            )
            for route in self.routes
        ]

    async def _open(
        self, request: CanonicalRequest, plan: GenerationPlan
    ) -> tuple[Route, UpstreamStream]:
        """The first channel that answers with a first event; failures move on."""
        failures: list[UpstreamFailure] = []
        sole = len(self.routes) == 1
        order = candidates(self.routes, self._rng, affinity_of(request))
        for attempt, route in enumerate(order):
            if attempt:
                await anyio.sleep(self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
            plan.meter.channel = route.channel.name
            try:
                sent = replayable(request, route.channel.name, sole=sole)
                path, body = _request_for(route, sent, plan)
                headers = None  # a Responses-native upstream hears the client's session
                if path == "responses" and request.context.session_headers:
                    headers = request.context.session_headers
                stream = await route.channel.open_stream(path, body, headers)
                if path == "responses":  # Codex's sticky-routing token, for the client
                    plan.meter.turn_state = reply_turn_state(stream.headers)
                return route, stream
            except UpstreamFailure as failure:
                log.warning("upstream attempt failed: %s", failure)
                if not failure.retryable:
                    route.channel.breaker.success()  # the channel answered; the request was bad
                    raise failure.client_error(detail=request.context.upstream_detail) from failure
                route.channel.breaker.failure()
                failures.append(failure)
            except BaseException:  # cancelled, or the request cannot be translated
                route.channel.breaker.abandon()
                raise
        raise exhausted(self.model, failures, detail=request.context.upstream_detail)

    async def aclose(self) -> None:
        for route in self.routes:
            await route.channel.aclose()


class _Prepared:
    """One upstream generation: `send` opens the stream (failover), `stream` reads it."""

    __slots__ = ("_backend", "_opened", "_plan", "_request", "prompt")

    def __init__(
        self,
        backend: UpstreamBackend,
        request: CanonicalRequest,
        plan: GenerationPlan,
        prompt: PromptDelta,
    ) -> None:
        self._backend = backend
        self._request = request
        self._plan = plan
        self.prompt = prompt
        self._opened: tuple[Route, UpstreamStream] | None = None  # sent, not yet read

    async def send(self) -> None:
        self._opened = await self._backend._open(self._request, self._plan)

    async def aclose(self) -> None:
        """Sent but never read (the client left first): the upstream answered, so it counts
        as up; the stream is closed without reading the rest."""
        if self._opened is not None:
            route, stream = self._opened
            self._opened = None
            route.channel.breaker.success()
            with anyio.CancelScope(shield=True):
                await stream.aclose(drain=False)

    async def stream(self) -> Batches:
        """Each read's Deltas (`dialects`) as one batch; the stream is this generator's from
        here on."""
        assert self._opened is not None, "send() first"
        (route, stream), self._opened = self._opened, None
        request, plan = self._request, self._plan
        finished = False
        config = route.channel.config
        sent = tier_for_channel(request.service_tier, config.service_tiers)
        tier = TierChoice(request.service_tier, sent)
        dialect = dialect_for(config.kind, route.channel.name, plan.meter, tier)
        try:
            async for events in stream.batches():
                deltas = dialect.feed(events)
                if deltas:
                    yield deltas
                if dialect.failure is not None:
                    raise dialect.failure
                if dialect.done:
                    break
            last = dialect.end()
            if last:
                yield last
        except UpstreamFailure as failure:
            route.channel.breaker.failure()
            log.warning("upstream stream failed after the first delta: %s", failure)
            raise failure.mid_stream_error(detail=request.context.upstream_detail) from failure
        except BaseException:  # client gone: the upstream did answer, so it counts as up
            route.channel.breaker.success()
            raise
        else:
            finished = True
            route.channel.breaker.success()
        finally:
            if not (finished and stream.close_if_read()):  # else: there is a wait to shield
                with anyio.CancelScope(shield=True):
                    await stream.aclose(drain=finished)


def _request_for(
    route: Route, request: CanonicalRequest, plan: GenerationPlan
) -> tuple[str, dict[str, Any]]:
    config = route.channel.config
    tier = tier_for_channel(request.service_tier, config.service_tiers)
    if config.kind == "openai-chat":
        body = chat_body(request, route.upstream_model, plan.max_output_tokens, config.compat, tier)
        return "chat/completions", body
    passthrough = config.hosted_tools == "passthrough"
    body = responses_body(request, route.upstream_model, plan.max_output_tokens, tier, passthrough)
    return "responses", body


def upstream_backends(configs: Sequence[ChannelConfig]) -> list[UpstreamBackend]:
    """One backend per public model name, sharing one `Channel` (and pool) per channel."""
    channels = [Channel(config) for config in configs]
    routes: dict[str, list[Route]] = {}
    for channel in channels:
        for public, upstream in channel.config.models.items():
            routes.setdefault(public, []).append(Route(channel, upstream))
    return [UpstreamBackend(model, model_routes) for model, model_routes in routes.items()]
