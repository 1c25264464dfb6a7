"""`GET /v1/internal/cache`: the prompt cache's counters, for admins (until /metrics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from thinkgate.api.deps import AdminDep, ServicesDep

router = APIRouter()


@router.get("/v1/internal/cache")
async def prompt_cache_stats(services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    return {"object": "prompt_cache.stats", **services.registry.prompt_cache.snapshot()}
