"""Canonical items → chat messages for a model's own chat template.

Items the model cannot see natively (tool calls and their outputs on a model
without tool support) are written as plain text so the model still sees them.
"""

from __future__ import annotations

import json
from typing import Any

from thinkgate.backends.tool_grammar import plan_tools
from thinkgate.backends.tool_prompt import call_text, output_text, tools_note
from thinkgate.core.request import CanonicalRequest, Item, OutputFormat
from thinkgate.errors import InvalidRequestError

ChatMessage = dict[str, str]


def to_chat_messages(request: CanonicalRequest, items: list[Item]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    system = _system_text(request)
    if system:
        messages.append({"role": "system", "content": system})
    for item in items:
        message = _item_to_message(item, request.context.summaries)
        if message is not None:
            messages.append(message)
    return messages


def _system_text(request: CanonicalRequest) -> str:
    parts = [request.instructions] if request.instructions else []
    note = _format_note(request.output_format)
    if note:
        parts.append(note)
    plan = plan_tools(request)
    if plan is not None:
        parts.append(tools_note(plan))
    return "\n\n".join(parts)


def _format_note(output_format: OutputFormat) -> str:
    """Tell the model what the grammar will force, so its values make sense."""
    if output_format.type == "json_object":
        return "Respond with a single JSON object."
    if output_format.type == "json_schema" and output_format.schema is not None:
        schema = json.dumps(output_format.schema, separators=(",", ":"))
        return f"Respond with a JSON object that matches this JSON schema: {schema}"
    return ""


def _item_to_message(item: Item, summaries: dict[str, str]) -> ChatMessage | None:
    kind = item.get("type", "message")
    if kind == "message":
        role = "system" if item["role"] == "developer" else item["role"]
        return {"role": role, "content": content_text(item["content"])}
    call = call_text(item)
    if call is not None:
        return {"role": "assistant", "content": call}
    output = output_text(item)
    if output is not None:
        return {"role": "tool", "content": output}
    if kind == "compaction":
        return {"role": "system", "content": _compaction_text(item, summaries)}
    if kind == "reasoning":  # a thought sent back (opened from its sealed copy) is context
        thought = "".join(p.get("text", "") for p in item.get("content") or [])
        return {"role": "assistant", "content": f"Reasoning: {thought}"} if thought else None
    return None


def _compaction_text(item: Item, summaries: dict[str, str]) -> str:
    """A compacted history is read as a system note holding the summary (opened from its
    sealed copy by the pipeline: engine.compaction_codec)."""
    summary = summaries.get(item["encrypted_content"])
    if summary is None:
        raise InvalidRequestError(
            "Invalid 'encrypted_content': this compaction item was not made by this server.",
            param="input.encrypted_content",
            code="invalid_encrypted_content",
        )
    return f"Summary of the earlier conversation: {summary}"


def content_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind in {"input_text", "output_text", "text"}:
            texts.append(part["text"])
        elif kind == "refusal":
            texts.append(part["refusal"])
        else:
            raise InvalidRequestError(
                f"Content of type '{kind}' is not supported by this model: it reads text only.",
                param=f"input.content[{index}].type",
                code="unsupported_value",
            )
    return "".join(texts)
