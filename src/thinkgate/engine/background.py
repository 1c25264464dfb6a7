"""Background responses: jobs that run apart from the request that made them.

    submit ─► queued (stored) ─► in_progress ─► completed | incomplete | failed
                     │                 │
                     └── cancel ───────┴─► cancelled

A job is an asyncio task owned by this registry, never by an HTTP connection, so a
client may go away and poll (`GET`) or resume the stream (`starting_after`) later.
Every event is kept in memory while the job runs (live followers read it) and
written to the store in small batches (followers after the job, or after a restart).
Jobs do not survive the process: at start-up `recover()` marks the ones a previous
process left unfinished as failed, with an error that says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from thinkgate.engine.assembler import Event
from thinkgate.engine.pipeline import Admission, ResponsesPipeline
from thinkgate.engine.request import CanonicalRequest, Item
from thinkgate.engine.response_object import ResponseDict, new_response, snapshot
from thinkgate.errors import ThinkgateError
from thinkgate.ids import new_id

log = logging.getLogger(__name__)

_FLUSH_SECONDS = 0.25
_TERMINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}
RESTART_ERROR = {
    "code": "server_error",
    "message": "The server restarted before this background response finished; "
    "background responses are not resumed after a restart.",
}
SHUTDOWN_ERROR = {
    "code": "server_error",
    "message": "The server shut down before this background response finished.",
}


class JobResponses(Protocol):
    async def save(
        self, response: dict[str, Any], input_items: list[Item], *, owner: str | None = None
    ) -> None: ...

    async def update(self, response: dict[str, Any]) -> None: ...

    async def fail_unfinished(self, error: dict[str, str]) -> int: ...


class JobEvents(Protocol):
    async def append(self, response_id: str, events: list[Event]) -> None: ...


@dataclass(slots=True)
class Job:
    response: ResponseDict
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False
    task: asyncio.Task[None] | None = None
    stored_upto: int = 0

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
    def __init__(
        self, pipeline: ResponsesPipeline, responses: JobResponses, events: JobEvents
    ) -> None:
        self._pipeline = pipeline
        self._responses = responses
        self._events = events
        self._jobs: dict[str, Job] = {}
        self._closing = False

    async def recover(self) -> int:
        """Fail what a previous process left queued or running (it cannot be resumed)."""
        count = await self._responses.fail_unfinished(RESTART_ERROR)
        if count:
            log.warning("marked %d unfinished background response(s) failed", count)
        return count

    async def submit(
        self, request: CanonicalRequest, admission: Admission | None = None
    ) -> ResponseDict:
        """Check the request now (client errors are HTTP errors), store it queued, start it."""
        await self._pipeline.prepare(request)
        response = new_response(request, new_id("resp"), int(time.time()))
        response["status"] = "queued"
        await self._responses.save(response, request.input_items, owner=request.owner)
        job = Job(response=snapshot(response))
        self._jobs[response["id"]] = job
        job.task = asyncio.create_task(self._run(job, request, admission))
        return response

    def follow(self, response_id: str, starting_after: int) -> AsyncIterator[Event] | None:
        """The job's events after `starting_after`, then live ones; None if not running here."""
        job = self._jobs.get(response_id)
        return None if job is None else _follow(job, starting_after)

    async def cancel(self, response_id: str) -> bool:
        """Stop a running job and wait until its cancelled state is stored."""
        job = self._jobs.get(response_id)
        if job is None or job.task is None:
            return False
        job.task.cancel()
        await asyncio.wait([job.task])
        return True

    @property
    def active(self) -> int:
        """Jobs queued or running (the /metrics queue depth)."""
        return len(self._jobs)

    async def aclose(self) -> None:
        """Server shutdown: stop every job; each is stored failed, saying why."""
        self._closing = True
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, job: Job, request: CanonicalRequest, admission: Admission | None) -> None:
        response_id = job.response["id"]
        try:
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
                await asyncio.shield(self._flush(job))
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
                if event["type"] in _TERMINAL_EVENTS or time.monotonic() - last_flush > (
                    _FLUSH_SECONDS
                ):
                    await self._flush(job)
                    last_flush = time.monotonic()

    async def _stopped(self, job: Job) -> None:
        """Cancelled, by `cancel()` or by shutdown. A run already stored itself cancelled;
        a job still waiting for the model was only queued."""
        response = job.response
        if response["status"] in ("queued", "in_progress"):
            response["status"] = "cancelled"
        if self._closing:
            response.update(status="failed", error=dict(SHUTDOWN_ERROR))
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

    async def _flush(self, job: Job) -> None:
        pending = job.events[job.stored_upto :]
        if not pending:
            return
        job.stored_upto += len(pending)
        try:
            await self._events.append(job.response["id"], pending)
        except Exception:
            log.exception("could not store events of %s", job.response["id"])


async def _follow(job: Job, starting_after: int) -> AsyncIterator[Event]:
    index = max(starting_after + 1, 0)
    while True:
        changed = job.changed
        while index < len(job.events):
            yield job.events[index]
            index += 1
        if job.done:
            return
        await changed.wait()
