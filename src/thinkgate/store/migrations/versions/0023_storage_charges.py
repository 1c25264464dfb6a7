"""Storage on the ledger (issue 22): each owner's finished UTC day of storage is charged
once. `storage_usage.charged_pico` marks the day charged (set in the same transaction as
the ledger row), and a unique index on the storage rows' `request_id` (`storage:OWNER:DAY`)
makes a second charge of one day impossible, whichever replica tries.

Revision ID: 0023_storage_charges
Revises: 0021_wallet_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_storage_charges"
down_revision = "0022_pgvector"
branch_labels = None
depends_on = None

_STORAGE_ROWS = sa.text("endpoint = 'storage'")


def upgrade() -> None:
    with op.batch_alter_table("storage_usage") as table:
        table.add_column(sa.Column("charged_pico", sa.BigInteger, nullable=True))
    op.create_index(
        "ux_ledger_storage_day",
        "ledger",
        ["request_id"],
        unique=True,
        sqlite_where=_STORAGE_ROWS,
        postgresql_where=_STORAGE_ROWS,
    )


def downgrade() -> None:
    op.drop_index("ux_ledger_storage_day", table_name="ledger")
    with op.batch_alter_table("storage_usage") as table:
        table.drop_column("charged_pico")
