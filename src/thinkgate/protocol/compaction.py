"""Request model for `POST /v1/responses/compact` (strict in)."""

from __future__ import annotations

from pydantic import Field, field_validator

from thinkgate.protocol.common import ServiceTier, StrictModel, normalise_cache_retention
from thinkgate.protocol.limits import InputItems


class CompactRequest(StrictModel):
    model: str = Field(min_length=1)
    input: str | InputItems | None = None
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    prompt_cache_key: str | None = Field(default=None, max_length=1024)
    prompt_cache_retention: str | None = None
    service_tier: ServiceTier | None = None

    _normalise_retention = field_validator("prompt_cache_retention")(normalise_cache_retention)
