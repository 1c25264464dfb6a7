"""Stored prompt templates (`prompt` on `POST /v1/responses`): a prompt and its immutable,
numbered versions. Server-wide, like OpenAI's project-wide prompts: admins make them, every
key may use them.

Revision ID: 0012_prompts
Revises: 0011_user_limits
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_prompts"
down_revision = "0011_user_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("latest_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "prompt_versions",
        sa.Column(
            "prompt_id",
            sa.String(80),
            sa.ForeignKey("prompts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prompt_versions")
    op.drop_table("prompts")
