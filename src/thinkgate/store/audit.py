"""The audit log at rest: append and read, nothing else (no update or delete path; the
table's trigger refuses both anyway)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from thinkgate.store.billing_tables import AuditRow
from thinkgate.store.database import Database


@dataclass(slots=True, frozen=True)
class AuditEntry:
    created_at: int
    actor_id: str | None
    ip: str | None
    action: str
    target: str | None
    detail: dict[str, Any] | None
    id: int = 0


@dataclass(slots=True, frozen=True)
class AuditFilter:
    """None: no condition. `action` matches a whole action or a prefix ending in `.`
    (`key.` is every key event); times are unix seconds, `until` exclusive."""

    action: str | None = None
    actor_id: str | None = None
    target: str | None = None
    since: int | None = None
    until: int | None = None


class AuditRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def append(self, entry: AuditEntry) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                AuditRow(
                    created_at=entry.created_at,
                    actor_id=entry.actor_id,
                    ip=entry.ip,
                    action=entry.action,
                    target=entry.target,
                    detail=entry.detail,
                )
            )

    async def search(self, where: AuditFilter, *, limit: int, offset: int = 0) -> list[AuditEntry]:
        """Newest first."""
        query = _filtered(select(AuditRow), where)
        query = query.order_by(AuditRow.pk.desc()).limit(limit).offset(offset)
        async with self._db.session() as session:
            rows: list[AuditRow] = list(await session.scalars(query))
            return [
                AuditEntry(
                    created_at=row.created_at,
                    actor_id=row.actor_id,
                    ip=row.ip,
                    action=row.action,
                    target=row.target,
                    detail=row.detail,
                    id=row.pk,
                )
                for row in rows
            ]


def _filtered(query: Select[Any], where: AuditFilter) -> Select[Any]:
    if where.action:
        if where.action.endswith("."):
            query = query.where(AuditRow.action.startswith(where.action, autoescape=True))
        else:
            query = query.where(AuditRow.action == where.action)
    if where.actor_id:
        query = query.where(AuditRow.actor_id == where.actor_id)
    if where.target:
        query = query.where(AuditRow.target == where.target)
    if where.since is not None:
        query = query.where(AuditRow.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditRow.created_at < where.until)
    return query
