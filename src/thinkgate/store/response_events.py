"""The stream events of background responses, by sequence number, so that a client can
resume a stream (`starting_after=N`) after a disconnect or a restart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from thinkgate.store.database import Database
from thinkgate.store.tables import ResponseEventRow

Event = dict[str, Any]


class ResponseEventRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def append(self, response_id: str, events: list[Event]) -> None:
        if not events:
            return
        async with self._db.session() as session, session.begin():
            session.add_all(
                ResponseEventRow(
                    response_id=response_id, sequence_number=event["sequence_number"], body=event
                )
                for event in events
            )

    async def after(self, response_id: str, sequence_number: int) -> list[Event]:
        """Stored events with a sequence number above `sequence_number`, in order."""
        async with self._db.session() as session:
            bodies = await session.scalars(
                select(ResponseEventRow.body)
                .where(
                    ResponseEventRow.response_id == response_id,
                    ResponseEventRow.sequence_number > sequence_number,
                )
                .order_by(ResponseEventRow.sequence_number)
            )
            return [dict(body) for body in bodies]
