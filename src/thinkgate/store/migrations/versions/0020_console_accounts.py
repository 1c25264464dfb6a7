"""Console accounts (issue 24): a user's language, e-mail and sign-up state; sessions'
last activity (idle timeout); one-time tokens (invite codes, e-mail verification, password
reset, single sign-on state: only their SHA-256 at rest); single sign-on identities.

Revision ID: 0020_console_accounts
Revises: 0019_retrieval
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_console_accounts"
down_revision = "0019_retrieval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("email_verified_at", sa.Integer, nullable=True))
        # "active" | "pending_approval" (waits for an admin) | "unverified" (waits for mail)
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="active")
        )
    op.create_index("ux_users_email", "users", ["email"], unique=True)
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.Integer, nullable=True))
    op.create_table(
        "console_tokens",
        sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 of the token
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column(
            "user_id",
            sa.String(64),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("used_at", sa.Integer, nullable=True),
    )
    op.create_index("ix_console_tokens_purpose", "console_tokens", ["purpose", "created_at"])
    op.create_table(
        "sso_identities",
        sa.Column("provider", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(64),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_sso_identities_user", "sso_identities", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_sso_identities_user", table_name="sso_identities")
    op.drop_table("sso_identities")
    op.drop_index("ix_console_tokens_purpose", table_name="console_tokens")
    op.drop_table("console_tokens")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("last_seen_at")
    op.drop_index("ux_users_email", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("status")
        batch.drop_column("email_verified_at")
        batch.drop_column("email")
        batch.drop_column("locale")
