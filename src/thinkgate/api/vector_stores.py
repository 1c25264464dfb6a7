"""`/v1/vector_stores`: stores and their files, each the caller's own (another user's id
is a 404, as a missing one). Ingestion runs in the background (`files/ingestion.py`);
batches are in `api/vector_store_batches.py`, search with `thinkgate.retrieval`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from thinkgate.api.deps import OwnerDep
from thinkgate.api.files import FilesDep
from thinkgate.errors import NotFoundError
from thinkgate.files.chunking import AUTO
from thinkgate.files.paging import page_body
from thinkgate.files.service import FileService
from thinkgate.files.shapes import vector_store_file_object, vector_store_object
from thinkgate.files.vectors import UNSET, NewFile
from thinkgate.protocol import parse_body
from thinkgate.protocol.files import (
    ChunkingStrategy,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    FileStatus,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)

router = APIRouter(prefix="/v1/vector_stores")

Limit = Annotated[int, Query(ge=1, le=100)]
# While work is in progress: how soon the SDK's `poll` helpers should ask again (its
# default without the header is a second).
POLL_AFTER = {"openai-poll-after-ms": "250"}
Order = Literal["asc", "desc"]


def stored_chunking(strategy: ChunkingStrategy | None) -> dict[str, Any]:
    return dict(AUTO) if strategy is None else strategy.model_dump()


@router.post("")
async def create_vector_store(request: Request, files: FilesDep, owner: OwnerDep) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateVectorStoreRequest)
    chunking = stored_chunking(body.chunking_strategy)
    record = await files.create_store(
        owner,
        name=body.name or "",
        description=body.description,
        metadata=body.metadata,
        expires_after_days=body.expires_after.days if body.expires_after else None,
        files=[NewFile(file_id, None, chunking) for file_id in body.file_ids or []],
    )
    return await _shown(files, record.id, owner)


@router.get("")
async def list_vector_stores(
    files: FilesDep,
    owner: OwnerDep,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> dict[str, Any]:
    records, has_more = await files.stores.page(
        owner, after=after, before=before, limit=limit, order=order
    )
    summary = await files.stores.summary([record.id for record in records])
    data = [vector_store_object(record, *summary[record.id]) for record in records]
    return page_body(data, has_more)


@router.get("/{vector_store_id}")
async def retrieve_vector_store(
    vector_store_id: str, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    return await _shown(files, vector_store_id, owner)


@router.post("/{vector_store_id}")
async def update_vector_store(
    vector_store_id: str, request: Request, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), UpdateVectorStoreRequest)
    await files.owned_store(owner, vector_store_id)
    given = body.model_fields_set
    await files.stores.update(
        vector_store_id,
        name=body.name if "name" in given else UNSET,
        metadata=body.metadata if "metadata" in given else UNSET,
        expires_after_days=(
            (body.expires_after.days if body.expires_after else None)
            if "expires_after" in given
            else UNSET
        ),
    )
    return await _shown(files, vector_store_id, owner)


@router.delete("/{vector_store_id}")
async def delete_vector_store(
    vector_store_id: str, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    await files.delete_store(owner, vector_store_id)
    return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}


@router.post("/{vector_store_id}/files")
async def create_vector_store_file(
    vector_store_id: str, request: Request, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateVectorStoreFileRequest)
    entry = NewFile(body.file_id, body.attributes, stored_chunking(body.chunking_strategy))
    await files.add_files(owner, vector_store_id, [entry], param="file_id")
    return await _shown_file(files, vector_store_id, body.file_id)


@router.get("/{vector_store_id}/files")
async def list_vector_store_files(
    vector_store_id: str,
    files: FilesDep,
    owner: OwnerDep,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    filter: FileStatus | None = None,
) -> dict[str, Any]:
    await files.owned_store(owner, vector_store_id)
    rows, has_more = await files.stores.files_page(
        vector_store_id, status=filter, after=after, before=before, limit=limit, order=order
    )
    return page_body([vector_store_file_object(row) for row in rows], has_more)


@router.get("/{vector_store_id}/files/{file_id}")
async def retrieve_vector_store_file(
    vector_store_id: str, file_id: str, files: FilesDep, owner: OwnerDep, response: Response
) -> dict[str, Any]:
    await files.owned_store(owner, vector_store_id)
    shown = await _shown_file(files, vector_store_id, file_id)
    if shown["status"] == "in_progress":
        response.headers.update(POLL_AFTER)
    return shown


@router.post("/{vector_store_id}/files/{file_id}")
async def update_vector_store_file(
    vector_store_id: str, file_id: str, request: Request, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), UpdateVectorStoreFileRequest)
    row = await files.set_attributes(owner, vector_store_id, file_id, body.attributes)
    if row is None:
        raise _file_not_found(file_id)
    return vector_store_file_object(row)


@router.delete("/{vector_store_id}/files/{file_id}")
async def delete_vector_store_file(
    vector_store_id: str, file_id: str, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    if not await files.remove_file(owner, vector_store_id, file_id):
        raise _file_not_found(file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


@router.get("/{vector_store_id}/files/{file_id}/content")
async def vector_store_file_content(
    vector_store_id: str, file_id: str, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    await files.owned_store(owner, vector_store_id)
    row = await files.stores.file(vector_store_id, file_id)
    if row is None:
        raise _file_not_found(file_id)
    text = await files.file_text(row) if row.status == "completed" else None
    data = [{"type": "text", "text": text}] if text else []
    return {
        "object": "vector_store.file_content.page",
        "data": data,
        "has_more": False,
        "next_page": None,
    }


async def _shown(files: FileService, store_id: str, owner: str) -> dict[str, Any]:
    record = await files.owned_store(owner, store_id)
    summary = await files.stores.summary([store_id])
    return vector_store_object(record, *summary[store_id])


async def _shown_file(files: FileService, store_id: str, file_id: str) -> dict[str, Any]:
    row = await files.stores.file(store_id, file_id)
    if row is None:
        raise _file_not_found(file_id)
    return vector_store_file_object(row)


def _file_not_found(file_id: str) -> NotFoundError:
    return NotFoundError(
        f"No file found with id '{file_id}' in this vector store.",
        param="file_id",
        code="not_found",
    )
