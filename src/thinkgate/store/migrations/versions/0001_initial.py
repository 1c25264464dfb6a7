"""Initial tables: api keys, responses and their items.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("revoked_at", sa.Integer, nullable=True),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("previous_response_id", sa.String(80), nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_table(
        "response_items",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "response_id",
            sa.String(80),
            sa.ForeignKey("responses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_response_items_order", "response_items", ["response_id", "role", "position"]
    )


def downgrade() -> None:
    op.drop_index("ix_response_items_order", table_name="response_items")
    op.drop_table("response_items")
    op.drop_table("responses")
    op.drop_table("api_keys")
