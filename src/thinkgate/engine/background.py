"""Background responses: jobs that run apart from the request that made them, on whichever
replica the shared job queue hands them to (`replicas/queue.py`; in-process on SQLite).

    submit ─► queued (stored, enqueued) ─► claimed ─► in_progress ─► completed | incomplete
                  │                          │             │          | failed
                  └──────── cancel ──────────┴─────────────┴─► cancelled

A job is an asyncio task of the replica that claimed it, never of an HTTP connection.
That replica holds a lease (the queue's heartbeat) while the job runs; only when the
lease lapses does another replica claim it, and then (`store/background_jobs.py`) runs
it again from the start if none of it reached a client, else fails it saying why. A
replica's start-up touches no job whose lease is alive. Events are kept in memory while
the job runs (followers here read them, each once it is stored) and stored in small
batches, each announced (`Wakeups`) to followers on other replicas, who read the store.
See docs/replicas.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio

from thinkgate.core.admission import Admission
from thinkgate.core.request import CanonicalRequest, ResponseDict
from thinkgate.engine.assembler import Event
from thinkgate.engine.job_follow import (
    TERMINAL_EVENTS,
    UNFINISHED,
    follow_anywhere,
    follow_stored,
)
from thinkgate.engine.job_parts import JobParts
from thinkgate.engine.job_request import request_from_json, request_to_json
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.engine.response_object import new_response, snapshot
from thinkgate.errors import ThinkgateError
from thinkgate.ids import new_id

log = logging.getLogger(__name__)

_FLUSH_SECONDS = 0.25
TAKEOVER_ERROR = {
    "code": "server_error",
    "message": "The server running this background response stopped (it crashed or was "
    "restarted) after part of the response had been streamed to a client, so it was not "
    "run again. Create the response again.",
}
SHUTDOWN_ERROR = {
    "code": "server_error",
    "message": "The server shut down before this background response finished.",
}


@dataclass(slots=True)
class Job:
    response: ResponseDict
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False
    handover: bool = False  # stopped by shutdown: another replica takes it over
    task: asyncio.Task[None] | None = None
    stored_upto: int = 0
    flushing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def publish(self, event: Event) -> None:
        self.events.append(event)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class BackgroundJobs:
    def __init__(self, pipeline: ResponsesPipeline, parts: JobParts) -> None:
        self._pipeline = pipeline
        self._parts = parts
        self._responses = parts.responses
        self._records = parts.records
        self._queue = parts.queue
        self._jobs: dict[str, Job] = {}
        self._closing = False

    async def recover(self) -> int:
        """In-process queue only (SQLite: one process, so every unfinished job is a dead
        process's): queue them again, to be resumed or failed by the takeover rule. A
        shared queue needs nothing: its lapsed leases are taken over as they lapse."""
        if self._queue.shared:
            return 0
        unfinished = await self._records.unfinished()
        for response_id in unfinished:
            await self._enqueue(response_id)
        if unfinished:
            log.warning("took over %d unfinished background response(s)", len(unfinished))
        return len(unfinished)

    async def submit(self, request: CanonicalRequest, key_id: str | None) -> ResponseDict:
        """Check the request now (client errors are HTTP errors), store it queued, enqueue it."""
        await self._pipeline.prepare(request)
        response = new_response(request, new_id("resp"), int(time.time()))
        response["status"] = "queued"
        await self._responses.save(response, request.input_items, owner=request.context.owner)
        await self._records.create(response["id"], request_to_json(request), key_id=key_id)
        await self._enqueue(response["id"])
        return response

    async def execute(self, response_id: str) -> bool:
        """Run a job the queue handed this replica, to its end. True: stopped by this
        replica's shutdown, to be handed to another one."""
        claim = await self._records.claim(response_id, self._queue.owner, TAKEOVER_ERROR)
        if claim.action != "run" or claim.request is None:
            await self._parts.wakeups.publish(response_id)  # settled: followers end
            return False
        request = request_from_json(claim.request)
        stored = await self._responses.get(response_id)
        if stored is None:
            return False
        job = Job(response=snapshot(stored))
        self._jobs[response_id] = job
        job.task = asyncio.create_task(self._run(job, request, claim.key_id))
        try:
            await asyncio.wait([job.task])
        except asyncio.CancelledError:  # cancelled through the queue, or its shutdown
            job.task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([job.task])
            raise
        return job.handover

    def follow(self, response: dict[str, Any], starting_after: int) -> AsyncIterator[Event] | None:
        """A job's events after `starting_after`, then live ones, from this replica's
        memory or (running elsewhere) the store; None: it is not running anywhere."""
        response_id = response["id"]
        live = self._live(response_id, starting_after)
        if live is not None:
            return self._streamed(response_id, live)
        if not response.get("background") or response.get("status") not in UNFINISHED:
            return None
        stored = follow_stored(
            response_id, starting_after, self._parts.events, self._responses, self._parts.wakeups
        )
        anywhere = follow_anywhere(stored, lambda after: self._live(response_id, after))
        return self._streamed(response_id, anywhere)

    def _live(self, response_id: str, starting_after: int) -> AsyncGenerator[Event] | None:
        job = self._jobs.get(response_id)
        return None if job is None else _follow(job, starting_after, self._flush)

    async def cancel(self, response_id: str) -> bool:
        """Stop a job wherever it runs and return once its cancelled state is stored
        (or it had finished). False: no job of that response is known."""
        job = self._jobs.get(response_id)
        if job is not None and job.task is not None:
            job.task.cancel()
            await asyncio.wait([job.task])
            return True
        settled = await self._records.request_cancel(response_id)
        queue_job = await self._records.queue_job(response_id)
        if queue_job is not None:
            await self._queue.cancel(queue_job)  # the owner hears it (or nobody runs it)
        if not settled:
            await self._owner_stopped(response_id)
        await self._parts.wakeups.publish(response_id)
        return True

    @property
    def active(self) -> int:
        """Jobs running on this replica (the /metrics queue depth)."""
        return len(self._jobs)

    async def aclose(self) -> None:
        """Server shutdown: stop every job here. On a shared queue each goes back to it
        (another replica takes it over); alone, each is stored failed, saying why."""
        self._closing = True
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _enqueue(self, response_id: str) -> None:
        queue_job = await self._queue.enqueue(response_id)
        await self._records.set_queue_job(response_id, queue_job)

    async def _owner_stopped(self, response_id: str) -> None:
        """Wait for the owner to store the job cancelled; past its lease it is gone."""
        deadline = time.monotonic() + self._queue.lease_seconds + 1.0
        with self._parts.wakeups.watch(response_id) as woken:
            while time.monotonic() < deadline:
                woken.clear()
                stored = await self._responses.get(response_id)
                if stored is None or stored["status"] not in UNFINISHED:
                    return
                with suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), 0.2)
        log.warning("the owner of %s did not stop it; cancelled here", response_id)
        await self._records.cancel_unfinished(response_id)

    async def _streamed(
        self, response_id: str, events: AsyncGenerator[Event]
    ) -> AsyncIterator[Event]:
        """Recorded before the first event leaves: a job a client saw is never rerun."""
        await self._records.mark_streamed(response_id)
        async with aclosing(events):
            async for event in events:
                yield event

    async def _run(self, job: Job, request: CanonicalRequest, key_id: str | None) -> None:
        response_id = job.response["id"]
        try:
            admission = await self._parts.admission_for(key_id)
            await self._generate(job, request, admission)
        except asyncio.CancelledError:
            await self._stopped(job)
        except ThinkgateError as error:
            await self._refused(job, error)
        except Exception:
            log.exception("background response %s failed", response_id)
            await self._refused(job, ThinkgateError("The server had an error."))
        finally:
            try:
                await asyncio.shield(self._flush(job, announce=True))
            finally:
                job.finish()
                self._jobs.pop(response_id, None)

    async def _generate(
        self, job: Job, request: CanonicalRequest, admission: Admission | None
    ) -> None:
        run = await self._pipeline.start(request, admission, response_id=job.response["id"])
        job.response = run.response
        last_flush = time.monotonic()
        async with aclosing(run.events()) as events:
            async for event in events:
                if event["type"] == "response.created":
                    event["response"]["status"] = "queued"
                job.publish(event)
                if event["type"] == "response.in_progress":
                    await self._responses.update(snapshot(event["response"]))
                if event["type"] in TERMINAL_EVENTS or time.monotonic() - last_flush > (
                    _FLUSH_SECONDS
                ):
                    await self._flush(job)
                    last_flush = time.monotonic()

    async def _stopped(self, job: Job) -> None:
        """Cancelled, by `cancel()` or by shutdown. A run already stored itself cancelled;
        a job still waiting for the model was only queued. On a shared queue a job
        stopped by shutdown is left as it is, for another replica to take over."""
        if self._closing and self._queue.shared:
            # The run stored itself cancelled (billing what it generated): unfinished again,
            # for the next replica's claim to run it again or fail it.
            job.handover = True
            unfinished = {**snapshot(job.response), "status": "in_progress", "error": None}
            await asyncio.shield(self._flush(job))
            await asyncio.shield(self._responses.update(unfinished))
            return
        response = job.response
        if response["status"] in ("queued", "in_progress"):
            response["status"] = "cancelled"
        if self._closing:
            response.update(status="failed", error=dict(SHUTDOWN_ERROR))
        await asyncio.shield(self._flush(job))  # events first: followers read them, then end
        await asyncio.shield(self._responses.update(snapshot(response)))

    async def _refused(self, job: Job, error: ThinkgateError) -> None:
        """The request failed before generation (say, the prompt does not fit)."""
        response = job.response
        response["status"] = "failed"
        response["error"] = {"code": error.code or error.error_type, "message": error.message}
        if not job.events:
            opening = {**snapshot(response), "status": "queued", "error": None}
            job.publish({"type": "response.created", "sequence_number": 0, "response": opening})
            job.publish(
                {"type": "response.failed", "sequence_number": 1, "response": snapshot(response)}
            )
        await self._responses.update(snapshot(response))

    async def _flush(self, job: Job, *, announce: bool = False) -> None:
        """Store the events not stored yet, and tell followers elsewhere (`announce`:
        even if there were none: the job's stored state changed)."""
        async with job.flushing:
            pending = job.events[job.stored_upto :]
            if pending:
                try:
                    await self._parts.events.append(job.response["id"], pending)
                except Exception:
                    log.exception("could not store events of %s", job.response["id"])
                job.stored_upto += len(pending)
        if pending or announce:
            await self._announce(job)

    async def _announce(self, job: Job) -> None:
        try:
            await self._parts.wakeups.publish(job.response["id"])
        except Exception:  # followers elsewhere poll the store anyway
            log.warning("could not announce events of %s", job.response["id"], exc_info=True)


async def _follow(
    job: Job, starting_after: int, flush: Callable[[Job], Awaitable[None]]
) -> AsyncGenerator[Event]:
    """Live events, each stored before it is sent: a client never sees an event that a
    crash could lose, so a takeover's closing event always comes after what it saw."""
    index = max(starting_after + 1, 0)
    while True:
        changed = job.changed
        while index < len(job.events):
            if index >= job.stored_upto:
                await flush(job)
            yield job.events[index]
            index += 1
        if job.done:
            return
        await changed.wait()
