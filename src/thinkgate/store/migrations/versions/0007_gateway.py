"""The gateway: users, key limits and budgets, the request ledger and its daily roll-up.

Revision ID: 0007_gateway
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_gateway"
down_revision = "0001"
branch_labels = None
depends_on = None

_KEY_COLUMNS = (
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("expires_at", sa.Integer, nullable=True),
    sa.Column("last_used_at", sa.Integer, nullable=True),
    sa.Column("models", sa.JSON, nullable=True),
    sa.Column("budget_usd", sa.String(40), nullable=True),
    sa.Column("budget_monthly_usd", sa.String(40), nullable=True),
    sa.Column("rpm", sa.Integer, nullable=True),
    sa.Column("tpm", sa.Integer, nullable=True),
    sa.Column("ip_allow", sa.JSON, nullable=True),
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("api_keys") as batch:
        for column in _KEY_COLUMNS:
            batch.add_column(column.copy())
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    op.create_table(
        "ledger",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(80), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("reasoning_tokens", sa.Integer, nullable=False),
        sa.Column("cost_pico", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_ledger_key_time", "ledger", ["key_id", "created_at"])
    op.create_index("ix_ledger_time", "ledger", ["created_at"])
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("cached_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_pico", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_usage_daily_key_day", "usage_daily", ["key_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_usage_daily_key_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index("ix_ledger_time", table_name="ledger")
    op.drop_index("ix_ledger_key_time", table_name="ledger")
    op.drop_table("ledger")
    op.drop_index("ix_api_keys_user", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        for column in reversed(_KEY_COLUMNS):
            batch.drop_column(column.name)
    op.drop_table("users")
