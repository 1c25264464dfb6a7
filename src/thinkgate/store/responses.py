"""Stored responses: the object, its input items and output items, and chains of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, select

from thinkgate.store.database import Database
from thinkgate.store.tables import ResponseItemRow, ResponseRow

Item = dict[str, Any]


@dataclass(slots=True, frozen=True)
class ItemPage:
    items: list[Item]
    has_more: bool


class ResponseRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self, response: dict[str, Any], input_items: list[Item], *, owner: str | None = None
    ) -> None:
        """Insert or replace the response with its items (items carry their own `id`)."""
        try:
            await self._save(response, input_items, owner=owner)
        except Exception:
            self._db.writes_failing = True
            raise

    async def ensure_writable(self) -> None:
        await self._db.ensure_writable()

    async def _save(
        self, response: dict[str, Any], input_items: list[Item], *, owner: str | None
    ) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ResponseItemRow).where(ResponseItemRow.response_id == response["id"])
            )
            await session.merge(
                ResponseRow(
                    id=response["id"],
                    created_at=response["created_at"],
                    model=response["model"],
                    status=response["status"],
                    previous_response_id=response.get("previous_response_id"),
                    body=response,
                    owner=owner,
                )
            )
            await session.flush()  # the response row first: items reference it
            rows = [
                ResponseItemRow(
                    response_id=response["id"],
                    role=role,
                    position=position,
                    item_id=item["id"],
                    body=item,
                )
                for role, items in (("input", input_items), ("output", response["output"]))
                for position, item in enumerate(items)
            ]
            session.add_all(rows)

    async def get(self, response_id: str, *, owner: str | None = None) -> dict[str, Any] | None:
        """The stored response; None when unknown or (with `owner`) someone else's."""
        async with self._db.session() as session:
            row = await session.get(ResponseRow, response_id)
            if row is None or (owner is not None and row.owner != owner):
                return None
            return dict(row.body)

    async def update(self, response: dict[str, Any]) -> None:
        """Replace the stored body and status only (a background job's progress)."""
        async with self._db.session() as session, session.begin():
            row = await session.get(ResponseRow, response["id"])
            if row is not None:
                row.body, row.status = response, response["status"]

    async def fail_unfinished(self, error: dict[str, str]) -> int:
        """Mark every queued or in-progress response failed (their process is gone)."""
        async with self._db.session() as session, session.begin():
            rows = await session.scalars(
                select(ResponseRow).where(ResponseRow.status.in_(("queued", "in_progress")))
            )
            count = 0
            for row in rows:
                row.body = {**row.body, "status": "failed", "error": error}
                row.status = "failed"
                count += 1
            return count

    async def delete(self, response_id: str, *, owner: str | None = None) -> bool:
        if owner is not None and await self.get(response_id, owner=owner) is None:
            return False
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ResponseItemRow).where(ResponseItemRow.response_id == response_id)
            )
            result = await session.execute(delete(ResponseRow).where(ResponseRow.id == response_id))
            return bool(getattr(result, "rowcount", 0))

    async def input_items(
        self,
        response_id: str,
        *,
        after: str | None,
        limit: int,
        order: Literal["asc", "desc"],
    ) -> ItemPage:
        async with self._db.session() as session:
            query = select(ResponseItemRow.position, ResponseItemRow.body).where(
                ResponseItemRow.response_id == response_id, ResponseItemRow.role == "input"
            )
            if after is not None:
                anchor = await session.scalar(
                    select(ResponseItemRow.position).where(
                        ResponseItemRow.response_id == response_id,
                        ResponseItemRow.role == "input",
                        ResponseItemRow.item_id == after,
                    )
                )
                if anchor is None:
                    return ItemPage(items=[], has_more=False)
                query = query.where(
                    ResponseItemRow.position > anchor
                    if order == "asc"
                    else ResponseItemRow.position < anchor
                )
            ordering = (
                ResponseItemRow.position.asc()
                if order == "asc"
                else ResponseItemRow.position.desc()
            )
            rows = (await session.execute(query.order_by(ordering).limit(limit + 1))).all()
        return ItemPage(items=[dict(row.body) for row in rows[:limit]], has_more=len(rows) > limit)

    async def conversation(
        self, response_id: str, *, owner: str | None = None
    ) -> list[Item] | None:
        """Every item of the chain ending at `response_id`, oldest first; None if unknown
        (or, with `owner`, someone else's)."""
        chain: list[str] = []
        async with self._db.session() as session:
            current: str | None = response_id
            while current is not None and current not in chain:
                row = await session.get(ResponseRow, current)
                if row is not None and owner is not None and row.owner != owner:
                    row = None
                if row is None:
                    if current == response_id:
                        return None
                    break  # an ancestor was deleted: the chain starts after it
                chain.append(current)
                current = row.previous_response_id
            chain.reverse()
            items: list[Item] = []
            for link in chain:
                rows = await session.scalars(
                    select(ResponseItemRow.body)
                    .where(ResponseItemRow.response_id == link)
                    .order_by(ResponseItemRow.role, ResponseItemRow.position)
                )
                items.extend(dict(body) for body in rows)
        return items
