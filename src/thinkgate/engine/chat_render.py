"""The one assembly rendered as Chat Completions: `chat.completion` objects and chunks.

Input is what the pipeline already produces (Responses events and settled Response
dicts); this module changes only their shape. Chunk order per choice (reference §5.4):

    role chunk {role, content: ""} → content chunks (+ logprobs) → finish chunk {}
    … each choice in turn … → usage chunk (include_usage; choices: []) → [DONE] (api.sse)

A choice that fails ends the stream with one `{"error": {...}}` chunk.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from thinkgate import __version__
from thinkgate.engine.assembler import Event, obfuscation_padding
from thinkgate.engine.request import CanonicalRequest
from thinkgate.engine.response_object import ResponseDict
from thinkgate.ids import new_chat_id

Chunk = dict[str, Any]
_FINISH = {"response.completed": "stop", "response.incomplete": "length"}
_CALL_TYPES = ("function_call", "custom_tool_call")


@dataclass(slots=True, frozen=True)
class ChatHeader:
    """The fields every object of one completion shares (chunks repeat them)."""

    id: str
    created: int
    model: str
    service_tier: str
    system_fingerprint: str

    @classmethod
    def for_request(cls, request: CanonicalRequest) -> ChatHeader:
        tier = request.service_tier or "auto"
        return cls(
            id=new_chat_id(),
            created=int(time.time()),
            model=request.model,
            service_tier="default" if tier == "auto" else tier,
            system_fingerprint=_fingerprint(request.model),
        )

    def fields(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "service_tier": self.service_tier,
            "system_fingerprint": self.system_fingerprint,
        }


def completion_object(
    header: ChatHeader, responses: list[ResponseDict], *, logprobs: bool
) -> dict[str, Any]:
    """`chat.completion`: one choice per settled response, usage summed over them."""
    choices: list[dict[str, Any]] = [
        {
            "index": index,
            "message": _message(response),
            "logprobs": {"content": _logprobs(response), "refusal": None} if logprobs else None,
            "finish_reason": _finish_reason(response),
        }
        for index, response in enumerate(responses)
    ]
    return {**header.fields("chat.completion"), "choices": choices, "usage": chat_usage(responses)}


def chat_usage(responses: list[ResponseDict]) -> dict[str, Any]:
    """The prompt is counted once (every choice read the same one), completions summed."""
    usages = [response["usage"] for response in responses if response.get("usage")]
    first = usages[0] if usages else None
    prompt = first["input_tokens"] if first else 0
    cached = first["input_tokens_details"]["cached_tokens"] if first else 0
    completion = sum(usage["output_tokens"] for usage in usages)
    reasoning = sum(usage["output_tokens_details"]["reasoning_tokens"] for usage in usages)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChunkRenderer:
    """Responses events of choice `index` → `chat.completion.chunk`s."""

    def __init__(
        self, header: ChatHeader, *, logprobs: bool, include_usage: bool, obfuscate: bool
    ) -> None:
        self._header = header
        self._logprobs = logprobs
        self._include_usage = include_usage
        self._obfuscate = obfuscate
        self.failed = False
        self._calls: dict[int, dict[str, int]] = {}  # choice → call item id → tool_calls index

    def _call_chunk(self, index: int, event: Event) -> list[Chunk]:
        """A call's first chunk carries its id and name (a custom call: its whole input,
        at done); function arguments follow as fragments."""
        item = event["item"]
        if item["type"] not in _CALL_TYPES:
            return []
        added = event["type"] == "response.output_item.added"
        if added != (item["type"] == "function_call"):
            return []
        calls = self._calls.setdefault(index, {})
        calls[item["id"]] = len(calls)
        call = {"index": calls[item["id"]], **call_wire(item)}
        return [self._choice(index, {"tool_calls": [call]})]

    def render(self, index: int, event: Event) -> list[Chunk]:
        kind = event["type"]
        if kind == "response.created":
            return [self._choice(index, {"role": "assistant", "content": "", "refusal": None})]
        if kind == "response.output_text.delta":
            if not event["delta"] and not event["logprobs"]:
                return []
            logprobs = event["logprobs"] if self._logprobs else None
            return [self._choice(index, {"content": event["delta"]}, logprobs)]
        if kind in _FINISH:
            reason = _FINISH[kind]
            if reason == "stop" and index in self._calls:
                reason = "tool_calls"
            return [self._choice(index, {}, finish_reason=reason)]
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._call_chunk(index, event)
        if kind == "response.function_call_arguments.delta":
            number = self._calls[index][event["item_id"]]
            call = {"index": number, "function": {"arguments": event["delta"]}}
            return [self._choice(index, {"tool_calls": [call]})]
        if kind == "error":
            return [self.error(event["error"])]
        return []

    def error(self, payload: dict[str, Any]) -> Chunk:
        """The SDK raises on any `data` object with a top-level `error`: the stream ends."""
        self.failed = True
        return {"error": payload}

    def usage_chunk(self, usage: dict[str, Any]) -> Chunk:
        return self._chunk([], usage)

    def _choice(
        self,
        index: int,
        delta: dict[str, Any],
        logprobs: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
    ) -> Chunk:
        choice = {
            "index": index,
            "delta": delta,
            "logprobs": None if logprobs is None else {"content": logprobs, "refusal": None},
            "finish_reason": finish_reason,
        }
        return self._chunk([choice], None)

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> Chunk:
        chunk = {**self._header.fields("chat.completion.chunk"), "choices": choices}
        if self._include_usage:
            chunk["usage"] = usage  # null on every chunk but the last, as OpenAI sends
        if self._obfuscate:
            chunk["obfuscation"] = obfuscation_padding()
        return chunk


def _message(response: ResponseDict) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": _text(response),
        "refusal": None,
        "annotations": [],
    }
    calls = [call_wire(item) for item in response["output"] if item["type"] in _CALL_TYPES]
    if calls:
        message["tool_calls"] = calls
        message["content"] = message["content"] or None
    return message


def _finish_reason(response: ResponseDict) -> str:
    if response["status"] == "incomplete":
        return "length"
    calls = any(item["type"] in _CALL_TYPES for item in response["output"])
    return "tool_calls" if calls else "stop"


def call_wire(item: dict[str, Any]) -> dict[str, Any]:
    """A function_call / custom_tool_call item as a chat `tool_calls` entry."""
    if item["type"] == "custom_tool_call":
        return {
            "id": item["call_id"],
            "type": "custom",
            "custom": {"name": item["name"], "input": item["input"]},
        }
    return {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": item["arguments"]},
    }


def _text(response: ResponseDict) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item.get("type") == "message"
        for part in item["content"]
        if part.get("type") == "output_text"
    )


def _logprobs(response: ResponseDict) -> list[dict[str, Any]]:
    return [
        logprob
        for item in response["output"]
        if item.get("type") == "message"
        for part in item["content"]
        if part.get("type") == "output_text"
        for logprob in part.get("logprobs", [])
    ]


def _fingerprint(model: str) -> str:
    """Changes when the serving configuration does, which is what a seed user needs."""
    return "fp_" + hashlib.sha256(f"thinkgate/{__version__}/{model}".encode()).hexdigest()[:10]
