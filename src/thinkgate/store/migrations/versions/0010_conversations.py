"""Conversations and their items, response ownership, and the stored stream events of
background responses (for `GET /v1/responses/{id}?stream=true&starting_after=N`).

Revision ID: 0010_conversations
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_conversations"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
    )
    op.create_table(
        "conversation_items",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(80),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_conversation_items_order", "conversation_items", ["conversation_id", "position"]
    )
    op.add_column("responses", sa.Column("owner", sa.String(64), nullable=True))
    op.create_index("ix_responses_status", "responses", ["status"])
    op.create_table(
        "response_events",
        sa.Column(
            "response_id",
            sa.String(80),
            sa.ForeignKey("responses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sequence_number", sa.Integer, primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("response_events")
    op.drop_index("ix_responses_status", table_name="responses")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("owner")
    op.drop_index("ix_conversation_items_order", table_name="conversation_items")
    op.drop_table("conversation_items")
    op.drop_table("conversations")
