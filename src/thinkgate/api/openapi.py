"""The OpenAPI document at `/openapi.json`, told truly.

Most routes read their raw body and validate it with `protocol.parse_body` (to word errors
as OpenAI does), so FastAPI sees no body model and documents none; and FastAPI documents a
422 we never send. This module completes the document once, when it is first asked for:

- request bodies from the same pydantic models `parse_body` validates against;
- 200 bodies as the openai SDK's own types (JSON and, where a route streams, SSE);
- the error statuses each route can answer, with the OpenAI error body;
- bearer authentication on every `/v1` and `/admin/v1` operation;
- the plain Starlette routes (the two generation routes, `api.generation`), which FastAPI
  does not document, written as FastAPI writes its own.

A fuzzer (tests/api/test_fuzz_api.py) then generates requests from it and checks each answer
against it, so a drift between this table and the routes shows up as a failing test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from openai.types import FileObject, Model, VectorStore
from openai.types.chat import ChatCompletion
from openai.types.conversations import Conversation, ConversationItemList
from openai.types.responses import CompactedResponse, Response
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute, Route

from thinkgate.api.admin import CreateKey, CreateUser, UpdateUser
from thinkgate.api.admin_billing import Adjustment, Assignment, CodeBatch, PlanBody, Redeem
from thinkgate.protocol.chat import ChatCompletionRequest
from thinkgate.protocol.compaction import CompactRequest
from thinkgate.protocol.conversations import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)
from thinkgate.protocol.files import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)
from thinkgate.protocol.prompts import CreatePromptBody, PromptVersionBody
from thinkgate.protocol.responses import CreateResponseRequest, InputTokensRequest

_REF = "#/components/schemas/{model}"
_JSON = "application/json"
_SSE = "text/event-stream"

# (method, path) → the model its raw body is parsed with.
REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/v1/responses"): CreateResponseRequest,
    ("post", "/v1/responses/input_tokens"): InputTokensRequest,
    ("post", "/v1/responses/compact"): CompactRequest,
    ("post", "/v1/chat/completions"): ChatCompletionRequest,
    ("post", "/v1/conversations"): CreateConversationRequest,
    ("post", "/v1/conversations/{conversation_id}"): UpdateConversationRequest,
    ("post", "/v1/conversations/{conversation_id}/items"): CreateItemsRequest,
    ("post", "/v1/vector_stores"): CreateVectorStoreRequest,
    ("post", "/v1/vector_stores/{vector_store_id}"): UpdateVectorStoreRequest,
    ("post", "/v1/vector_stores/{vector_store_id}/files"): CreateVectorStoreFileRequest,
    ("post", "/v1/vector_stores/{vector_store_id}/files/{file_id}"): UpdateVectorStoreFileRequest,
    ("post", "/v1/vector_stores/{vector_store_id}/file_batches"): CreateFileBatchRequest,
    ("post", "/admin/v1/users"): CreateUser,
    ("patch", "/admin/v1/users/{user_id}"): UpdateUser,
    ("post", "/admin/v1/keys"): CreateKey,
    ("post", "/admin/v1/prompts"): CreatePromptBody,
    ("post", "/admin/v1/prompts/{prompt_id}/versions"): PromptVersionBody,
    ("post", "/admin/v1/users/{user_id}/wallet/adjustments"): Adjustment,
    ("post", "/admin/v1/redemption_codes"): CodeBatch,
    ("post", "/admin/v1/plans"): PlanBody,
    ("put", "/admin/v1/plans/{plan_id}"): PlanBody,
    ("put", "/admin/v1/users/{user_id}/plan"): Assignment,
    ("put", "/admin/v1/keys/{key_id}/plan"): Assignment,
    ("post", "/v1/wallet/redeem"): Redeem,
}

# (method, path) → the SDK type of its 200 body, and whether it may stream instead.
RESPONSE_BODIES: dict[tuple[str, str], tuple[type[BaseModel], bool]] = {
    ("post", "/v1/responses"): (Response, True),
    ("get", "/v1/responses/{response_id}"): (Response, True),
    ("post", "/v1/responses/{response_id}/cancel"): (Response, False),
    ("post", "/v1/responses/compact"): (CompactedResponse, False),
    ("post", "/v1/chat/completions"): (ChatCompletion, True),
    ("post", "/v1/conversations"): (Conversation, False),
    ("get", "/v1/conversations/{conversation_id}"): (Conversation, False),
    ("post", "/v1/conversations/{conversation_id}"): (Conversation, False),
    ("post", "/v1/conversations/{conversation_id}/items"): (ConversationItemList, False),
    ("get", "/v1/conversations/{conversation_id}/items"): (ConversationItemList, False),
    ("get", "/v1/models/{model_id}"): (Model, False),
    ("get", "/v1/files/{file_id}"): (FileObject, False),
    ("post", "/v1/vector_stores"): (VectorStore, False),
    ("get", "/v1/vector_stores/{vector_store_id}"): (VectorStore, False),
    ("post", "/v1/vector_stores/{vector_store_id}"): (VectorStore, False),
    ("post", "/v1/vector_stores/{vector_store_id}/files"): (VectorStoreFile, False),
    ("get", "/v1/vector_stores/{vector_store_id}/files/{file_id}"): (VectorStoreFile, False),
    ("post", "/v1/vector_stores/{vector_store_id}/files/{file_id}"): (VectorStoreFile, False),
    ("post", "/v1/vector_stores/{vector_store_id}/file_batches"): (VectorStoreFileBatch, False),
}

_GENERATION = {
    ("post", "/v1/responses"),
    ("post", "/v1/responses/compact"),
    ("post", "/v1/responses/input_tokens"),
    ("post", "/v1/chat/completions"),
}

_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

# One server-sent event (OpenAPI 3.1 has `schema` describe each event of a stream): its
# payload is checked against the SDK's event types by the stream tests (tests/support/checks.py).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string", "minLength": 1}},
}

_STATUS_WORDS = {
    "400": "Invalid request (OpenAI's invalid_request_error, with `param` and `code`)",
    "401": "Missing, unknown, expired or revoked API key",
    "403": "The key may not do this (an admin route, a model outside the key's list)",
    "404": "No such object for this caller",
    "409": "Conflict with the object's state",
    "413": "Request body too large",
    "429": "Rate limit or budget exceeded",
    "431": "Request headers too large",
    "500": "Server error",
    "502": "The upstream provider failed",
    "503": "No channel or store is available now",
    "504": "The upstream provider timed out",
}
_CLIENT_ERRORS = ("400", "401", "403", "404", "413", "429", "431")
_SERVER_ERRORS = ("500", "503")
_UPSTREAM_ERRORS = ("502", "504")


def document(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(_with_plain_routes(plain(), app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_plain_routes(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The plain routes' operations, in route order, as FastAPI's own would be before
    completion: summary and operation id from the endpoint's name."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or isinstance(route, APIRoute):
            continue
        if not route.include_in_schema or not route.path.startswith("/v1/"):
            continue
        for method in sorted(route.methods or ()):
            unique = re.sub(r"\W", "_", f"{route.name}{route.path_format}")
            paths.setdefault(route.path, {})[method.lower()] = {
                "summary": route.name.replace("_", " ").title(),
                "operationId": f"{unique}_{method.lower()}",
                "responses": {},
            }
    for path, operations in schema.get("paths", {}).items():
        paths.setdefault(path, {}).update(operations)
    schema["paths"] = paths
    return schema


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    refs = _model_refs(schemas)
    schemas["ErrorResponse"] = _ERROR_BODY
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(("/v1/", "/admin/v1/")):
            continue
        for method, operation in operations.items():
            _complete_operation((method, path), operation, refs)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's 422 shape: never sent
    return schema


def _model_refs(schemas: dict[str, Any]) -> dict[type[BaseModel], dict[str, Any]]:
    """One pass over every model, so that equal names from different modules get distinct
    component names; returns each model's `$ref`."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "validation") for model in REQUEST_BODIES.values()
    ]
    wanted += [(model, "validation") for model, _ in RESPONSE_BODIES.values()]
    wanted = list(dict.fromkeys(wanted))
    keys, top = models_json_schema(wanted, ref_template=_REF)
    for name, definition in top.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    return {model: ref for (model, _mode), ref in keys.items() if issubclass(model, BaseModel)}


def _complete_operation(
    key: tuple[str, str], operation: dict[str, Any], refs: dict[type[BaseModel], dict[str, Any]]
) -> None:
    operation["security"] = [{"bearer": []}]
    body_model = REQUEST_BODIES.get(key)
    if body_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": refs[body_model]}},
        }
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    reply = RESPONSE_BODIES.get(key)
    if reply is not None:
        model, streams = reply
        ok = next((code for code in ("200", "201") if code in responses), "200")
        content: dict[str, Any] = {_JSON: {"schema": refs[model]}}
        if streams:
            content[_SSE] = {"schema": _SSE_EVENT}
        responses[ok] = {"description": "Success", "content": content}
    statuses: tuple[str, ...] = _CLIENT_ERRORS + _SERVER_ERRORS
    if key in _GENERATION:
        statuses += _UPSTREAM_ERRORS
    for status in statuses:
        responses.setdefault(
            status,
            {
                "description": _STATUS_WORDS[status],
                "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
            },
        )
