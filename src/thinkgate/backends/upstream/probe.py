"""`thinkgate channels test NAME`: is this channel reachable, does it list its models,
does a tiny completion come back, and how fast — before real traffic depends on it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from thinkgate.backends.upstream.backend import UpstreamBackend
from thinkgate.backends.upstream.channel import Channel
from thinkgate.backends.upstream.routing import Route
from thinkgate.config import ChannelConfig
from thinkgate.core.backend import GenerationPlan
from thinkgate.core.deltas import FinishDelta, TextDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.errors import ThinkgateError

PROBE_PROMPT = "Reply with the single word OK."
PROBE_TOKENS = 16


@dataclass(slots=True, frozen=True)
class ProbeStep:
    check: str
    ok: bool
    detail: str
    latency_ms: float | None = None


async def probe_channel(config: ChannelConfig) -> list[ProbeStep]:
    """The models list, then one tiny completion per public model the channel serves."""
    channel = Channel(config)
    try:
        steps = [await _models_step(channel)]
        for public, upstream in config.models.items():
            steps.append(await _completion_step(channel, public, upstream))
        return steps
    finally:
        await channel.aclose()


async def _models_step(channel: Channel) -> ProbeStep:
    started = time.perf_counter()
    try:
        listing = await channel.get_json("models")
    except Exception as exc:  # any failure is the answer this command exists to give
        return ProbeStep("GET /models", False, str(exc), _ms(started))
    ids = [str(m.get("id")) for m in listing.get("data", []) if isinstance(m, dict)]
    wanted = set(channel.config.models.values())
    missing = sorted(wanted - set(ids))
    detail = f"{len(ids)} models" + (f"; not listed: {', '.join(missing)}" if missing else "")
    return ProbeStep("GET /models", True, detail, _ms(started))


async def _completion_step(channel: Channel, public: str, upstream: str) -> ProbeStep:
    backend = UpstreamBackend(public, [Route(channel, upstream)])
    request = CanonicalRequest(
        model=public,
        input_items=[{"type": "message", "role": "user", "content": PROBE_PROMPT}],
        max_output_tokens=PROBE_TOKENS,
        store=False,
    )
    check = f"{public} → {upstream}"
    started = time.perf_counter()
    first_byte: float | None = None
    text: list[str] = []
    tokens = 0
    prepared = await backend.prepare(request, GenerationPlan(max_output_tokens=PROBE_TOKENS))
    try:
        await prepared.send()
        first_byte = _ms(started)  # the upstream answered
        async for batch in prepared.stream():
            for delta in batch:
                if isinstance(delta, TextDelta):
                    text.append(delta.text)
                elif isinstance(delta, FinishDelta):
                    tokens = delta.output_tokens
    except ThinkgateError as exc:
        return ProbeStep(check, False, exc.message, _ms(started))
    finally:
        await prepared.aclose()
    reply = "".join(text).strip().replace("\n", " ")[:40]
    detail = f"{reply!r}, {tokens} tokens, first byte {first_byte or 0:.0f} ms"
    return ProbeStep(check, True, detail, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
