"""Request models for `/v1/conversations` and its items (strict in).

Items are validated one by one in `protocol.items`, as for `POST /v1/responses`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from thinkgate.protocol.common import StrictModel, check_metadata

MAX_ITEMS_PER_CALL = 20  # "You may add up to 20 items at a time."


class CreateConversationRequest(StrictModel):
    items: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_ITEMS_PER_CALL)
    metadata: dict[str, str] | None = Field(default=None, max_length=16)

    _check_metadata = field_validator("metadata")(check_metadata)


class UpdateConversationRequest(StrictModel):
    """`metadata` is required, and may be null (clears it)."""

    metadata: dict[str, str] | None = Field(max_length=16)

    _check_metadata = field_validator("metadata")(check_metadata)


class CreateItemsRequest(StrictModel):
    items: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS_PER_CALL)
