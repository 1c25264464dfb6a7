"""Chat Completions from the pipeline's Deltas: `chat.completion` objects and chunks.

Chunk order per choice (reference §5.4):

    role chunk {role, content: ""} → content chunks (+ logprobs) → finish chunk {}
    … each choice in turn … → usage chunk (include_usage; choices: []) → [DONE] (api.sse)

A choice that fails ends the stream with one `{"error": {...}}` chunk.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from thinkgate import __version__
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    PromptDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
)
from thinkgate.core.request import CanonicalRequest, ResponseDict
from thinkgate.engine.delta_extras import PADDINGS, logprob_wire, obfuscation_padding, padding_index
from thinkgate.engine.response_object import usage_object
from thinkgate.errors import ThinkgateError
from thinkgate.ids import new_call_id, new_chat_id
from thinkgate.protocol.common import shown_service_tier

# A chunk as an object, or already JSON: a streamed text chunk (most of them) is written
# from its choice's template (`_TextChunks`) instead of building and serializing a dict.
Chunk = dict[str, Any] | bytes


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
        return cls(
            id=new_chat_id(),
            created=int(time.time()),
            model=request.model,
            service_tier=shown_service_tier(request.service_tier),
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


class ChatAssembler:
    """One choice's Deltas → its `chat.completion.chunk`s (streaming) and its choice object.

    The pipeline's assembler for chat requests (`ResponsesPipeline.start(assembler=…)`):
    chat shows no reasoning, no item ids and no per-event envelopes, so the Responses
    events a `ResponseAssembler` builds (and snapshots) would only be thrown away here.
    `response` is the little the run settles with: id, status and usage.
    """

    shows_reasoning = False
    awaits_settling = False  # nothing is stored; `ChatRun` awaits every run's `aclose()`

    def __init__(
        self,
        header: ChatHeader,
        index: int,
        *,
        stream: bool,
        logprobs: bool,
        include_usage: bool,
        obfuscate: bool,
    ) -> None:
        self.response: ResponseDict = {"id": header.id, "status": "in_progress"}
        self.finished = False
        self.error: dict[str, Any] | None = None  # the failure payload, once failed
        self.input_tokens = self.cached_tokens = self.output_tokens = self.reasoning_tokens = 0
        self._index = index
        self._stream = stream
        self._logprobs = logprobs
        self._obfuscate = obfuscate
        self._base = header.fields("chat.completion.chunk")
        if include_usage:
            self._base["usage"] = None  # null on every chunk but the last, as OpenAI sends
        self._text_chunks = (
            _TextChunks.of(self._chunk({"content": ""}, padded=False)) if stream else None
        )
        self._text: list[str] = []
        self._token_logprobs: list[dict[str, Any]] = []
        self._calls: list[_Call] = []
        self._open: _Call | None = None

    # --- the assembler's steps (engine.pipeline.ResponseRun drives them) ----------------

    def start(self) -> list[Chunk]:
        return [self._chunk({"role": "assistant", "content": "", "refusal": None})]

    def feed(self, delta: Delta) -> list[Chunk]:
        if isinstance(delta, TextDelta):
            return self._on_text(delta)
        if isinstance(delta, PromptDelta):
            self.input_tokens, self.cached_tokens = delta.input_tokens, delta.cached_tokens
            return []
        if isinstance(delta, FinishDelta):
            return self._finish(delta)
        if isinstance(delta, ToolCallStartDelta):
            return self._close_call(None) + self._open_call(delta)
        if isinstance(delta, ToolCallDelta):
            return self._on_arguments(delta.text)
        if isinstance(delta, ToolCallDoneDelta):
            return self._close_call(delta.payload)
        return []  # reasoning: chat shows none of it (its tokens come with the finish)

    def fail(self, error: ThinkgateError) -> list[Chunk]:
        """One `{"error": …}` chunk: the SDK raises on it, and the stream ends."""
        chunks = self._close_call(None)
        self.error = {**error.to_payload(), "code": error.code or error.error_type}
        self.response["status"] = "failed"
        self.finished = True
        return [*chunks, {"error": self.error}] if self._stream else []

    def cancel(self, *, output_tokens: int, reasoning_tokens: int = 0) -> None:
        """The client went away: what was produced is counted, the choice is cancelled."""
        self.output_tokens, self.reasoning_tokens = output_tokens, reasoning_tokens
        self._close_call(None)
        self._settle("cancelled")

    # --- what the chat run renders ------------------------------------------------------

    def choice(self) -> dict[str, Any]:
        """The settled choice of a `chat.completion`."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self._text),
            "refusal": None,
            "annotations": [],
        }
        if self._calls:
            message["tool_calls"] = [call.wire() for call in self._calls]
            message["content"] = message["content"] or None
        logprobs = {"content": self._token_logprobs, "refusal": None} if self._logprobs else None
        return {
            "index": self._index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": self._finish_reason(),
        }

    def usage_chunk(self, usage: dict[str, Any]) -> dict[str, Any]:
        return self._padded({**self._base, "choices": [], "usage": usage})

    # --- steps --------------------------------------------------------------------------

    def _on_text(self, delta: TextDelta) -> list[Chunk]:
        self._text.append(delta.text)
        logprobs = [logprob_wire(lp) for lp in delta.logprobs]
        self._token_logprobs += logprobs
        if not self._stream or (not delta.text and not logprobs):
            return []
        if self._text_chunks is not None and not self._logprobs:
            return [self._text_chunks.render(delta.text, self._obfuscate)]
        return [self._chunk({"content": delta.text}, logprobs if self._logprobs else None)]

    def _open_call(self, delta: ToolCallStartDelta) -> list[Chunk]:
        if delta.tool not in ("function", "custom"):
            return []  # apply_patch and shell have no chat form (chat cannot offer them)
        call = self._open = _Call(len(self._calls), delta.tool, delta.name, new_call_id())
        self._calls.append(call)
        if delta.tool != "function":
            return []  # a custom call is sent whole, when complete
        return self._tool_chunk({"index": call.index, **call.wire()})

    def _on_arguments(self, text: str) -> list[Chunk]:
        call = self._open
        if call is None or not text:
            return []
        call.text.append(text)
        if call.tool != "function":
            return []
        return self._tool_chunk({"index": call.index, "function": {"arguments": text}})

    def _close_call(self, payload: str | dict[str, Any] | None) -> list[Chunk]:
        """`payload` None: generation stopped mid-call; what arrived is kept."""
        call, self._open = self._open, None
        if call is None:
            return []
        if payload is not None:
            call.text = [str(payload)]
        if call.tool != "custom":
            return []
        return self._tool_chunk({"index": call.index, **call.wire()})

    def _finish(self, delta: FinishDelta) -> list[Chunk]:
        self.output_tokens, self.reasoning_tokens = delta.output_tokens, delta.reasoning_tokens
        chunks = self._close_call(None)
        self._settle("incomplete" if delta.reason == "length" else "completed")
        if self._stream:
            chunks.append(self._chunk({}, finish_reason=self._finish_reason()))
        return chunks

    def _settle(self, status: str) -> None:
        self.finished = True
        self.response["status"] = status
        self.response["usage"] = usage_object(
            self.input_tokens, self.cached_tokens, self.output_tokens, self.reasoning_tokens
        )

    def _finish_reason(self) -> str:
        if self.response["status"] == "incomplete":
            return "length"
        return "tool_calls" if self._calls else "stop"

    # --- chunks -------------------------------------------------------------------------

    def _tool_chunk(self, call: dict[str, Any]) -> list[Chunk]:
        return [self._chunk({"tool_calls": [call]})] if self._stream else []

    def _chunk(
        self,
        delta: dict[str, Any],
        logprobs: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        *,
        padded: bool = True,
    ) -> dict[str, Any]:
        choice = {
            "index": self._index,
            "delta": delta,
            "logprobs": None if logprobs is None else {"content": logprobs, "refusal": None},
            "finish_reason": finish_reason,
        }
        chunk = self._base.copy()
        chunk["choices"] = [choice]
        return self._padded(chunk) if padded else chunk

    def _padded(self, chunk: dict[str, Any]) -> dict[str, Any]:
        if self._obfuscate:
            chunk["obfuscation"] = obfuscation_padding()
        return chunk


@dataclass(slots=True, frozen=True)
class _TextChunks:
    """One choice's text chunk as JSON around its content: `head` + the text as a JSON
    string + a tail (`}`, or `,"obfuscation":"…"}` with one of the paddings), the bytes
    `orjson.dumps` makes of the chunk's dict, key for key."""

    head: bytes
    tail: bytes
    padded_tails: tuple[bytes, ...]  # one per padding, in `PADDINGS` order

    @classmethod
    def of(cls, shape: dict[str, Any]) -> _TextChunks | None:
        """From the chunk with empty content; None where the marker cannot be found once
        (a model name carrying it): such a choice builds its chunks as dicts."""
        shape["choices"][0]["delta"]["content"] = _MARKER
        parts = orjson.dumps(shape).split(orjson.dumps(_MARKER))
        if len(parts) != 2 or not parts[1].endswith(b"}"):
            return None
        return cls(parts[0], parts[1], _padded_tails(parts[1][:-1]))

    def render(self, text: str, padded: bool) -> bytes:
        tail = self.padded_tails[padding_index()] if padded else self.tail
        return self.head + orjson.dumps(text) + tail


@functools.lru_cache(maxsize=64)
def _padded_tails(open_tail: bytes) -> tuple[bytes, ...]:
    """The tail with each padding: the same for every request (the head holds the id and
    time), so made once, not per streamed request."""
    return tuple(open_tail + b',"obfuscation":' + orjson.dumps(p) + b"}" for p in PADDINGS)


_MARKER = "\x00text\x00"


@dataclass(slots=True)
class _Call:
    """A tool call of the choice: its place in `tool_calls`, and its text so far."""

    index: int
    tool: str
    name: str
    call_id: str
    text: list[str] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        """The `tool_calls` entry (a function's first chunk: arguments follow in pieces)."""
        text = "".join(self.text)
        if self.tool == "custom":
            return {
                "id": self.call_id,
                "type": "custom",
                "custom": {"name": self.name, "input": text},
            }
        return {
            "id": self.call_id,
            "type": "function",
            "function": {"name": self.name, "arguments": text},
        }


def completion_object(header: ChatHeader, choices: list[ChatAssembler]) -> dict[str, Any]:
    """`chat.completion`: one choice per settled assembler, usage summed over them."""
    return {
        **header.fields("chat.completion"),
        "choices": [choice.choice() for choice in choices],
        "usage": chat_usage(choices),
    }


def chat_usage(choices: list[ChatAssembler]) -> dict[str, Any]:
    """The prompt is counted once (every choice read the same one), completions summed."""
    first = choices[0] if choices else None
    prompt = first.input_tokens if first else 0
    cached = first.cached_tokens if first else 0
    completion = sum(choice.output_tokens for choice in choices)
    reasoning = sum(choice.reasoning_tokens for choice in choices)
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


@functools.lru_cache(maxsize=256)
def _fingerprint(model: str) -> str:
    """Changes when the serving configuration does, which is what a seed user needs."""
    return "fp_" + hashlib.sha256(f"thinkgate/{__version__}/{model}".encode()).hexdigest()[:10]
