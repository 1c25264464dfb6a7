"""Plans and who is on them, at rest. A plan's windows are JSON:
`[{"period": "5h", "requests": 100, "tokens": null, "usd": "2.50"}, …]`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from thinkgate.store.billing_tables import PlanAssignmentRow, PlanRow
from thinkgate.store.database import Database


@dataclass(slots=True, frozen=True)
class PlanRecord:
    id: str
    name: str
    windows: tuple[dict[str, Any], ...]
    created_at: int


class PlanRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, name: str, windows: list[dict[str, Any]]) -> PlanRecord:
        record = PlanRecord("plan_" + secrets.token_hex(8), name, tuple(windows), int(time.time()))
        async with self._db.session() as session, session.begin():
            session.add(
                PlanRow(id=record.id, name=name, windows=windows, created_at=record.created_at)
            )
        return record

    async def update(self, plan_id: str, name: str, windows: list[dict[str, Any]]) -> bool:
        async with self._db.session() as session, session.begin():
            row = await session.get(PlanRow, plan_id)
            if row is None:
                return False
            row.name, row.windows = name, windows
            return True

    async def get(self, plan_id: str) -> PlanRecord | None:
        async with self._db.session() as session:
            row = await session.get(PlanRow, plan_id)
            return None if row is None else _record(row)

    async def listing(self) -> list[PlanRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(select(PlanRow).order_by(PlanRow.created_at))
            return [_record(row) for row in rows]

    async def assign(self, subject: str, plan_id: str | None) -> None:
        """Put `subject` (`user:ID` or `key:ID`) on a plan; None: off any plan."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(PlanAssignmentRow).where(PlanAssignmentRow.subject == subject)
            )
            if plan_id is not None:
                session.add(
                    PlanAssignmentRow(
                        subject=subject, plan_id=plan_id, assigned_at=int(time.time())
                    )
                )

    async def plan_of(self, subject: str) -> PlanRecord | None:
        async with self._db.session() as session:
            row = await session.get(PlanAssignmentRow, subject)
            if row is None:
                return None
            plan = await session.get(PlanRow, row.plan_id)
            return None if plan is None else _record(plan)

    async def assignments(self) -> dict[str, str]:
        async with self._db.session() as session:
            rows = await session.scalars(select(PlanAssignmentRow))
            return {row.subject: row.plan_id for row in rows}


def _record(row: PlanRow) -> PlanRecord:
    return PlanRecord(row.id, row.name, tuple(row.windows), row.created_at)
