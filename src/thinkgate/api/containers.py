"""`/v1/containers` and their files: the code interpreter's workspaces, the caller's own
only (another user's container is a 404, as a missing one)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from thinkgate.api.deps import OwnerDep
from thinkgate.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from thinkgate.files import file_record
from thinkgate.files.store import FileStore
from thinkgate.hosted.code_interpreter import Containers, FileTooLarge
from thinkgate.hosted.code_interpreter.containers import container_wire, file_wire, stream
from thinkgate.protocol import parse_body
from thinkgate.protocol.containers import CreateContainerFileRequest, CreateContainerRequest
from thinkgate.store.containers import ContainerRow

router = APIRouter(prefix="/v1/containers")
Limit = Annotated[int, Query(ge=1, le=100)]
Order = Literal["asc", "desc"]


async def get_containers(request: Request) -> Containers:
    containers: Containers = request.app.state.containers
    return containers


ContainersDep = Annotated[Containers, Depends(get_containers)]


@router.post("")
async def create_container(
    request: Request, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateContainerRequest)
    minutes = body.expires_after.minutes if body.expires_after else None
    row = await containers.create(
        owner, body.name, memory_limit=body.memory_limit or "1g", minutes=minutes
    )
    for file_id in body.file_ids or ():
        await _copy_file(request, containers, row, owner, file_id, "file_ids")
    return container_wire(row)


@router.get("")
async def list_containers(
    containers: ContainersDep,
    owner: OwnerDep,
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    name: str | None = None,
) -> dict[str, Any]:
    page = await containers.page(owner, after=after, limit=limit, order=order, name=name)
    return _page([container_wire(row) for row in page.rows], page.has_more)


@router.get("/{container_id}")
async def retrieve_container(
    container_id: str, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    return container_wire(await _owned(containers, container_id, owner))


@router.delete("/{container_id}")
async def delete_container(
    container_id: str, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    await containers.delete(await _owned(containers, container_id, owner))
    return {"id": container_id, "object": "container.deleted", "deleted": True}


# --- files ------------------------------------------------------------------------------


@router.post("/{container_id}/files")
async def create_file(
    container_id: str, request: Request, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    """A multipart upload (`file`), or a JSON body naming a file of /v1/files (`file_id`)."""
    row = await _running(containers, container_id, owner)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = parse_body(await request.body(), CreateContainerFileRequest)
        return await _copy_file(request, containers, row, owner, body.file_id, "file_id")
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError(
                "Missing required parameter: 'file' (a multipart file part) or 'file_id'.",
                param="file",
                code="missing_required_parameter",
            )
        try:
            record = await containers.upload(row, upload.filename or "upload", upload.file)
        except FileTooLarge:
            raise _too_large(containers) from None
    finally:
        await form.close()
    return file_wire(record)


@router.get("/{container_id}/files")
async def list_files(
    container_id: str,
    containers: ContainersDep,
    owner: OwnerDep,
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> dict[str, Any]:
    row = await _owned(containers, container_id, owner)
    page = await containers.repository.list_files(row.id, after=after, limit=limit, order=order)
    return _page([file_wire(f) for f in page.rows], page.has_more)


@router.get("/{container_id}/files/{file_id}")
async def retrieve_file(
    container_id: str, file_id: str, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    return file_wire(await _owned_file(containers, container_id, file_id, owner))


@router.get("/{container_id}/files/{file_id}/content")
async def file_content(
    container_id: str, file_id: str, containers: ContainersDep, owner: OwnerDep
) -> StreamingResponse:
    record = await _owned_file(containers, container_id, file_id, owner)
    handle = containers.open(record)
    if handle is None:
        raise _file_not_found(file_id)
    return StreamingResponse(stream(handle), media_type="application/octet-stream")


@router.delete("/{container_id}/files/{file_id}")
async def delete_file(
    container_id: str, file_id: str, containers: ContainersDep, owner: OwnerDep
) -> dict[str, Any]:
    await containers.remove_file(await _owned_file(containers, container_id, file_id, owner))
    return {"id": file_id, "object": "container.file.deleted", "deleted": True}


# --- helpers ----------------------------------------------------------------------------


async def _owned(containers: Containers, container_id: str, owner: str) -> ContainerRow:
    row = await containers.get(container_id, owner)
    if row is None:
        raise NotFoundError(
            f"Container with id '{container_id}' not found.",
            param="container_id",
            code="not_found",
        )
    return row


async def _running(containers: Containers, container_id: str, owner: str) -> ContainerRow:
    row = await _owned(containers, container_id, owner)
    if row.status != "running":
        raise InvalidRequestError(
            f"Container '{container_id}' has expired; create a new one.",
            param="container_id",
            code="container_expired",
        )
    return row


async def _owned_file(containers: Containers, container_id: str, file_id: str, owner: str) -> Any:
    row = await _owned(containers, container_id, owner)
    record = await containers.repository.get_file(row.id, file_id)
    if record is None:
        raise _file_not_found(file_id)
    return record


async def _copy_file(
    request: Request,
    containers: Containers,
    row: ContainerRow,
    owner: str,
    file_id: str,
    param: str,
) -> dict[str, Any]:
    """A file of /v1/files (the caller's own) copied into the container."""
    database = request.app.state.services.database
    record = await file_record(database, owner, file_id)
    if record is None:
        raise NotFoundError(f"No such File object: {file_id}", param=param, code="not_found")
    data = io.BytesIO(await FileStore(database).read_all(file_id))
    try:
        return file_wire(await containers.upload(row, record.filename, data))
    except FileTooLarge:
        raise _too_large(containers) from None


def _too_large(containers: Containers) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"File too large: a container file may have at most {containers.max_file_bytes} bytes.",
        param="file",
        code="file_too_large",
    )


def _file_not_found(file_id: str) -> NotFoundError:
    return NotFoundError(
        f"Container file with id '{file_id}' not found.", param="file_id", code="not_found"
    )


def _page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


async def check_containers(request: Request, declared: list[dict[str, Any]], owner: str) -> None:
    """A `code_interpreter` tool's container must be the caller's and running, and the
    files an auto container copies the caller's own (else a 404 or 400 now, not a failed
    call later)."""
    containers: Containers | None = getattr(request.app.state, "containers", None)
    for index, tool in enumerate(declared):
        container = tool.get("container") if tool.get("type") == "code_interpreter" else None
        if isinstance(container, dict):
            database = request.app.state.services.database
            for number, file_id in enumerate(container.get("file_ids") or ()):
                if await file_record(database, owner, file_id) is None:
                    raise NotFoundError(
                        f"No such File object: {file_id}",
                        param=f"tools[{index}].container.file_ids[{number}]",
                        code="not_found",
                    )
        if not isinstance(container, str) or containers is None:
            continue
        row = await containers.get(container, owner)
        param = f"tools[{index}].container"
        if row is None:
            raise NotFoundError(
                f"Container with id '{container}' not found.", param=param, code="not_found"
            )
        if row.status != "running":
            raise InvalidRequestError(
                f"Container '{container}' has expired; create a new one.",
                param=param,
                code="container_expired",
            )
