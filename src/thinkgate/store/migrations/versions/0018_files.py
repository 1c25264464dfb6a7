"""Files and vector stores (issue 22): uploaded files with their bytes in the database
(`file_parts`, ≤1 MiB each: every replica reads them), vector stores, their files (also
ingestion's work items, with a lease), file batches, and storage use per owner per day.

Revision ID: 0018_files
Revises: 0017_containers
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_files"
down_revision = "0017_containers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=True),
    )
    op.create_index("ix_files_owner_created", "files", ["owner", "created_ns"])
    op.create_table(
        "file_parts",
        sa.Column(
            "file_id",
            sa.String(64),
            sa.ForeignKey("files.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "vector_stores",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.String(512), nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("last_active_at", sa.Integer, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("expires_after_days", sa.Integer, nullable=True),
    )
    op.create_index("ix_vector_stores_owner_created", "vector_stores", ["owner", "created_ns"])
    op.create_table(
        "vector_store_files",
        sa.Column(
            "vector_store_id",
            sa.String(80),
            sa.ForeignKey("vector_stores.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("file_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.JSON, nullable=True),
        sa.Column("usage_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("attributes", sa.JSON, nullable=True),
        sa.Column("chunking", sa.JSON, nullable=False),
        sa.Column("batch_id", sa.String(80), nullable=True),
        sa.Column("lease_owner", sa.String(120), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_vector_store_files_status", "vector_store_files", ["status", "lease_until"])
    op.create_index("ix_vector_store_files_batch", "vector_store_files", ["batch_id"])
    op.create_index("ix_vector_store_files_file", "vector_store_files", ["file_id"])
    op.create_table(
        "vector_store_file_batches",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column(
            "vector_store_id",
            sa.String(80),
            sa.ForeignKey("vector_stores.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "storage_usage",
        sa.Column("owner", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("vector_byte_seconds", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("file_byte_seconds", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("vector_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("file_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "storage_usage",
        "vector_store_file_batches",
        "vector_store_files",
        "vector_stores",
        "file_parts",
        "files",
    ):
        op.drop_table(table)
