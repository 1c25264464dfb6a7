"""Dependencies, named once: the services, and the API key every `/v1` route requires.

All `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread
hand-off per dependency per request on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from thinkgate.api.gateway_headers import attach_account
from thinkgate.api.observe import request_info
from thinkgate.backends.registry import ModelRegistry
from thinkgate.config import Settings
from thinkgate.engine.background import BackgroundJobs
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.errors import AuthenticationError, PermissionDeniedError
from thinkgate.gateway.account import Account
from thinkgate.gateway.admin import Admin
from thinkgate.gateway.keys import KeyRing
from thinkgate.gateway.service import Gateway
from thinkgate.store import (
    ConversationRepository,
    Database,
    ResponseEventRepository,
    ResponseRepository,
)
from thinkgate.store.keys import KeyRecord


@dataclass(slots=True)
class Services:
    settings: Settings
    database: Database
    keys: KeyRing
    registry: ModelRegistry
    responses: ResponseRepository
    pipeline: ResponsesPipeline
    conversations: ConversationRepository
    response_events: ResponseEventRepository
    jobs: BackgroundJobs
    gateway: Gateway
    admin: Admin


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def require_key(request: HTTPConnection, services: ServicesDep) -> KeyRecord:
    """The caller's key; missing, wrong, expired or revoked is a 401 in OpenAI's words.
    A request or a WebSocket upgrade (`api.responses_ws`) alike."""
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
    client = request.client.host if request.client is not None else None
    key = await services.gateway.authenticate(presented, client)
    info = request_info(request.scope)
    if info is not None:  # the access log names the key by id, never by its secret
        info.key_id = key.id
    return key


KeyDep = Annotated[KeyRecord, Depends(require_key)]


async def require_api_key(key: KeyDep) -> str:
    """The key id of the caller."""
    return key.id


ApiKeyDep = Annotated[str, Depends(require_api_key)]


async def account_for(request: Request, services: ServicesDep, key: KeyDep) -> Account:
    """The caller's account for one generation request: the pipeline's `Admission`."""
    path: str = request.scope["path"]  # not `request.url`: it builds a whole URL object
    account = services.gateway.account(key, path.rsplit("/", 1)[-1])
    attach_account(request.scope, account)
    info = request_info(request.scope)
    if info is not None:
        info.account = account
    return account


AccountDep = Annotated[Account, Depends(account_for)]


async def require_admin(key: KeyDep) -> KeyRecord:
    if not key.is_admin:
        raise PermissionDeniedError(
            "You have insufficient permissions for this operation: it needs an admin key.",
            code="insufficient_permissions",
        )
    return key


AdminDep = Annotated[KeyRecord, Depends(require_admin)]


async def owner_of(key: KeyDep) -> str:
    """Whose data the caller may see: the key's user, so that keys of one user share
    responses (a key without a user owns its own)."""
    return key.user_id or key.id


OwnerDep = Annotated[str, Depends(owner_of)]
