"""Background jobs shared by replicas (issue 23): what thinkgate needs to resume or fail a
job another replica started (`background_jobs`), and, on PostgreSQL, the job queue's own
tables (PgQueuer: the queue rows carry the owner and the heartbeat that is the lease).

Background responses left unfinished by a version without this table cannot be resumed
(nothing records their request): they are marked failed once, here.

Revision ID: 0013_background_jobs
Revises: 0012_prompts
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0013_background_jobs"
down_revision = "0012_prompts"
branch_labels = None
depends_on = None

_UNRESUMABLE = (
    '{"code": "server_error", "message": "The server was upgraded before this background '
    'response finished; it cannot be resumed."}'
)


def upgrade() -> None:
    op.create_table(
        "background_jobs",
        sa.Column(
            "response_id",
            sa.String(80),
            sa.ForeignKey("responses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("queue_job_id", sa.BigInteger, nullable=True),
        sa.Column("owner", sa.String(120), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("streamed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    bind = op.get_bind()
    _fail_unresumable(bind)
    if bind.dialect.name == "postgresql":
        _install_queue(bind)


def _fail_unresumable(bind: sa.Connection) -> None:
    responses = sa.table(
        "responses", sa.column("id"), sa.column("status"), sa.column("body", sa.JSON)
    )
    rows = bind.execute(
        sa.select(responses.c.id, responses.c.body).where(
            responses.c.status.in_(("queued", "in_progress"))
        )
    ).all()
    error = json.loads(_UNRESUMABLE)
    for row in rows:
        body = {**row.body, "status": "failed", "error": error}
        bind.execute(
            responses.update().where(responses.c.id == row.id).values(status="failed", body=body)
        )


def _install_queue(bind: sa.Connection) -> None:
    """PgQueuer's DDL is several statements with function bodies: sent through the
    driver's simple query protocol (a prepared statement holds one)."""
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

    _run_script(bind, QueryBuilderEnvironment().build_install_query(create_schema=False))


def _run_script(bind: sa.Connection, sql: str) -> None:
    try:
        from sqlalchemy.util import await_
    except ImportError:  # SQLAlchemy 2.0
        from sqlalchemy.util import await_only as await_
    driver = bind.connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_(driver.execute(sql))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

        _run_script(bind, QueryBuilderEnvironment().build_uninstall_query())
    op.drop_table("background_jobs")
