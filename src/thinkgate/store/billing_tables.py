"""Tables of the wallet, redemption codes, plans, the audit log and alert marks
(migration 0021). Money is integer picodollars, as on the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from thinkgate.store.tables import Base


class AuditRow(Base):
    """One admin action or security event. Append-only (a trigger refuses UPDATE/DELETE)."""

    __tablename__ = "audit_log"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class WalletRow(Base):
    """A user's prepaid balance: credits so far; spend is the ledger's since `started_at`."""

    __tablename__ = "wallets"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[int] = mapped_column(Integer)
    credit_pico: Mapped[int] = mapped_column(BigInteger, default=0)


class WalletEntryRow(Base):
    """A credit (redeemed code) or an admin's adjustment (signed, with its reason)."""

    __tablename__ = "wallet_entries"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)
    amount_pico: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # "redeem" | "adjust"
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RedemptionBatchRow(Base):
    __tablename__ = "redemption_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    value_pico: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RedemptionCodeRow(Base):
    """A code, kept as its SHA-256 (and a short prefix to recognise it by)."""

    __tablename__ = "redemption_codes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    value_pico: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    redeemed_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    redeemed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PlanRow(Base):
    """A plan: rolling windows, each with a request, token and/or money limit."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(Integer)


class PlanAssignmentRow(Base):
    __tablename__ = "plan_assignments"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)  # user:ID | key:ID
    plan_id: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[int] = mapped_column(Integer)


class AlertMarkRow(Base):
    """An alert already sent (subject, kind, threshold, period): the insert that wins sends."""

    __tablename__ = "alert_marks"

    mark: Mapped[str] = mapped_column(String(300), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
