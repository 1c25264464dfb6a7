"""Background jobs as the replicas share them: the request to run again, the replica that
runs it now, and whether any of it reached a client.

Each decision that two replicas could race over (take a job over, follow it, cancel it)
is one transaction holding the job's row (`FOR UPDATE` on PostgreSQL; SQLite has one
writer), so a job is never resumed after a client saw part of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.database import Database
from thinkgate.store.tables import BackgroundJobRow, ResponseEventRow, ResponseRow

UNFINISHED = ("queued", "in_progress")


@dataclass(slots=True, frozen=True)
class Claim:
    """What a replica that picked a job from the queue must do with it.

    run: generate (from the start; `attempt` > 1: a takeover, its old events deleted);
    done: nothing (finished, cancelled or failed here, or deleted)."""

    action: Literal["run", "done"]
    attempt: int = 0
    request: dict[str, Any] | None = None
    key_id: str | None = None


class BackgroundJobRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self, response_id: str, request: dict[str, Any], *, key_id: str | None
    ) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                BackgroundJobRow(
                    response_id=response_id,
                    key_id=key_id,
                    request=request,
                    created_at=int(time.time()),
                )
            )

    async def set_queue_job(self, response_id: str, queue_job_id: int | None) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(BackgroundJobRow)
                .where(BackgroundJobRow.response_id == response_id)
                .values(queue_job_id=queue_job_id)
            )

    async def queue_job(self, response_id: str) -> int | None:
        async with self._db.session() as session:
            row = await session.get(BackgroundJobRow, response_id)
            return None if row is None else row.queue_job_id

    async def claim(self, response_id: str, owner: str, takeover_error: dict[str, str]) -> Claim:
        """Take the job for `owner`: run it (again, from the start, when nothing of it
        reached a client), or settle it: cancelled if asked, failed if a run that a client
        followed did not finish (its error ends the stored events)."""
        async with self._db.session() as session, session.begin():
            job, response = await _locked(session, response_id)
            if job is None or response is None or response.status not in UNFINISHED:
                return Claim("done")
            if job.cancel_requested:
                _settle(response, "cancelled", None)
                return Claim("done")
            if job.attempts > 0 and job.streamed:
                _settle(response, "failed", takeover_error)
                await _append_failed(session, response)
                return Claim("done")
            if job.attempts > 0:  # nobody saw any of it: start over
                await session.execute(
                    delete(ResponseEventRow).where(ResponseEventRow.response_id == response_id)
                )
                body = {**response.body, "status": "queued", "output": [], "error": None}
                body["usage"] = None
                response.body, response.status = body, "queued"
            job.owner, job.attempts = owner, job.attempts + 1
            return Claim("run", job.attempts, dict(job.request), job.key_id)

    async def mark_streamed(self, response_id: str) -> None:
        """An event of the job is about to reach a client: it may never run again."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(BackgroundJobRow)
                .where(BackgroundJobRow.response_id == response_id)
                .values(streamed=True)
            )

    async def request_cancel(self, response_id: str) -> bool:
        """Ask for the job to stop. True: nobody had started it, so it is cancelled now
        (no replica will: `claim` sees the request); False: its owner must stop it."""
        async with self._db.session() as session, session.begin():
            job, response = await _locked(session, response_id)
            if job is None or response is None or response.status not in UNFINISHED:
                return True
            job.cancel_requested = True
            if job.owner is None:
                _settle(response, "cancelled", None)
                return True
            return False

    async def cancel_unfinished(self, response_id: str) -> None:
        """The owner did not answer a cancel (it is gone): cancelled here."""
        async with self._db.session() as session, session.begin():
            _, response = await _locked(session, response_id)
            if response is not None and response.status in UNFINISHED:
                _settle(response, "cancelled", None)

    async def unfinished(self) -> list[str]:
        """Jobs whose response is not finished, oldest first."""
        async with self._db.session() as session:
            ids = await session.scalars(
                select(BackgroundJobRow.response_id)
                .join(ResponseRow, ResponseRow.id == BackgroundJobRow.response_id)
                .where(ResponseRow.status.in_(UNFINISHED))
                .order_by(BackgroundJobRow.created_at)
            )
            return list(ids)


async def _locked(
    session: AsyncSession, response_id: str
) -> tuple[BackgroundJobRow | None, ResponseRow | None]:
    job = await session.scalar(
        select(BackgroundJobRow)
        .where(BackgroundJobRow.response_id == response_id)
        .with_for_update()
    )
    if job is None:
        return None, None
    response = await session.scalar(
        select(ResponseRow).where(ResponseRow.id == response_id).with_for_update()
    )
    return job, response


def _settle(response: ResponseRow, status: str, error: dict[str, str] | None) -> None:
    response.body = {**response.body, "status": status, "error": error}
    response.status = status


async def _append_failed(session: AsyncSession, response: ResponseRow) -> None:
    """The stream's last event, so that a follower (or a resumed stream) ends."""
    last = await session.scalar(
        select(func.max(ResponseEventRow.sequence_number)).where(
            ResponseEventRow.response_id == response.id
        )
    )
    sequence = 0 if last is None else last + 1
    event = {"type": "response.failed", "sequence_number": sequence, "response": response.body}
    session.add(ResponseEventRow(response_id=response.id, sequence_number=sequence, body=event))
