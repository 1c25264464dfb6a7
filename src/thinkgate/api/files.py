"""`/v1/files`: multipart upload, list, retrieve, content, delete; the caller's own only.
File bytes are streamed to and from the database and never logged."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from thinkgate.api.deps import AdminDep, KeyDep, OwnerDep
from thinkgate.errors import InvalidRequestError
from thinkgate.files.access import storable
from thinkgate.files.paging import page_body
from thinkgate.files.service import FileService
from thinkgate.files.shapes import file_object
from thinkgate.gateway.pricing import usd
from thinkgate.gateway.storage_charges import StorageCharges

router = APIRouter(prefix="/v1/files")
# Storage use per owner per day, priced (`[files]` GB-day prices): what billing reads.
admin_router = APIRouter(prefix="/admin/v1/storage_usage")

# OpenAI's upload purposes that its `FileObject` can show back.
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")


async def get_file_service(request: Request) -> FileService:
    service: FileService = request.app.state.files
    return service


FilesDep = Annotated[FileService, Depends(get_file_service)]


@router.post("")
async def upload_file(
    request: Request, files: FilesDep, key: KeyDep, owner: OwnerDep
) -> dict[str, Any]:
    form = await request.form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError(
                "Missing required parameter: 'file' (a multipart file part).",
                param="file",
                code="missing_required_parameter",
            )
        purpose = _purpose(form.get("purpose"))
        expires = _expires_after(
            form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
        )
        size = upload.size if upload.size is not None else _size(upload)
        record = await files.upload(
            upload.read,
            size=size,
            owner=owner,
            key_id=key.id,
            filename=_filename(upload.filename),
            purpose=purpose,
            expires_after_seconds=expires,
        )
    finally:
        await form.close()
    return file_object(record)


@router.get("")
async def list_files(
    files: FilesDep,
    owner: OwnerDep,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    if purpose is not None and not storable(purpose):
        return page_body([], False)
    page = await files.files.page(owner, purpose=purpose, after=after, limit=limit, order=order)
    return page_body([file_object(record) for record in page.files], page.has_more)


@router.get("/{file_id}")
async def retrieve_file(file_id: str, files: FilesDep, owner: OwnerDep) -> dict[str, Any]:
    return file_object(await files.owned_file(owner, file_id))


@router.get("/{file_id}/content")
async def file_content(file_id: str, files: FilesDep, owner: OwnerDep) -> StreamingResponse:
    record = await files.owned_file(owner, file_id)
    return StreamingResponse(
        files.files.content(record.id),
        media_type="application/octet-stream",
        headers={"content-length": str(record.bytes)},
    )


@router.delete("/{file_id}")
async def delete_file(file_id: str, files: FilesDep, owner: OwnerDep) -> dict[str, Any]:
    await files.delete_file(owner, file_id)
    return {"id": file_id, "object": "file", "deleted": True}


@admin_router.get("")
async def storage_usage(
    files: FilesDep, _admin: AdminDep, owner: str, since: str | None = None
) -> dict[str, Any]:
    """`owner`: a user id (or the id of a key without a user); `since`: YYYY-MM-DD."""
    if not storable(owner) or (since is not None and not storable(since)):
        return {"object": "list", "data": []}
    days = await files.usage.report(owner, since)
    data = [
        {
            "owner": day.owner,
            "day": day.day,
            "vector_store_gb_days": str(day.vector_gb_days),
            "file_gb_days": str(day.file_gb_days),
            "cost_usd": str(day.cost_usd),
            "vector_store_bytes": day.vector_bytes,
            "file_bytes": day.file_bytes,
            "charged_usd": None if day.charged_pico is None else usd(day.charged_pico),
        }
        for day in days
    ]
    return {"object": "list", "data": data}


@admin_router.post("/charge")
async def charge_storage(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """Charge the finished days now (each replica also does, every
    `storage_charge_seconds`); a day already charged is not charged again."""
    charges: StorageCharges = request.app.state.storage_charges
    return {"object": "storage_charge", "days_charged": await charges.charge_due()}


def _purpose(value: object) -> str:
    if value is None:
        raise InvalidRequestError(
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    if not isinstance(value, str) or value not in PURPOSES:
        raise InvalidRequestError(
            f"Invalid 'purpose': {str(value)[:40]!r}. Supported values are: "
            + ", ".join(f"'{p}'" for p in PURPOSES)
            + ".",
            param="purpose",
            code="invalid_value",
        )
    return value


def _expires_after(anchor: object, seconds: object) -> int | None:
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequestError(
            "Invalid 'expires_after.anchor': the only supported anchor is 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    if not isinstance(seconds, str) or not seconds.isdigit() or not 3600 <= int(seconds) <= 2592000:
        raise InvalidRequestError(
            "Invalid 'expires_after.seconds': an integer from 3600 to 2592000.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return int(seconds)


def _filename(raw: str | None) -> str:
    """The base name only (no client path, no control characters), ≤512 characters."""
    printable = "".join(c for c in raw or "" if c.isprintable())
    name = PurePosixPath(PureWindowsPath(printable).name).name.strip()
    return (name or "upload")[:512]


def _size(upload: UploadFile) -> int:
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    return size
