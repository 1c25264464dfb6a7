"""Request models for `/v1/containers` (strict in; shapes of the openai SDK's params)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.protocol.common import StrictModel


class ExpiresAfter(StrictModel):
    anchor: Literal["last_active_at"]
    minutes: int = Field(ge=1, le=24 * 60)


class NetworkPolicy(StrictModel):
    """Only `disabled` is served: the sandbox has no network at all."""

    type: Literal["disabled"]


class CreateContainerRequest(StrictModel):
    name: str = Field(min_length=1, max_length=256)
    expires_after: ExpiresAfter | None = None
    file_ids: list[str] | None = Field(default=None, max_length=50)
    memory_limit: Literal["1g", "4g", "16g", "64g"] | None = None
    network_policy: NetworkPolicy | None = None
    skills: list[dict[str, Any]] | None = Field(default=None, max_length=0)


class CreateContainerFileRequest(StrictModel):
    file_id: str = Field(min_length=1)
