"""pgvector for the chunk index, where the PostgreSQL server has it: a `vector(256)` column
beside the float32 bytes (filled here for the chunks already indexed) and an HNSW index with
cosine ops, so that a dense search runs in the database instead of in each replica's memory
(thinkgate.retrieval.pg_index).

Only when `CREATE EXTENSION IF NOT EXISTS vector` succeeds: a server without pgvector (as
Debian 12's PostgreSQL) or a role that may not create it keeps the bytes-only schema and the
in-memory vectors, and this migration changes nothing there (the extension must be there
when this migration runs: docs/files.md). Nothing on SQLite.

Revision ID: 0022_pgvector
Revises: 0021_wallet_audit
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0022_pgvector"
down_revision = "0021_wallet_audit"
branch_labels = None
depends_on = None

DIMENSIONS = 256  # the embedded model's width (wordllama-l2-256); pg_index checks it
_BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    ).first()
    if available is None:
        return
    try:
        with bind.begin_nested():  # a failure (no privilege) rolls back to here only
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except sa.exc.DBAPIError:
        return
    op.execute(f"ALTER TABLE retrieval_chunks ADD COLUMN embedding_vector vector({DIMENSIONS})")
    _fill(bind)
    op.execute(
        "CREATE INDEX ix_retrieval_chunks_hnsw ON retrieval_chunks "
        "USING hnsw (embedding_vector vector_cosine_ops)"
    )


def _fill(bind: sa.Connection) -> None:
    """The vectors of chunks indexed before pgvector, from their float32 bytes."""
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, embedding FROM retrieval_chunks WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            return
        values = [
            {"i": i, "v": np.frombuffer(blob, np.float32).tolist()}
            for i, blob in rows
            if len(blob) == 4 * DIMENSIONS
        ]
        if values:
            bind.execute(
                sa.text(
                    "UPDATE retrieval_chunks SET embedding_vector = CAST(:v AS real[]) "
                    "WHERE id = :i"
                ),
                values,
            )
        last = int(rows[-1][0])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_retrieval_chunks_hnsw")
    op.execute("ALTER TABLE retrieval_chunks DROP COLUMN IF EXISTS embedding_vector")
