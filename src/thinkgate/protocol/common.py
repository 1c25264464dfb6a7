"""Pieces shared by the Responses and Chat Completions request models."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ServiceTier = Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]
SERVICE_TIERS = frozenset(get_args(ServiceTier))
Verbosity = Literal["low", "medium", "high"]


def shown_service_tier(tier: str | None) -> str:
    """The tier a finished response shows, as OpenAI's do: `auto` is served at `default`,
    and `fast` is OpenAI's other name for `priority` (the response says `priority`)."""
    if tier is None or tier == "auto":
        return "default"
    return "priority" if tier == "fast" else tier


class StrictModel(BaseModel):
    """Strict in: no coercion, no unknown fields (an unknown field is a 400, not ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid")


Metadata = Annotated[dict[str, str], Field(max_length=16)]


def check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    """OpenAI's limits: ≤16 pairs, keys ≤64 characters, values ≤512."""
    if value is None:
        return None
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"Invalid 'metadata': key '{key[:20]}…' is longer than 64 characters.")
        if len(item) > 512:
            raise ValueError(
                f"Invalid 'metadata': the value of '{key}' is longer than 512 characters."
            )
    return value


def normalise_cache_retention(value: str | None) -> str | None:
    """Accept the live API's `in_memory` and the GPT-5.1-era SDKs' `in-memory`."""
    if value is None:
        return None
    if value in {"in_memory", "in-memory"}:
        return "in_memory"
    if value == "24h":
        return "24h"
    raise ValueError(f"Invalid value: '{value}'. Supported values are: 'in_memory' and '24h'.")


class JsonSchemaFormat(StrictModel):
    """`text.format` of type json_schema (flat on Responses; nested under `json_schema` in chat)."""

    type: Literal["json_schema"] = "json_schema"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _schema_is_object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("Invalid schema: the schema must not be empty.")
        return value


class TextFormat(StrictModel):
    type: Literal["text"] = "text"


class JsonObjectFormat(StrictModel):
    type: Literal["json_object"] = "json_object"
