"""Dependencies, named once: the services, and the API key every `/v1` route requires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from thinkgate.backends.registry import ModelRegistry
from thinkgate.config import Settings
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.errors import AuthenticationError
from thinkgate.gateway.keys import KeyRing, mask_key
from thinkgate.store import Database, ResponseRepository


@dataclass(slots=True)
class Services:
    settings: Settings
    database: Database
    keys: KeyRing
    registry: ModelRegistry
    responses: ResponseRepository
    pipeline: ResponsesPipeline


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_api_key(request: Request, services: ServicesDep) -> str:
    """The key id of the caller; a missing or wrong key is a 401 in OpenAI's words."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        missing = AuthenticationError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        missing.code = None  # OpenAI sends `code: null` for a missing key
        raise missing
    key_id = services.keys.authenticate(presented)
    if key_id is None:
        raise AuthenticationError(f"Incorrect API key provided: {mask_key(presented)}.")
    return key_id


ApiKeyDep = Annotated[str, Depends(require_api_key)]
