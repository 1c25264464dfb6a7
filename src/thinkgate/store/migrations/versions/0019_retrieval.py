"""The chunk index of vector stores on PostgreSQL (thinkgate.retrieval.pg_index): files with
their attributes, chunks with their text, a generated `tsvector` (GIN index) and their
embedding (float32 bytes), and each store's generation (bumped by every write: replicas
reload their in-memory vectors when it moves).

On SQLite nothing is made here: the index keeps its own file beside the database, so that
its long ingestion transactions never hold up the server's writes
(thinkgate.retrieval.sqlite_index makes its schema).

Revision ID: 0019_retrieval
Revises: 0018_files
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_retrieval"
down_revision = "0018_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "retrieval_files",
        sa.Column("vector_store_id", sa.String(64), primary_key=True),
        sa.Column("file_id", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False, server_default="{}"),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "retrieval_chunks",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("vector_store_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("start_offset", sa.Integer, nullable=False),
        sa.Column("end_offset", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_retrieval_chunks_file", "retrieval_chunks", ["vector_store_id", "file_id"])
    op.create_table(
        "retrieval_stores",
        sa.Column("vector_store_id", sa.String(64), primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(
        "ALTER TABLE retrieval_chunks ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
    )
    op.execute("CREATE INDEX ix_retrieval_chunks_tsv ON retrieval_chunks USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("retrieval_stores")
    op.drop_index("ix_retrieval_chunks_file", table_name="retrieval_chunks")
    op.drop_table("retrieval_chunks")
    op.drop_table("retrieval_files")
