"""Stored responses: the object, its input items and output items, and chains of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.database import Database
from thinkgate.store.tables import (
    ConversationItemRow,
    ConversationRow,
    ResponseItemRow,
    ResponseRow,
)

Item = dict[str, Any]


@dataclass(slots=True, frozen=True)
class ItemPage:
    items: list[Item]
    has_more: bool


class ResponseRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        *,
        owner: str | None = None,
        channel: str | None = None,
    ) -> None:
        """Insert or replace the response with its items (items carry their own `id`);
        `channel`: the upstream channel that served it."""
        try:
            await self._save(response, input_items, owner=owner, channel=channel)
        except Exception:
            self._db.writes_failing = True
            raise

    async def ensure_writable(self) -> None:
        await self._db.ensure_writable()

    async def _save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        *,
        owner: str | None,
        channel: str | None = None,
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
                    channel=channel,
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

    async def served_by(self, response_id: str) -> str | None:
        """The upstream channel that served a stored response (affinity routing)."""
        async with self._db.session() as session:
            channel: str | None = await session.scalar(
                select(ResponseRow.channel).where(ResponseRow.id == response_id)
            )
            return channel

    async def update(self, response: dict[str, Any]) -> None:
        """Replace the stored body and status only (a background job's progress)."""
        async with self._db.session() as session, session.begin():
            row = await session.get(ResponseRow, response["id"])
            if row is not None:
                row.body, row.status = response, response["status"]

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
        """A page of every item the response was generated from, as OpenAI lists them."""
        items = await self._generated_from(response_id)
        if order == "desc":
            items.reverse()
        if after is not None:
            anchor = next((i for i, item in enumerate(items) if item.get("id") == after), None)
            if anchor is None:
                return ItemPage(items=[], has_more=False)
            items = items[anchor + 1 :]
        return ItemPage(items=items[:limit], has_more=len(items) > limit)

    async def _generated_from(self, response_id: str) -> list[Item]:
        """The earlier turns (inputs and outputs, reasoning included, along the
        `previous_response_id` chain, or the conversation's items before this turn's),
        then the response's own input."""
        async with self._db.session() as session:
            row = await session.get(ResponseRow, response_id)
            bodies = await session.scalars(
                select(ResponseItemRow.body)
                .where(ResponseItemRow.response_id == response_id, ResponseItemRow.role == "input")
                .order_by(ResponseItemRow.position)
            )
            own = [dict(body) for body in bodies]
            conversation = (row.body.get("conversation") or {}) if row is not None else {}
            earlier: list[Item] = []
            if own and conversation.get("id"):
                earlier = await _conversation_before(session, conversation["id"], own[0]["id"])
        if row is not None and row.previous_response_id is not None:
            earlier = await self.conversation(row.previous_response_id, owner=row.owner) or []
        return [*earlier, *own]

    async def find_items(self, ids: Sequence[str], *, owner: str | None) -> dict[str, Item]:
        """Stored items by id that `owner` may read: of its responses (the latest copy of
        each), else of its conversations."""
        wanted = sorted(set(ids))
        query = (
            select(ResponseItemRow.item_id, ResponseItemRow.body)
            .join(ResponseRow, ResponseRow.id == ResponseItemRow.response_id)
            .where(ResponseItemRow.item_id.in_(wanted))
            .order_by(ResponseItemRow.pk)
        )
        if owner is not None:
            query = query.where(ResponseRow.owner == owner)
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
            found = {row.item_id: dict(row.body) for row in rows}
            missing = [item_id for item_id in wanted if item_id not in found]
            if missing:
                found |= await _conversation_items(session, missing, owner)
        return found

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


async def _conversation_items(
    session: AsyncSession, ids: Sequence[str], owner: str | None
) -> dict[str, Item]:
    """Items of `owner`'s conversations by id (the latest copy of each)."""
    query = (
        select(ConversationItemRow.item_id, ConversationItemRow.body)
        .join(ConversationRow, ConversationRow.id == ConversationItemRow.conversation_id)
        .where(ConversationItemRow.item_id.in_(ids))
        .order_by(ConversationItemRow.pk)
    )
    if owner is not None:
        query = query.where(ConversationRow.owner == owner)
    rows = (await session.execute(query)).all()
    return {row.item_id: dict(row.body) for row in rows}


async def _conversation_before(
    session: AsyncSession, conversation_id: str, first_own: str
) -> list[Item]:
    """The conversation's items before a turn, whose input starts with the item
    `first_own` (a turn's items join its conversation when it finishes; an id is never
    in one conversation twice). None found (the turn failed, or its items were deleted
    from the conversation): the turn's own input only."""
    where = ConversationItemRow.conversation_id == conversation_id
    start = await session.scalar(
        select(func.min(ConversationItemRow.position)).where(
            where, ConversationItemRow.item_id == first_own
        )
    )
    if start is None:
        return []
    bodies = await session.scalars(
        select(ConversationItemRow.body)
        .where(where, ConversationItemRow.position < start)
        .order_by(ConversationItemRow.position)
    )
    return [dict(body) for body in bodies]
