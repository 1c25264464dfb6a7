"""Stored prompt templates: a prompt and its numbered, immutable versions.

Server-wide (no owner column): on OpenAI a prompt belongs to a project and every key of
the project may use it; here the server is the one project, admins write and any key
reads. A new version takes the next number with one atomic `UPDATE … RETURNING`, so two
admins adding versions at once get "3" and "4", never the same number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from thinkgate.ids import new_id
from thinkgate.store.database import Database
from thinkgate.store.tables import PromptRow, PromptVersionRow

Body = dict[str, Any]


@dataclass(slots=True, frozen=True)
class PromptVersion:
    """What a request needs of a template: which version it is, and its messages."""

    prompt_id: str
    version: str
    messages: list[dict[str, str]]


def _prompt_wire(row: PromptRow) -> Body:
    return {
        "id": row.id,
        "object": "prompt",
        "name": row.name,
        "description": row.description,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "latest_version": str(row.latest_version),
    }


def _version_wire(row: PromptVersionRow) -> Body:
    return {
        "object": "prompt.version",
        "prompt_id": row.prompt_id,
        "version": str(row.version),
        "created_at": row.created_at,
        **row.body,
    }


class PromptRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self, name: str, description: str | None, body: Body, *, created_by: str | None
    ) -> Body:
        """A new prompt whose version "1" is `body`."""
        now = int(time.time())
        row = PromptRow(
            id=new_id("pmpt"),
            name=name,
            description=description,
            created_at=now,
            created_by=created_by,
            latest_version=1,
        )
        version = PromptVersionRow(prompt_id=row.id, version=1, created_at=now, body=body)
        async with self._db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add(version)
        return {**_prompt_wire(row), "versions": [_version_wire(version)]}

    async def add_version(self, prompt_id: str, body: Body) -> Body | None:
        """The next version (None: no such prompt); earlier versions never change."""
        async with self._db.session() as session, session.begin():
            number = await session.scalar(
                update(PromptRow)
                .where(PromptRow.id == prompt_id)
                .values(latest_version=PromptRow.latest_version + 1)
                .returning(PromptRow.latest_version)
            )
            if number is None:
                return None
            row = PromptVersionRow(
                prompt_id=prompt_id, version=number, created_at=int(time.time()), body=body
            )
            session.add(row)
        return _version_wire(row)

    async def list(self) -> list[Body]:
        async with self._db.session() as session:
            rows = await session.scalars(select(PromptRow).order_by(PromptRow.created_at.desc()))
            return [_prompt_wire(row) for row in rows]

    async def get(self, prompt_id: str) -> Body | None:
        """The prompt with every version, oldest first."""
        async with self._db.session() as session:
            row = await session.get(PromptRow, prompt_id)
            if row is None:
                return None
            versions = await session.scalars(
                select(PromptVersionRow)
                .where(PromptVersionRow.prompt_id == prompt_id)
                .order_by(PromptVersionRow.version)
            )
            return {**_prompt_wire(row), "versions": [_version_wire(v) for v in versions]}

    async def delete(self, prompt_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(PromptVersionRow).where(PromptVersionRow.prompt_id == prompt_id)
            )
            result = await session.execute(delete(PromptRow).where(PromptRow.id == prompt_id))
            return bool(getattr(result, "rowcount", 0))

    async def exists(self, prompt_id: str) -> bool:
        async with self._db.session() as session:
            return await session.get(PromptRow, prompt_id) is not None

    async def version(self, prompt_id: str, version: str | None) -> PromptVersion | None:
        """The asked version, or the latest when `version` is None; None when there is no
        such prompt or version (a version is the decimal number it was given)."""
        if version is not None and not _is_number(version):
            return None
        async with self._db.session() as session:
            number: int | None = int(version) if version is not None else None
            if number is None:
                number = await session.scalar(
                    select(PromptRow.latest_version).where(PromptRow.id == prompt_id)
                )
                if number is None:
                    return None
            row = await session.get(PromptVersionRow, (prompt_id, number))
            if row is None:
                return None
            return PromptVersion(prompt_id, str(row.version), list(row.body["messages"]))


def _is_number(version: str) -> bool:
    """ "1", "2", …: written as they were given ("01" is no version)."""
    return version.isdecimal() and len(version) <= 9 and str(int(version)) == version
