"""Chat Completions chunks → Deltas: text, `reasoning_content` (vLLM, SGLang, llama.cpp,
Ollama; newer vLLM says `reasoning`), tool calls by index, and usage with cached and
reasoning tokens.

Usage comes after the finish chunk (`include_usage`), so the finish is held until the
stream ends; the upstream's counts then replace the estimates (a second `PromptDelta`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinkgate.backends.upstream.service_tiers import TierChoice
from thinkgate.core.backend import UsageMeter
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    FinishReason,
    PromptDelta,
    ReasoningDelta,
    ReasoningDoneDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
)


@dataclass(slots=True)
class _OpenCall:
    index: int
    arguments: list[str] = field(default_factory=list)


class ChatStreamTranslator:
    def __init__(self, meter: UsageMeter, tier: TierChoice | None = None) -> None:
        self._meter = meter
        self._tier = tier  # None: the response keeps the tier it was made with
        self._reported_tier: object = None  # the chunks' own `service_tier`
        self._reasoning: list[str] | None = None
        self._call: _OpenCall | None = None
        self._calls_seen: set[int] = set()
        self.finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Delta]:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        if "service_tier" in chunk:
            self._reported_tier = chunk["service_tier"]
        choices = chunk.get("choices")
        if not choices:
            return []
        deltas: list[Delta] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta:
                deltas += self._on_delta(delta)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return deltas

    def finish(self) -> list[Delta]:
        """After the stream ended with a finish reason: close what is open, then usage."""
        deltas = self._close_reasoning() + self._close_call()
        reason: FinishReason = "length" if self.finish_reason == "length" else "stop"
        tier = None if self._tier is None else self._tier.served(self._reported_tier)
        usage = self._usage
        if usage is None:  # engines that send no usage: the chunks counted are the bill
            meter = self._meter
            counted = FinishDelta(reason, meter.output_tokens, meter.reasoning_tokens, tier)
            return [*deltas, counted]
        prompt = int(usage.get("prompt_tokens") or 0)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        output = int(usage.get("completion_tokens") or 0)
        details = usage.get("completion_tokens_details") or {}
        reasoning = int(details.get("reasoning_tokens") or 0) or self._meter.reasoning_tokens
        self._meter.output_tokens = output
        return [*deltas, PromptDelta(prompt, cached), FinishDelta(reason, output, reasoning, tier)]

    # --- one chunk's delta ---------------------------------------------------------------

    def _on_delta(self, delta: dict[str, Any]) -> list[Delta]:
        content = delta.get("content")
        if (  # the common chunk: a piece of the answer, nothing open before it
            isinstance(content, str)
            and content
            and self._reasoning is None
            and self._call is None
            and "tool_calls" not in delta
            and not delta.get("reasoning_content")
            and not delta.get("reasoning")
        ):
            self._meter.output_tokens += 1
            return [TextDelta(content)]
        deltas: list[Delta] = []
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thought, str) and thought:
            if self._reasoning is None:
                self._reasoning = []
            self._reasoning.append(thought)
            self._count(reasoning=True)
            deltas.append(ReasoningDelta(thought))
        content = delta.get("content")
        if isinstance(content, str) and content:
            deltas += self._close_reasoning() + self._close_call()
            self._count()
            deltas.append(TextDelta(content))
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                deltas += self._on_call(call)
        return deltas

    def _on_call(self, call: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        index = int(call.get("index", 0))
        kind = "custom" if call.get("type") == "custom" or "custom" in call else "function"
        spec = call.get(kind) or {}
        piece = spec.get("input" if kind == "custom" else "arguments") or ""
        if self._call is None or self._call.index != index:
            deltas += self._close_reasoning() + self._close_call()
            if index in self._calls_seen:  # a late piece of an earlier call: engines don't
                return deltas
            self._calls_seen.add(index)
            self._call = _OpenCall(index)
            deltas.append(
                ToolCallStartDelta(
                    "custom" if kind == "custom" else "function", str(spec.get("name") or "")
                )
            )
        if piece:
            self._call.arguments.append(piece)
            self._count()
            deltas.append(ToolCallDelta(piece))
        return deltas

    def _close_call(self) -> list[Delta]:
        call, self._call = self._call, None
        if call is None:
            return []
        return [ToolCallDoneDelta("".join(call.arguments))]

    def _close_reasoning(self) -> list[Delta]:
        parts, self._reasoning = self._reasoning, None
        if parts is None:
            return []
        return [ReasoningDoneDelta("".join(parts))]

    def _count(self, *, reasoning: bool = False) -> None:
        """One chunk is about one token: the estimate a cut stream is billed by."""
        self._meter.output_tokens += 1
        if reasoning:
            self._meter.reasoning_tokens += 1
