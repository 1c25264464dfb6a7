"""Table definitions (the Alembic migrations under `migrations/` create them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ApiKeyRow(Base):
    """An API key, stored as its SHA-256 hash; the key itself is shown once and never kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The gateway (issue 7, migration 0007): owner, limits and budgets; money as decimal text.
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    budget_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    budget_monthly_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ip_allow: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class UserRow(Base):
    """A person or service owning keys; `admin` users may call /admin/v1."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))  # "admin" | "member"
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)
    # Limits for all of the user's keys together (issue 26, migration 0011): as on a key.
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    budget_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    budget_monthly_usd: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limits_rev: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Console accounts (issue 24, migration 0020): language, e-mail, sign-up state.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, unique=True)
    email_verified_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")


class ConsoleSessionRow(Base):
    """A web console sign-in (migration 0009): the cookie's token is kept only as a hash."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)
    last_seen_at: Mapped[int | None] = mapped_column(Integer, nullable=True)  # idle timeout


class LedgerRow(Base):
    """One billed request; cost in picodollars (1e-12 USD): exact integers that SQL can sum."""

    __tablename__ = "ledger"
    __table_args__ = (
        Index("ix_ledger_key_time", "key_id", "created_at"),
        Index("ix_ledger_time", "created_at"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(80))
    key_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(40))
    input_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    reasoning_tokens: Mapped[int] = mapped_column(Integer)
    cost_pico: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    latency_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(Integer)
    # completed hosted tool calls (web search…) and their price, part of cost_pico (0016)
    tool_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tool_cost_pico: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class UsageDailyRow(Base):
    """The ledger rolled up per day, key and model: usage queries never scan the ledger."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        Index("ix_usage_daily_key_day", "key_id", "day"),
        Index("ix_usage_daily_user_day", "user_id", "day"),
    )

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, UTC
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_pico: Mapped[int] = mapped_column(BigInteger)
    tool_calls: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tool_cost_pico: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ResponseRow(Base):
    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    previous_response_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The caller's owner id (see api/deps.py `OwnerDep`); others get 404, as for an unknown id.
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The upstream channel that served it (migration 0014): the next turn's first choice.
    channel: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ResponseItemRow(Base):
    """One input or output item of a stored response, in order (`position`)."""

    __tablename__ = "response_items"
    __table_args__ = (Index("ix_response_items_order", "response_id", "role", "position"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    response_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("responses.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(10))  # "input" | "output"
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConversationRow(Base):
    """A conversation: a durable, ordered list of items that responses read and append to."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON)


class ConversationItemRow(Base):
    __tablename__ = "conversation_items"
    __table_args__ = (Index("ix_conversation_items_order", "conversation_id", "position"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class ResponseEventRow(Base):
    """One stream event of a background response, kept so a stream can be resumed."""

    __tablename__ = "response_events"

    response_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    sequence_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class PromptRow(Base):
    """A stored prompt template (migration 0012): server-wide, made by an admin."""

    __tablename__ = "prompts"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    latest_version: Mapped[int] = mapped_column(Integer)


class PromptVersionRow(Base):
    """One immutable version of a prompt: `{"messages": [{role, content}, …]}`."""

    __tablename__ = "prompt_versions"

    prompt_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class BackgroundJobRow(Base):
    """A background response's job (migration 0013): the request to run it again, who runs
    it now, and whether any of it reached a client (then it is never run again)."""

    __tablename__ = "background_jobs"

    response_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    streamed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[int] = mapped_column(Integer)
