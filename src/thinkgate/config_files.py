"""`[files]`: uploads, vector store ingestion and storage billing (docs/files.md)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class FilesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One upload's size, and each owner's (a user, or a key without one) totals.
    max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    max_files_per_owner: int = Field(default=10_000, ge=0)
    max_bytes_per_owner: int = Field(default=10 * 1024**3, ge=0)
    # The same for the files uploaded with one key (none by default).
    max_files_per_key: int | None = Field(default=None, ge=0)
    max_bytes_per_key: int | None = Field(default=None, ge=0)
    # Ingestion: files extracted and indexed at once on this replica (0: none here).
    ingest_workers: int = Field(default=2, ge=0, le=64)
    # Extraction guards: text kept per file, and what a DOCX may inflate to (zip bombs).
    max_text_chars: int = Field(default=20_000_000, ge=1000)
    max_unzipped_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_pdf_pages: int = Field(default=5_000, ge=1)
    # USD per GB-day (10^9 bytes × 86,400 s) of vector store and raw file storage, above
    # the free allowance per owner (OpenAI: $0.10 per GB-day of vector storage, 1 GB free).
    vector_storage_price_per_gb_day: Decimal = Field(
        default=Decimal("0.10"), ge=0, decimal_places=6
    )
    file_storage_price_per_gb_day: Decimal = Field(default=Decimal("0"), ge=0, decimal_places=6)
    free_storage_bytes: int = Field(default=10**9, ge=0)
    # How often each replica charges the finished days of storage to the ledger (each day
    # of each owner once, whichever replica gets there first).
    storage_charge_seconds: int = Field(default=3600, ge=1)
