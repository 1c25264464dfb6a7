"""Our records as OpenAI's objects, field for field with the openai SDK's types."""

from __future__ import annotations

import time
from typing import Any

from thinkgate.files.access import FileRecord, VectorStoreRecord
from thinkgate.files.chunking import shown_strategy
from thinkgate.files.rows import FileBatchRow, VectorStoreFileRow


def file_object(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "status_details": None,
    }


def vector_store_object(
    record: VectorStoreRecord, file_counts: dict[str, int], usage_bytes: int
) -> dict[str, Any]:
    if record.expired(time.time()):
        status = "expired"
    elif file_counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    expires_after = (
        {"anchor": "last_active_at", "days": record.expires_after_days}
        if record.expires_after_days is not None
        else None
    )
    return {
        "id": record.id,
        "object": "vector_store",
        "created_at": record.created_at,
        "name": record.name,
        "description": record.description,
        "usage_bytes": usage_bytes,
        "file_counts": file_counts,
        "status": status,
        "expires_after": expires_after,
        "expires_at": record.expires_at,
        "last_active_at": record.last_active_at,
        "metadata": record.metadata or {},
    }


def vector_store_file_object(row: VectorStoreFileRow) -> dict[str, Any]:
    return {
        "id": row.file_id,
        "object": "vector_store.file",
        "usage_bytes": row.usage_bytes,
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": row.status,
        "last_error": row.last_error,
        "chunking_strategy": shown_strategy(row.chunking),
        "attributes": row.attributes or {},
    }


def batch_object(row: FileBatchRow, file_counts: dict[str, int]) -> dict[str, Any]:
    if row.cancelled:
        status = "cancelled"
    elif file_counts["in_progress"]:
        status = "in_progress"
    elif file_counts["total"] and file_counts["failed"] == file_counts["total"]:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": row.id,
        "object": "vector_store.files_batch",
        "created_at": row.created_at,
        "vector_store_id": row.vector_store_id,
        "status": status,
        "file_counts": file_counts,
    }
