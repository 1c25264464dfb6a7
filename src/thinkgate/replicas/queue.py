"""The background job queue: PgQueuer, on the PostgreSQL the replicas already share, or
its in-memory adapter on the single-process SQLite default.

A replica takes a job with one `UPDATE … FOR UPDATE SKIP LOCKED` and renews its lease
(the row's `heartbeat`, every half lease) while the job runs. Another replica's dequeue
takes a `picked` row only once its heartbeat is older than the lease, so no start-up, and
no replica at all, touches a job whose owner is alive. A cancel is PgQueuer's: the row
is removed and a NOTIFY reaches the owner, whose job scope is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pgqueuer.adapters.inmemory import InMemoryDriver, InMemoryQueries
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Context, Job
from pgqueuer.domain.types import JobId
from pgqueuer.ports.driver import Driver
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries

log = logging.getLogger(__name__)

ENTRYPOINT = "thinkgate_background_response"
_RETRIES = 5  # a job whose handling failed (not its generation: that ends in its response)
# Handler: run the job to its end; True: this replica is stopping, hand the job back.
Handler = Callable[[str], Awaitable[bool]]


class JobQueue:
    def __init__(self, queries: Any, *, owner: str, lease_seconds: float, shared: bool) -> None:
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.shared = shared
        self.driver: Driver = queries.driver
        self._queries = queries
        self._manager = QueueManager(queries)
        self._task: asyncio.Task[None] | None = None
        self._handler: Handler | None = None
        self._manager.entrypoint(ENTRYPOINT, accepts_context=True)(self._handle)

    def start(self, handler: Handler) -> None:
        """Begin taking jobs (this replica's and, once their lease lapsed, others')."""
        self._handler = handler
        self._task = asyncio.create_task(self._run(), name="job queue")

    async def enqueue(self, response_id: str) -> int | None:
        [job_id] = await self._queries.enqueue(ENTRYPOINT, response_id.encode())
        return int(job_id)

    async def cancel(self, queue_job_id: int) -> None:
        await self._queries.mark_job_as_cancelled([JobId(queue_job_id)])

    async def aclose(self) -> None:
        """Stop taking jobs; waits for the running ones (the caller stopped them)."""
        self._manager.shutdown.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """The dequeue loop, restarted with backoff if the database connection fails."""
        lease = timedelta(seconds=self.lease_seconds)
        backoff = 1.0
        while not self._manager.shutdown.is_set():
            try:
                await self._manager.run(
                    dequeue_timeout=lease / 2,  # how soon a lapsed lease is noticed
                    batch_size=1,
                    heartbeat_timeout=lease,
                    log_aggregation_interval=timedelta(0),
                )
            except Exception:
                log.exception("job queue stopped; restarting in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _handle(self, job: Job, context: Context) -> None:
        assert self._handler is not None and job.payload is not None
        handover = False
        try:
            with context.cancellation:  # a cancel NOTIFY cancels the job here
                handover = await self._handler(job.payload.decode())
        except Exception as error:  # the database, claiming it: try again shortly
            if job.attempts >= _RETRIES:
                raise
            log.warning("background job %s: %s; retrying", job.id, error)
            raise RetryRequested(delay=timedelta(seconds=2**job.attempts)) from error
        if handover:
            raise RetryRequested(reason=f"replica {self.owner} stopped")


async def open_job_queue(
    database_url: str, *, owner: str, lease_seconds: float
) -> tuple[JobQueue, Callable[[], Awaitable[None]]]:
    """The queue for this database, and how to close what it opened."""
    if not database_url.startswith("postgresql"):
        queue = JobQueue(
            InMemoryQueries(driver=InMemoryDriver()),
            owner=owner,
            lease_seconds=lease_seconds,
            shared=False,
        )
        return queue, _nothing
    import asyncpg  # type: ignore[import-untyped]
    from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    driver = AsyncpgPoolDriver(pool)
    await driver.__aenter__()  # held open: the queue's runs come and go, the LISTEN stays
    queue = JobQueue(Queries(driver), owner=owner, lease_seconds=lease_seconds, shared=True)

    async def close() -> None:
        await driver.__aexit__(None, None, None)
        await pool.close()

    return queue, close


async def _nothing() -> None:
    return None
