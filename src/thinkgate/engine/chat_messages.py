"""Chat messages → canonical (Responses-shaped) input items.

    system / developer / user  → message item (input_text, input_image, input_file parts)
    assistant content          → assistant message item (output_text, refusal parts)
    assistant tool_calls       → one function_call item per call
    tool                       → function_call_output item

A tool message must answer a call of the assistant message just before it, and every
call must be answered before the conversation moves on: OpenAI refuses both, and a
model shown a dangling call or an orphan result is being shown a broken transcript.
"""

from __future__ import annotations

from thinkgate.core.request import Item
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.chat_messages import (
    AudioPart,
    ChatMessage,
    ContentPart,
    CustomToolCall,
    FilePart,
    ImagePart,
    RefusalPart,
    TextPart,
)


def items_from_messages(messages: list[ChatMessage]) -> list[Item]:
    items: list[Item] = []
    open_calls: dict[str, int] = {}  # call id → index of the assistant message that made it
    custom: set[str] = set()  # ids of custom tool calls: answered by custom outputs
    for message in messages:
        if message.role == "tool":
            _answer(open_calls, message)
            items.append(_tool_output(message, custom=message.tool_call_id in custom))
            continue
        _require_answered(open_calls)
        items.extend(_items_of(message))
        open_calls = {call.id: message.index for call in message.tool_calls}
        custom |= {c.id for c in message.tool_calls if isinstance(c, CustomToolCall)}
    _require_answered(open_calls)
    return items


def _answer(open_calls: dict[str, int], message: ChatMessage) -> None:
    if message.tool_call_id not in open_calls:
        raise InvalidRequestError(
            "Invalid parameter: messages with role 'tool' must be a response to a preceding "
            f"message with 'tool_calls' (no open call has id '{message.tool_call_id}').",
            param=f"messages[{message.index}]",
        )
    del open_calls[message.tool_call_id]


def _require_answered(open_calls: dict[str, int]) -> None:
    if not open_calls:
        return
    index = min(open_calls.values())
    missing = ", ".join(sorted(open_calls))
    raise InvalidRequestError(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        f"{missing}",
        param=f"messages[{index}]",
    )


def _items_of(message: ChatMessage) -> list[Item]:
    items: list[Item] = []
    if message.parts:
        content = [_part(message, number, part) for number, part in enumerate(message.parts)]
        items.append(
            {"type": "message", "role": message.role, "content": content, "status": "completed"}
        )
    for call in message.tool_calls:
        if isinstance(call, CustomToolCall):
            items.append(
                {
                    "type": "custom_tool_call",
                    "call_id": call.id,
                    "name": call.custom.name,
                    "input": call.custom.input,
                }
            )
            continue
        items.append(
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.function.name,
                "arguments": call.function.arguments,
                "status": "completed",
            }
        )
    return items


def _tool_output(message: ChatMessage, *, custom: bool = False) -> Item:
    text = "".join(part.text for part in message.parts if isinstance(part, TextPart))
    if custom:
        return {"type": "custom_tool_call_output", "call_id": message.tool_call_id, "output": text}
    return {
        "type": "function_call_output",
        "call_id": message.tool_call_id,
        "output": text,
        "status": "completed",
    }


def _part(message: ChatMessage, number: int, part: ContentPart) -> Item:
    if isinstance(part, TextPart):
        if message.role == "assistant":
            return {"type": "output_text", "text": part.text, "annotations": []}
        return {"type": "input_text", "text": part.text}
    if isinstance(part, RefusalPart):
        return {"type": "refusal", "refusal": part.refusal}
    if isinstance(part, ImagePart):
        return {
            "type": "input_image",
            "image_url": part.image_url.url,
            "detail": part.image_url.detail or "auto",
        }
    if isinstance(part, FilePart):
        return {"type": "input_file", **part.file.model_dump(exclude_none=True)}
    assert isinstance(part, AudioPart)
    raise InvalidRequestError(
        "Audio input is not supported by this server.",
        param=f"messages[{message.index}].content[{number}].type",
        code="unsupported_value",
    )
