"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's list, each entry also carrying
what clients configure themselves from (backends.catalog). The list repeats its entries
under `models`, the key Codex reads (its `client_version` query is accepted and unused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from thinkgate.api.deps import ApiKeyDep, ServicesDep
from thinkgate.backends.catalog import catalog_entry

router = APIRouter()


@router.get("/v1/models")
async def list_models(services: ServicesDep, _key: ApiKeyDep) -> dict[str, Any]:
    registry = services.registry
    entries = []
    for priority, info in enumerate(registry.models()):
        _, backend = registry.resolve(info.id)
        entries.append(catalog_entry(info, backend.capabilities(), priority))
    return {"object": "list", "data": entries, "models": entries}


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: str, services: ServicesDep, _key: ApiKeyDep) -> dict[str, Any]:
    info, backend = services.registry.resolve(model_id)
    priority = [model.id for model in services.registry.models()].index(info.id)
    return catalog_entry(info, backend.capabilities(), priority)
