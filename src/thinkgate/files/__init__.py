"""Files and vector stores: uploaded bytes kept in the database, text extraction,
chunking, and the background ingestion that feeds the chunk index (`thinkgate.retrieval`)."""

from thinkgate.files.access import (
    FileRecord,
    VectorStoreRecord,
    file_record,
    owned_vector_store,
    touch_vector_store,
)

__all__ = [
    "FileRecord",
    "VectorStoreRecord",
    "file_record",
    "owned_vector_store",
    "touch_vector_store",
]
