"""Table definitions (the Alembic migrations under `migrations/` create them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
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
