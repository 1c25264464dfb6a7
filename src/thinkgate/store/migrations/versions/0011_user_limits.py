"""Per-user limits: a budget (total and monthly, USD), RPM/TPM and an allowed-model list
that all of a user's keys draw from; `limits_rev` names the user's budget counters. Merges
the two heads (0009_console, 0010_conversations).

Revision ID: 0011_user_limits
Revises: 0009_console, 0010_conversations
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_user_limits"
down_revision = ("0009_console", "0010_conversations")
branch_labels = None
depends_on = None


def _user_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("models", sa.JSON, nullable=True),
        sa.Column("budget_usd", sa.String(40), nullable=True),
        sa.Column("budget_monthly_usd", sa.String(40), nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("limits_rev", sa.Integer, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for column in _user_columns():
            batch.add_column(column)
    # A user's spend (budget counters start from it): summed over all of the user's keys.
    op.create_index("ix_usage_daily_user_day", "usage_daily", ["user_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_usage_daily_user_day", table_name="usage_daily")
    with op.batch_alter_table("users") as batch:
        for column in reversed(_user_columns()):
            batch.drop_column(column.name)
