"""Input items of the Responses API, validated one at a time.

Each item is checked against the model its `type` selects (a message when the
type is absent, as in the SDK's "easy" input message), so an error names the
exact place: `input[3].content[0].text`. Valid items are returned as plain,
normalised JSON dicts: the canonical item form stored and replayed later.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.client_items import (
    CLIENT_ITEM_MODELS,
    is_bare_reference,
    without_private_fields,
)
from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.mcp_models import MCP_ITEM_MODELS
from thinkgate.protocol.parsing import validate
from thinkgate.protocol.tools import parse_tools

Item = dict[str, Any]


class InputText(StrictModel):
    type: Literal["input_text"]
    text: str


class OutputText(StrictModel):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None


class Refusal(StrictModel):
    type: Literal["refusal"]
    refusal: str


class InputImage(StrictModel):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto"] | None = None


class InputFile(StrictModel):
    type: Literal["input_file"]
    file_id: str | None = None
    file_url: str | None = None
    file_data: str | None = None
    filename: str | None = None


_CONTENT_MODELS: dict[str, type[StrictModel]] = {
    "input_text": InputText,
    "output_text": OutputText,
    "refusal": Refusal,
    "input_image": InputImage,
    "input_file": InputFile,
}


class Message(StrictModel):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[dict[str, Any]]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    # An assistant message's place in its turn (GPT-5.3-codex and later): kept, echoed.
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCall(StrictModel):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    arguments: str
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    namespace: str | None = Field(default=None, min_length=1)


class FunctionCallOutput(StrictModel):
    type: Literal["function_call_output"]
    # Optional, as in OpenAI's types: Codex sends tool output of its own that answers no
    # call (`name` "goal_objective", `namespace` "agent"); such an item must name its tool.
    call_id: str | None = Field(default=None, min_length=1, max_length=64)
    output: str | list[dict[str, Any]]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    name: str | None = None
    namespace: str | None = None


class Reasoning(StrictModel):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[dict[str, Any]]
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class CustomToolCall(StrictModel):
    type: Literal["custom_tool_call"]
    call_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    input: str
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    namespace: str | None = Field(default=None, min_length=1)


class CustomToolCallOutput(StrictModel):
    type: Literal["custom_tool_call_output"]
    call_id: str = Field(min_length=1, max_length=64)
    output: str | list[dict[str, Any]]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    name: str | None = None  # Codex names the tool that answered
    namespace: str | None = None


class CreateFile(StrictModel):
    type: Literal["create_file"]
    path: str = Field(min_length=1)
    diff: str


class UpdateFile(StrictModel):
    type: Literal["update_file"]
    path: str = Field(min_length=1)
    diff: str


class DeleteFile(StrictModel):
    type: Literal["delete_file"]
    path: str = Field(min_length=1)


class ApplyPatchCall(StrictModel):
    type: Literal["apply_patch_call"]
    call_id: str = Field(min_length=1, max_length=64)
    operation: CreateFile | UpdateFile | DeleteFile = Field(discriminator="type")
    status: Literal["in_progress", "completed"]
    id: str | None = None
    created_by: str | None = None


class ApplyPatchCallOutput(StrictModel):
    type: Literal["apply_patch_call_output"]
    call_id: str = Field(min_length=1, max_length=64)
    status: Literal["completed", "failed"]
    output: str | None = None
    id: str | None = None
    created_by: str | None = None


class ShellAction(StrictModel):
    commands: list[str]
    timeout_ms: int | None = None
    max_output_length: int | None = None


class ShellCall(StrictModel):
    type: Literal["shell_call"]
    call_id: str = Field(min_length=1, max_length=64)
    action: ShellAction
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    id: str | None = None
    created_by: str | None = None


class ShellOutcomeExit(StrictModel):
    type: Literal["exit"]
    exit_code: int


class ShellOutcomeTimeout(StrictModel):
    type: Literal["timeout"]


class ShellCommandOutput(StrictModel):
    stdout: str
    stderr: str
    outcome: ShellOutcomeExit | ShellOutcomeTimeout = Field(discriminator="type")
    created_by: str | None = None


class ShellCallOutput(StrictModel):
    type: Literal["shell_call_output"]
    call_id: str = Field(min_length=1, max_length=64)
    output: list[ShellCommandOutput]
    max_output_length: int | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    id: str | None = None
    created_by: str | None = None


class Compaction(StrictModel):
    """What `POST /v1/responses/compact` returned, passed back as input."""

    type: Literal["compaction"]
    encrypted_content: str = Field(min_length=1)
    id: str | None = None
    created_by: str | None = None


_ITEM_MODELS: dict[str, type[StrictModel]] = {
    "message": Message,
    "function_call": FunctionCall,
    "function_call_output": FunctionCallOutput,
    "reasoning": Reasoning,
    "custom_tool_call": CustomToolCall,
    "custom_tool_call_output": CustomToolCallOutput,
    "apply_patch_call": ApplyPatchCall,
    "apply_patch_call_output": ApplyPatchCallOutput,
    "shell_call": ShellCall,
    "shell_call_output": ShellCallOutput,
    "compaction": Compaction,
    **CLIENT_ITEM_MODELS,
    **MCP_ITEM_MODELS,
}
# Items that take no default `status` (their SDK types have none, or it is optional).
_NO_STATUS = frozenset(
    ("reasoning", "custom_tool_call", "custom_tool_call_output", "compaction", "item_reference")
) | {"mcp_list_tools", "mcp_approval_request", "mcp_approval_response"}


def parse_input(value: str | list[dict[str, Any]] | None, *, param: str = "input") -> list[Item]:
    """A string is one user message; a list is validated item by item."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_user_text(value)]
    return [parse_item(item, f"{param}[{index}]") for index, item in enumerate(value)]


def parse_item(raw: Any, param: str) -> Item:
    if not isinstance(raw, dict):
        raise InvalidRequestError(
            f"Invalid type for '{param}': expected an object.", param=param, code="invalid_type"
        )
    raw = without_private_fields(raw)
    kind = "item_reference" if is_bare_reference(raw) else raw.get("type", "message")
    model = _ITEM_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidRequestError(
            f"Invalid value: '{kind}'. Supported values are: "
            + ", ".join(f"'{name}'" for name in _ITEM_MODELS)
            + ".",
            param=f"{param}.type",
            code="invalid_value",
        )
    item = validate(raw, model, prefix=param).model_dump(exclude_none=True, by_alias=True)
    if item["type"] == "message":
        item["content"] = _parse_content(item["role"], item["content"], f"{param}.content")
    elif item["type"] == "tool_search_output":
        item["tools"] = parse_tools(item["tools"], param=f"{param}.tools")
    if item["type"] == "function_call_output" and "call_id" not in item and "name" not in item:
        raise InvalidRequestError(
            f"Missing required parameter: '{param}.call_id'.",
            param=f"{param}.call_id",
            code="missing_required_parameter",
        )
    if item["type"].startswith("tool_search"):
        item.setdefault("execution", "client")
        item.setdefault("call_id", None)  # the SDK's types require the key
    if item["type"] not in _NO_STATUS:
        item.setdefault("status", "completed")  # listed later as the SDK's item types
    return item


def _parse_content(role: str, content: str | list[dict[str, Any]], param: str) -> list[Item]:
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        part: Item = {"type": text_type, "text": content}
        if text_type == "output_text":
            part["annotations"] = []
        return [part]
    parts = []
    for index, raw in enumerate(content):
        where = f"{param}[{index}]"
        kind = raw.get("type")
        model = _CONTENT_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise InvalidRequestError(
                f"Invalid value: '{kind}'. Supported values are: "
                + ", ".join(f"'{name}'" for name in _CONTENT_MODELS)
                + ".",
                param=f"{where}.type",
                code="invalid_value",
            )
        part = validate(raw, model, prefix=where).model_dump(exclude_none=True)
        if part["type"] == "output_text":
            part.setdefault("annotations", [])
        parts.append(part)
    return parts


def _user_text(text: str) -> Item:
    content = [{"type": "input_text", "text": text}]
    return {"type": "message", "role": "user", "content": content, "status": "completed"}
