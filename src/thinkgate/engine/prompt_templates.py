"""A stored prompt template applied to a request (`prompt` on `POST /v1/responses`).

The template's messages, variables substituted, come first in what the model sees and
are echoed as the response's `instructions` (the list form OpenAI sends when a prompt
supplies messages). Like `instructions` they are not this turn's input: they are not
stored as input items and `previous_response_id` does not carry them to the next turn,
so a follow-up names the prompt again.

Variables are strict both ways: each `{{name}}` of the version needs a value, and a value
for a name the version does not use is refused, so a typo never passes silently. A text
value (a string or an `input_text` part) is spliced into the text; an `input_image` or
`input_file` value becomes a content part where its placeholder stands (a placeholder
alone makes a message of just that part).
"""

from __future__ import annotations

from typing import Any, Protocol

from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.protocol.items import InputText
from thinkgate.protocol.prompts import PLACEHOLDER, ContentVariable, PromptParam

Value = str | ContentVariable


class Template(Protocol):
    """One stored version (`store.prompts.PromptVersion`)."""

    @property
    def prompt_id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def messages(self) -> list[dict[str, str]]: ...


class PromptSource(Protocol):
    async def version(self, prompt_id: str, version: str | None) -> Template | None: ...
    async def exists(self, prompt_id: str) -> bool: ...


async def apply_prompt(
    request: CanonicalRequest, prompt: PromptParam, source: PromptSource
) -> None:
    """Resolve the template (404 for an unknown id or version), check the variables, and
    set the request's `prompt_items` and its `prompt` echo."""
    template = await source.version(prompt.id, prompt.version)
    if template is None:
        raise await _not_found(prompt, source)
    values: dict[str, Value] = dict(prompt.variables or {})
    _check_variables(template, values)
    request.context.prompt_items = [_render(message, values) for message in template.messages]
    request.prompt = {
        "id": template.prompt_id,
        "version": template.version,
        "variables": {
            name: value if isinstance(value, str) else _part(value)
            for name, value in values.items()
        },
    }


async def _not_found(prompt: PromptParam, source: PromptSource) -> NotFoundError:
    if prompt.version is not None and await source.exists(prompt.id):
        return NotFoundError(
            f"Version '{prompt.version}' of prompt '{prompt.id}' not found.",
            param="prompt.version",
            code="not_found",
        )
    return NotFoundError(
        f"Prompt with id '{prompt.id}' not found.", param="prompt.id", code="not_found"
    )


def _check_variables(template: Template, values: dict[str, Value]) -> None:
    used: dict[str, None] = {}
    for message in template.messages:
        for found in PLACEHOLDER.finditer(message["content"]):
            used.setdefault(found.group(1), None)
    missing = [name for name in used if name not in values]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise InvalidRequestError(
            f"Missing prompt variables: {names}. Version '{template.version}' of prompt "
            f"'{template.prompt_id}' needs a value for each of its variables.",
            param="prompt.variables",
            code="missing_required_parameter",
        )
    for name in values:
        if name not in used:
            known = ", ".join(f"'{n}'" for n in used) or "none"
            raise InvalidRequestError(
                f"Unknown prompt variable: '{name}'. Version '{template.version}' of prompt "
                f"'{template.prompt_id}' has these variables: {known}.",
                param=f"prompt.variables.{name}",
                code="unknown_parameter",
            )


def _render(message: dict[str, str], values: dict[str, Value]) -> Item:
    role = message["role"]
    text_type = "output_text" if role == "assistant" else "input_text"
    parts: list[Item] = []
    text = ""
    position = 0
    for found in PLACEHOLDER.finditer(message["content"]):
        text += message["content"][position : found.start()]
        position = found.end()
        value = values[found.group(1)]
        if isinstance(value, str | InputText):
            text += value if isinstance(value, str) else value.text
            continue
        if role == "assistant":
            raise InvalidRequestError(
                f"Invalid value for prompt variable '{found.group(1)}': an image or file "
                "cannot stand in an assistant message of the template.",
                param=f"prompt.variables.{found.group(1)}",
                code="invalid_value",
            )
        parts += [*_text_part(text, text_type), _part(value)]
        text = ""
    parts += _text_part(text + message["content"][position:], text_type)
    if not parts:
        parts = _text_part("", text_type, keep_empty=True)
    return {"type": "message", "role": role, "content": parts, "status": "completed"}


def _part(value: ContentVariable) -> Item:
    """A content part as items hold it (an image's `detail` is "auto" unless given)."""
    part = value.model_dump(exclude_none=True)
    if part["type"] == "input_image":
        part.setdefault("detail", "auto")
    return part


def _text_part(text: str, text_type: str, *, keep_empty: bool = False) -> list[Item]:
    if not text and not keep_empty:
        return []
    part: dict[str, Any] = {"type": text_type, "text": text}
    if text_type == "output_text":
        part["annotations"] = []
    return [part]


def instructions_echo(request: CanonicalRequest) -> str | list[Item] | None:
    """The response's `instructions`: the request's string, or, with a prompt template,
    the messages the model saw first, as input items (the SDK's list form)."""
    if request.prompt is None:
        return request.instructions
    head = [] if request.instructions is None else [_developer(request.instructions)]
    return [*head, *(_echo_item(item) for item in request.context.prompt_items)]


def _developer(text: str) -> Item:
    return {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": text}],
    }


def _echo_item(item: Item) -> Item:
    """An assistant message as the SDK's easy input message (its text as a string); the
    others keep their input parts."""
    if item["role"] == "assistant":
        text = "".join(part.get("text", "") for part in item["content"])
        return {"type": "message", "role": "assistant", "content": text}
    return {"type": "message", "role": item["role"], "content": item["content"]}
