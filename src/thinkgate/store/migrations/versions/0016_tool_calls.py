"""Hosted tool calls on the ledger: how many completed calls a request made (web search…)
and what they cost (picodollars, part of `cost_pico`), per row and in the daily roll-up.

Revision ID: 0016_tool_calls
Revises: 0014_response_channel
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_tool_calls"
down_revision = "0014_response_channel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("tool_calls", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("tool_cost_pico", sa.BigInteger, nullable=False, server_default="0")
        )
    with op.batch_alter_table("usage_daily") as batch:
        batch.add_column(sa.Column("tool_calls", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("tool_cost_pico", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    for table in ("usage_daily", "ledger"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tool_cost_pico")
            batch.drop_column("tool_calls")
