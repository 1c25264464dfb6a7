"""Tables of files and vector stores (migration 0018_files creates them).

A file's bytes live in the database, split into `file_parts` of at most 1 MiB, so every
replica reads them (PostgreSQL: bytea; SQLite: BLOB) and none is ever loaded in one value.
A `vector_store_files` row is also ingestion's work item: `in_progress` with a lapsed
`lease_until` is work any replica may claim (`files/ingestion.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from thinkgate.store.tables import Base


class FileRow(Base):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_owner_created", "owner", "created_ns"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(40))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(Integer)
    created_ns: Mapped[int] = mapped_column(BigInteger)  # list order, ties broken
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FilePartRow(Base):
    __tablename__ = "file_parts"

    file_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class VectorStoreRow(Base):
    __tablename__ = "vector_stores"
    __table_args__ = (Index("ix_vector_stores_owner_created", "owner", "created_ns"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)
    created_ns: Mapped[int] = mapped_column(BigInteger)
    last_active_at: Mapped[int] = mapped_column(Integer)
    metadata_: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON, nullable=True)
    expires_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the model that made its vectors (migration 0024; retrieval/embedders.py)
    embedding_model: Mapped[str] = mapped_column(String(64), default="wordllama-l2-256")


class VectorStoreFileRow(Base):
    __tablename__ = "vector_store_files"
    __table_args__ = (
        Index("ix_vector_store_files_status", "status", "lease_until"),
        Index("ix_vector_store_files_batch", "batch_id"),
        Index("ix_vector_store_files_file", "file_id"),
    )

    vector_store_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("vector_stores.id", ondelete="CASCADE"), primary_key=True
    )
    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    created_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    last_error: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    usage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    chunking: Mapped[dict[str, Any]] = mapped_column(JSON)
    batch_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class FileBatchRow(Base):
    __tablename__ = "vector_store_file_batches"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    vector_store_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("vector_stores.id", ondelete="CASCADE")
    )
    created_at: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[bool] = mapped_column(default=False)


class StorageUsageRow(Base):
    """Storage per owner per UTC day, as byte-seconds (what GB-day prices multiply);
    `*_bytes` and `updated_at`: the level being accrued since then."""

    __tablename__ = "storage_usage"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    vector_byte_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    file_byte_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    vector_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    file_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[int] = mapped_column(Integer)
    # What the finished day was charged on the ledger (migration 0023); None: not yet.
    charged_pico: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
