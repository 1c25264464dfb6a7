"""Opening background jobs at boot: the queue (shared or in-process), the wake-ups, the
key each job is billed to; and closing them in order (jobs stop, then the queue)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from thinkgate.config import Settings
from thinkgate.core.admission import Admission
from thinkgate.engine.background import BackgroundJobs
from thinkgate.engine.job_parts import JobParts
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.errors import AuthenticationError
from thinkgate.gateway.service import Gateway
from thinkgate.ids import replica_id
from thinkgate.replicas.queue import open_job_queue
from thinkgate.replicas.wakeups import open_wakeups
from thinkgate.store import (
    BackgroundJobRepository,
    Database,
    KeyRepository,
    ResponseEventRepository,
    ResponseRepository,
)

Closer = Callable[[], Awaitable[None]]


async def open_background_jobs(
    settings: Settings,
    database: Database,
    pipeline: ResponsesPipeline,
    gateway: Gateway,
    responses: ResponseRepository,
    events: ResponseEventRepository,
) -> tuple[BackgroundJobs, Closer]:
    owner = replica_id(settings.replica_id)
    queue, close_queue = await open_job_queue(
        settings.resolved_database_url, owner=owner, lease_seconds=settings.job_lease_seconds
    )
    wakeups, close_wakeups = await open_wakeups(
        settings.redis_url, queue.driver if queue.shared else None
    )
    keys = KeyRepository(database)

    async def admission_for(key_id: str | None) -> Admission | None:
        """The job's key, read again: a key revoked since the request is refused."""
        if key_id is None:
            return None
        key = await keys.get(key_id)
        if key is None or key.revoked_at is not None:
            raise AuthenticationError("The API key of this background response was revoked.")
        return gateway.account(key, "responses")

    parts = JobParts(
        responses=responses,
        events=events,
        records=BackgroundJobRepository(database),
        queue=queue,
        wakeups=wakeups,
        admission_for=admission_for,
    )
    jobs = BackgroundJobs(pipeline, parts)
    await jobs.recover()
    queue.start(jobs.execute)

    async def close() -> None:
        await jobs.aclose()
        await queue.aclose()
        await close_wakeups()
        await close_queue()

    return jobs, close
