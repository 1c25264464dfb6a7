"""Each vector store records the embedding model that made its vectors (issue 22): new
stores take `[files] embedding_model`; ingestion and search of a store use its own, so a
server switched to another model keeps searching its older stores correctly. Stores made
before this revision were indexed with the only model there was.

Revision ID: 0024_store_embedding_model
Revises: 0023_storage_charges
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_store_embedding_model"
down_revision = "0023_storage_charges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vector_stores") as table:
        table.add_column(
            sa.Column(
                "embedding_model",
                sa.String(64),
                nullable=False,
                server_default="wordllama-l2-256",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("vector_stores") as table:
        table.drop_column("embedding_model")
