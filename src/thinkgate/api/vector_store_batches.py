"""`/v1/vector_stores/{id}/file_batches`: several files attached at once, followed and
cancelled together."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from thinkgate.api.deps import OwnerDep
from thinkgate.api.files import FilesDep
from thinkgate.api.vector_stores import POLL_AFTER, Limit, Order, stored_chunking
from thinkgate.errors import NotFoundError
from thinkgate.files.paging import page_body
from thinkgate.files.rows import FileBatchRow
from thinkgate.files.service import FileService
from thinkgate.files.shapes import batch_object, vector_store_file_object
from thinkgate.files.vectors import NewFile
from thinkgate.ids import new_id
from thinkgate.protocol import parse_body
from thinkgate.protocol.files import CreateFileBatchRequest, FileStatus

router = APIRouter(prefix="/v1/vector_stores/{vector_store_id}/file_batches")


@router.post("")
async def create_file_batch(
    vector_store_id: str, request: Request, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateFileBatchRequest)
    chunking = stored_chunking(body.chunking_strategy)
    if body.file_ids is not None:
        entries = [NewFile(file_id, body.attributes, chunking) for file_id in body.file_ids]
        param = "file_ids"
    else:
        entries = [
            NewFile(
                item.file_id,
                item.attributes if item.attributes is not None else body.attributes,
                stored_chunking(item.chunking_strategy) if item.chunking_strategy else chunking,
            )
            for item in body.files or []
        ]
        param = "files"
    batch_id = new_id("vsfb")
    await files.add_files(owner, vector_store_id, entries, param=param, batch_id=batch_id)
    return await _shown(files, await _batch(files, owner, vector_store_id, batch_id))


@router.get("/{batch_id}")
async def retrieve_file_batch(
    vector_store_id: str, batch_id: str, files: FilesDep, owner: OwnerDep, response: Response
) -> dict[str, Any]:
    shown = await _shown(files, await _batch(files, owner, vector_store_id, batch_id))
    if shown["status"] == "in_progress":
        response.headers.update(POLL_AFTER)
    return shown


@router.post("/{batch_id}/cancel")
async def cancel_file_batch(
    vector_store_id: str, batch_id: str, files: FilesDep, owner: OwnerDep
) -> dict[str, Any]:
    await _batch(files, owner, vector_store_id, batch_id)
    await files.stores.cancel_batch(batch_id)
    return await _shown(files, await _batch(files, owner, vector_store_id, batch_id))


@router.get("/{batch_id}/files")
async def list_file_batch_files(
    vector_store_id: str,
    batch_id: str,
    files: FilesDep,
    owner: OwnerDep,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    filter: FileStatus | None = None,
) -> dict[str, Any]:
    await _batch(files, owner, vector_store_id, batch_id)
    rows, has_more = await files.stores.files_page(
        vector_store_id,
        batch_id=batch_id,
        status=filter,
        after=after,
        before=before,
        limit=limit,
        order=order,
    )
    return page_body([vector_store_file_object(row) for row in rows], has_more)


async def _batch(files: FileService, owner: str, store_id: str, batch_id: str) -> FileBatchRow:
    await files.owned_store(owner, store_id)
    row = await files.stores.batch(store_id, batch_id)
    if row is None:
        raise NotFoundError(
            f"No file batch found with id '{batch_id}'.", param="batch_id", code="not_found"
        )
    return row


async def _shown(files: FileService, row: FileBatchRow) -> dict[str, Any]:
    return batch_object(row, await files.stores.batch_counts(row.id))
