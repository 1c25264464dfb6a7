"""`GET /v1/models` and `GET /v1/models/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from thinkgate.api.deps import ApiKeyDep, ServicesDep

router = APIRouter()


@router.get("/v1/models")
async def list_models(services: ServicesDep, _key: ApiKeyDep) -> dict[str, Any]:
    return {"object": "list", "data": [m.to_wire() for m in services.registry.models()]}


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: str, services: ServicesDep, _key: ApiKeyDep) -> dict[str, Any]:
    info, _ = services.registry.resolve(model_id)
    return info.to_wire()
