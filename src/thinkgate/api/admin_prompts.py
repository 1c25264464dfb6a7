"""Stored prompt templates under /admin/v1/prompts (admin keys only): create a prompt (its
version "1"), add a version, list, retrieve with every version, delete.

Any key may then use a prompt by id in `POST /v1/responses` (`prompt`); versions never
change once made, so a response's `prompt.version` always names what the model saw.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from thinkgate.api.deps import AdminDep, ServicesDep
from thinkgate.errors import NotFoundError
from thinkgate.protocol import parse_body
from thinkgate.protocol.prompts import CreatePromptBody, PromptVersionBody, variable_names
from thinkgate.store.prompts import PromptRepository

router = APIRouter(prefix="/admin/v1", tags=["admin"])


def version_body(body: PromptVersionBody) -> dict[str, Any]:
    """What a version stores: its messages (`instructions` became a leading developer
    message) and, for readers, the variables they use."""
    messages = body.template_messages()
    return {
        "messages": [message.model_dump() for message in messages],
        "variables": variable_names(messages),
    }


@router.post("/prompts", status_code=201)
async def create_prompt(request: Request, services: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    """The response's `id` (`pmpt_…`) is what `prompt.id` names."""
    body = parse_body(await request.body(), CreatePromptBody)
    prompts = PromptRepository(services.database)
    return await prompts.create(
        body.name, body.description, version_body(body), created_by=admin.user_id
    )


@router.get("/prompts")
async def list_prompts(services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    return {"object": "list", "data": await PromptRepository(services.database).list()}


@router.get("/prompts/{prompt_id}")
async def show_prompt(prompt_id: str, services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    prompt = await PromptRepository(services.database).get(prompt_id)
    if prompt is None:
        raise _not_found(prompt_id)
    return prompt


@router.post("/prompts/{prompt_id}/versions", status_code=201)
async def add_version(
    prompt_id: str, request: Request, services: ServicesDep, _admin: AdminDep
) -> dict[str, Any]:
    """The next version ("2", "3", …); it becomes the one used when `version` is left out."""
    body = parse_body(await request.body(), PromptVersionBody)
    version = await PromptRepository(services.database).add_version(prompt_id, version_body(body))
    if version is None:
        raise _not_found(prompt_id)
    return version


@router.delete("/prompts/{prompt_id}")
async def delete_prompt(prompt_id: str, services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    if not await PromptRepository(services.database).delete(prompt_id):
        raise _not_found(prompt_id)
    return {"id": prompt_id, "object": "prompt.deleted", "deleted": True}


def _not_found(prompt_id: str) -> NotFoundError:
    return NotFoundError(
        f"Prompt with id '{prompt_id}' not found.", param="prompt_id", code="not_found"
    )
