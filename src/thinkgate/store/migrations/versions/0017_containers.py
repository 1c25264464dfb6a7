"""Containers of the hosted code interpreter (`/v1/containers`) and the files in them; the
files' bytes live on disk under the data directory, these rows say whose and where.

Revision ID: 0017_containers
Revises: 0016_tool_calls
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_containers"
down_revision = "0016_tool_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "containers",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("last_active_at", sa.Integer, nullable=False),
        sa.Column("idle_seconds", sa.Integer, nullable=False),
        sa.Column("expires_minutes", sa.Integer, nullable=True),
        sa.Column("memory_limit", sa.String(8), nullable=False),
    )
    op.create_index("ix_containers_owner", "containers", ["owner", "pk"])
    op.create_table(
        "container_files",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column(
            "container_id",
            sa.String(80),
            sa.ForeignKey("containers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_container_files_path", "container_files", ["container_id", "path"])


def downgrade() -> None:
    op.drop_index("ix_container_files_path", table_name="container_files")
    op.drop_table("container_files")
    op.drop_index("ix_containers_owner", table_name="containers")
    op.drop_table("containers")
