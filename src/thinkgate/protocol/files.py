"""Request models for `/v1/vector_stores`, its files and file batches (strict in).
`/v1/files` takes multipart form fields, checked in `api/files.py`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from thinkgate.protocol.common import StrictModel, check_metadata

# No NUL in any stored text (PostgreSQL refuses it): a 400 here, not a 500 there.
NoNul = Field(pattern=r"^[^\x00]*$")
AttributeValue = Annotated[str, Field(max_length=512), NoNul] | float | bool
Attributes = dict[Annotated[str, Field(max_length=64), NoNul], AttributeValue]
Text = Annotated[str, NoNul]
FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
FileStatus = Literal["in_progress", "completed", "failed", "cancelled"]


class AutoChunking(StrictModel):
    type: Literal["auto"]


class StaticChunkingValues(StrictModel):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap_at_most_half(self) -> StaticChunkingValues:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError(
                "Invalid 'chunk_overlap_tokens': it must not exceed half of "
                "'max_chunk_size_tokens'."
            )
        return self


class StaticChunking(StrictModel):
    type: Literal["static"]
    static: StaticChunkingValues


ChunkingStrategy = Annotated[AutoChunking | StaticChunking, Field(discriminator="type")]


class StoreExpiresAfter(StrictModel):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


def _check_attributes(value: Attributes | None) -> Attributes | None:
    if value is not None and len(value) > 16:
        raise ValueError("Invalid 'attributes': at most 16 keys.")
    return value


class CreateVectorStoreRequest(StrictModel):
    name: Text | None = Field(default=None, max_length=256)
    description: Text | None = Field(default=None, max_length=512)
    file_ids: list[str] | None = Field(default=None, max_length=500)
    chunking_strategy: ChunkingStrategy | None = None
    metadata: dict[Text, Text] | None = Field(default=None, max_length=16)
    expires_after: StoreExpiresAfter | None = None

    _check_metadata = field_validator("metadata")(check_metadata)


class UpdateVectorStoreRequest(StrictModel):
    name: Text | None = Field(default=None, max_length=256)
    metadata: dict[Text, Text] | None = Field(default=None, max_length=16)
    expires_after: StoreExpiresAfter | None = None

    _check_metadata = field_validator("metadata")(check_metadata)


class CreateVectorStoreFileRequest(StrictModel):
    file_id: str = Field(min_length=1, max_length=64)
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None

    _check_attributes = field_validator("attributes")(_check_attributes)


class UpdateVectorStoreFileRequest(StrictModel):
    attributes: Attributes | None

    _check_attributes = field_validator("attributes")(_check_attributes)


class CreateFileBatchRequest(StrictModel):
    file_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=2000
    )
    files: list[CreateVectorStoreFileRequest] | None = Field(
        default=None, min_length=1, max_length=2000
    )
    attributes: Attributes | None = None
    chunking_strategy: ChunkingStrategy | None = None

    _check_attributes = field_validator("attributes")(_check_attributes)

    @model_validator(mode="after")
    def _one_of(self) -> CreateFileBatchRequest:
        if (self.file_ids is None) == (self.files is None):
            raise ValueError("Provide exactly one of 'file_ids' and 'files'.")
        return self
