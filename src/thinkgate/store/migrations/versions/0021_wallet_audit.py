"""Wallets, redemption codes, plans, the audit log and alert marks (issue 24).

The audit log is append-only: no code path updates or deletes a row, and a trigger on
SQLite and PostgreSQL refuses both, so even a hand-written statement cannot rewrite it.

Revision ID: 0021_wallet_audit
Revises: 0020_console_accounts
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_wallet_audit"
down_revision = "0020_console_accounts"
branch_labels = None
depends_on = None

_PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_index("ix_audit_time", "audit_log", ["created_at"])
    op.create_index("ix_audit_action_time", "audit_log", ["action", "created_at"])
    op.create_index("ix_audit_actor_time", "audit_log", ["actor_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    op.create_table(
        "wallets",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.Integer, nullable=False),
        sa.Column("credit_pico", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "wallet_entries",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("amount_pico", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_wallet_entries_user", "wallet_entries", ["user_id", "created_at"])
    op.create_table(
        "redemption_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value_pico", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "redemption_codes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("value_pico", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("redeemed_at", sa.Integer, nullable=True),
        sa.Column("redeemed_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.Integer, nullable=True),
    )
    op.create_index("ix_redemption_codes_batch", "redemption_codes", ["batch_id"])
    op.create_table(
        "plans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("windows", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "plan_assignments",
        sa.Column("subject", sa.String(80), primary_key=True),  # "user:ID" | "key:ID"
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("assigned_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "alert_marks",
        sa.Column("mark", sa.String(300), primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    # a wallet's spend: the user's ledger rows since the wallet began
    op.create_index("ix_ledger_user_time", "ledger", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_user_time", table_name="ledger")
    for table in (
        "alert_marks",
        "plan_assignments",
        "plans",
        "redemption_codes",
        "redemption_batches",
        "wallet_entries",
        "wallets",
        "audit_log",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
