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

    async def save(self, response: dict[str, Any], input_items: list[Item]) -> None:
        """Insert or replace the response with its items (items carry their own `id`)."""
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

    async def get(self, response_id: str) -> dict[str, Any] | None:
        async with self._db.session() as session:
            row = await session.get(ResponseRow, response_id)
            return None if row is None else dict(row.body)

    async def delete(self, response_id: str) -> bool:
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

    async def conversation(self, response_id: str) -> list[Item] | None:
        """Every item of the chain ending at `response_id`, oldest first; None if unknown."""
        chain: list[str] = []
        async with self._db.session() as session:
            current: str | None = response_id
            while current is not None and current not in chain:
                row = await session.get(ResponseRow, current)
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
