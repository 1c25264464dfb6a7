"""The upstream channel that served each stored response: a `previous_response_id` turn
goes back to it while it is up (affinity routing, backends.upstream.affinity). Null for
responses stored before, or served by a local model.

A branch of its own from 0012_prompts (the server upgrades to every head).

Revision ID: 0014_response_channel
Revises: 0013_background_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_response_channel"
down_revision = "0013_background_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("channel", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("channel")
