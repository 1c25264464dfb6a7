"""Admin page for stored prompt templates: list them, create one, add a version.

The same repository and validation as `/admin/v1/prompts` (api/admin_prompts.py); a bad
form comes back as the page with the API's own error message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from thinkgate.api.admin_prompts import version_body
from thinkgate.console.deps import AdminSessionDep, ConsoleDep, FormDep
from thinkgate.console.i18n import _
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.parsing import validate
from thinkgate.protocol.prompts import CreatePromptBody, PromptVersionBody
from thinkgate.store.prompts import PromptRepository

router = APIRouter(prefix="/console/admin/prompts", include_in_schema=False)


@router.get("")
async def prompts_page(request: Request, console: ConsoleDep, session: AdminSessionDep) -> Response:
    return await _page(request, console, session)


@router.post("")
async def create_prompt(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    fields = {"name": str(form.get("name") or "").strip(), **_version_fields(form)}
    try:
        body = validate(fields, CreatePromptBody)
    except InvalidRequestError as error:
        return await _page(request, console, session, error=error.message, status=400)
    created = await PromptRepository(console.services.database).create(
        body.name, body.description, version_body(body), created_by=session.user.id
    )
    return await _page(
        request, console, session, notice=_("Created prompt %(id)s.") % {"id": created["id"]}
    )


@router.post("/{prompt_id}/versions")
async def add_version(
    prompt_id: str, request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    try:
        body = validate(_version_fields(form), PromptVersionBody)
    except InvalidRequestError as error:
        return await _page(request, console, session, error=error.message, status=400)
    prompts = PromptRepository(console.services.database)
    version = await prompts.add_version(prompt_id, version_body(body))
    if version is None:
        return await _page(request, console, session, error=_("No such prompt."), status=404)
    notice = _("Added version %(num)s of %(id)s.") % {"num": version["version"], "id": prompt_id}
    return await _page(request, console, session, notice=notice)


def _version_fields(form: FormData) -> dict[str, Any]:
    """A developer message (`instructions`) and one user message, both optional."""
    fields: dict[str, Any] = {}
    instructions = str(form.get("instructions") or "").strip()
    if instructions:
        fields["instructions"] = instructions
    user_message = str(form.get("user_message") or "").strip()
    if user_message:
        fields["messages"] = [{"role": "user", "content": user_message}]
    return fields


async def _page(
    request: Request,
    console: ConsoleDep,
    session: ConsoleSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    prompts = PromptRepository(console.services.database)
    listed = [await prompts.get(p["id"]) for p in await prompts.list()]
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "admin",
        "prompts": [p for p in listed if p is not None],
        "error": error,
        "notice": notice,
    }
    return render(request, "prompts.html", context, status)
