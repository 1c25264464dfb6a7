"""Stored conversations: the object, its owner, and its items in order.

Every read takes the caller's owner id: a conversation of another owner is
reported exactly as a missing one (None), so the API answers 404 for both.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from sqlalchemy import delete, func, select

from thinkgate.store.database import Database
from thinkgate.store.responses import ItemPage
from thinkgate.store.tables import ConversationItemRow, ConversationRow

Item = dict[str, Any]
Conversation = dict[str, Any]


def _wire(row: ConversationRow) -> Conversation:
    return {
        "id": row.id,
        "object": "conversation",
        "created_at": row.created_at,
        "metadata": dict(row.metadata_),
    }


class ConversationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self, conversation_id: str, *, owner: str, metadata: dict[str, str], items: list[Item]
    ) -> Conversation:
        row = ConversationRow(
            id=conversation_id, created_at=int(time.time()), owner=owner, metadata_=metadata
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add_all(_item_rows(conversation_id, 0, items))
        return _wire(row)

    async def get(self, conversation_id: str, *, owner: str) -> Conversation | None:
        async with self._db.session() as session:
            row = await self._owned(session, conversation_id, owner)
            return None if row is None else _wire(row)

    async def update_metadata(
        self, conversation_id: str, *, owner: str, metadata: dict[str, str]
    ) -> Conversation | None:
        async with self._db.session() as session, session.begin():
            row = await self._owned(session, conversation_id, owner)
            if row is None:
                return None
            row.metadata_ = metadata
            return _wire(row)

    async def delete(self, conversation_id: str, *, owner: str) -> bool:
        async with self._db.session() as session, session.begin():
            row = await self._owned(session, conversation_id, owner)
            if row is None:
                return False
            await session.execute(
                delete(ConversationItemRow).where(
                    ConversationItemRow.conversation_id == conversation_id
                )
            )
            await session.delete(row)
            return True

    async def append(self, conversation_id: str, items: list[Item]) -> None:
        """Add items after the last one (the owner was checked when the items were made)."""
        async with self._db.session() as session, session.begin():
            last = await session.scalar(
                select(func.max(ConversationItemRow.position)).where(
                    ConversationItemRow.conversation_id == conversation_id
                )
            )
            start = 0 if last is None else last + 1
            session.add_all(_item_rows(conversation_id, start, items))

    async def all_items(self, conversation_id: str, *, owner: str) -> list[Item] | None:
        """Every item, oldest first: what a response in this conversation sees first."""
        async with self._db.session() as session:
            if await self._owned(session, conversation_id, owner) is None:
                return None
            bodies = await session.scalars(
                select(ConversationItemRow.body)
                .where(ConversationItemRow.conversation_id == conversation_id)
                .order_by(ConversationItemRow.position)
            )
            return [dict(body) for body in bodies]

    async def list_items(
        self,
        conversation_id: str,
        *,
        after: str | None,
        limit: int,
        order: Literal["asc", "desc"],
    ) -> ItemPage:
        async with self._db.session() as session:
            where = ConversationItemRow.conversation_id == conversation_id
            query = select(ConversationItemRow.body).where(where)
            if after is not None:
                anchor = await session.scalar(
                    select(ConversationItemRow.position).where(
                        where, ConversationItemRow.item_id == after
                    )
                )
                if anchor is None:
                    return ItemPage(items=[], has_more=False)
                query = query.where(
                    ConversationItemRow.position > anchor
                    if order == "asc"
                    else ConversationItemRow.position < anchor
                )
            position = ConversationItemRow.position
            ordering = position.asc() if order == "asc" else position.desc()
            bodies = (await session.scalars(query.order_by(ordering).limit(limit + 1))).all()
        return ItemPage(items=[dict(body) for body in bodies[:limit]], has_more=len(bodies) > limit)

    async def get_item(self, conversation_id: str, item_id: str) -> Item | None:
        async with self._db.session() as session:
            body = await session.scalar(
                select(ConversationItemRow.body).where(
                    ConversationItemRow.conversation_id == conversation_id,
                    ConversationItemRow.item_id == item_id,
                )
            )
            return None if body is None else dict(body)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                delete(ConversationItemRow).where(
                    ConversationItemRow.conversation_id == conversation_id,
                    ConversationItemRow.item_id == item_id,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    @staticmethod
    async def _owned(session: Any, conversation_id: str, owner: str) -> ConversationRow | None:
        row: ConversationRow | None = await session.get(ConversationRow, conversation_id)
        return row if row is not None and row.owner == owner else None


def _item_rows(conversation_id: str, start: int, items: list[Item]) -> list[ConversationItemRow]:
    return [
        ConversationItemRow(
            conversation_id=conversation_id, position=start + offset, item_id=item["id"], body=item
        )
        for offset, item in enumerate(items)
    ]
