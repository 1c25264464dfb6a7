"""Stored prompt templates on the wire: the `prompt` of `POST /v1/responses` (the SDK's
`ResponsePromptParam`) and the bodies the admin API creates templates from."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.items import InputFile, InputImage, InputText

# `{{name}}`, spaces inside the braces allowed, as OpenAI's dashboard writes them.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_VARIABLES = 64
MAX_TEMPLATE_MESSAGES = 64

ContentVariable = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]


class PromptParam(StrictModel):
    """`prompt` on a create request: the template, its version (the latest when left out),
    and a value per variable: a string, or an `input_text`/`input_image`/`input_file` part."""

    id: str = Field(min_length=1, max_length=80)
    version: str | None = Field(default=None, max_length=20)
    variables: dict[str, str | ContentVariable] | None = Field(
        default=None, max_length=MAX_VARIABLES
    )


class TemplateMessage(StrictModel):
    """One message of a template; `{{name}}` in its text is a variable."""

    role: Literal["developer", "system", "user", "assistant"]
    content: str = Field(max_length=200_000)


class PromptVersionBody(StrictModel):
    """A template version: `instructions` (a developer message first) and/or `messages`."""

    instructions: str | None = Field(default=None, max_length=200_000)
    messages: list[TemplateMessage] | None = Field(default=None, max_length=MAX_TEMPLATE_MESSAGES)

    @model_validator(mode="after")
    def _not_empty(self) -> PromptVersionBody:
        if not self.instructions and not self.messages:
            raise ValueError("A prompt version needs 'instructions' or at least one message.")
        return self

    def template_messages(self) -> list[TemplateMessage]:
        head = [TemplateMessage(role="developer", content=self.instructions or "")]
        return [*(head if self.instructions else []), *(self.messages or [])]


class CreatePromptBody(PromptVersionBody):
    """`POST /admin/v1/prompts`: the prompt and its version "1"."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


def variable_names(messages: list[TemplateMessage]) -> list[str]:
    """Each variable once, in the order it first appears."""
    seen: dict[str, None] = {}
    for message in messages:
        for found in PLACEHOLDER.finditer(message.content):
            seen.setdefault(found.group(1), None)
    return list(seen)
