"""What background jobs are kept in, run through and announced by: the store's
repositories, the queue (`replicas.queue`) and the wake-ups, as the engine sees them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from thinkgate.core.admission import Admission
from thinkgate.core.request import Item
from thinkgate.engine.assembler import Event
from thinkgate.engine.job_follow import Wakeups


class JobResponses(Protocol):
    async def save(
        self, response: dict[str, Any], input_items: list[Item], *, owner: str | None = None
    ) -> None: ...

    async def update(self, response: dict[str, Any]) -> None: ...

    async def get(self, response_id: str, *, owner: str | None = None) -> dict[str, Any] | None: ...


class JobEvents(Protocol):
    async def append(self, response_id: str, events: list[Event]) -> None: ...

    async def after(self, response_id: str, sequence_number: int) -> list[Event]: ...


class JobClaim(Protocol):
    @property
    def action(self) -> str: ...  # "run" | "done"

    @property
    def request(self) -> dict[str, Any] | None: ...

    @property
    def key_id(self) -> str | None: ...


class JobRecords(Protocol):
    """`store.background_jobs.BackgroundJobRepository`."""

    async def create(
        self, response_id: str, request: dict[str, Any], *, key_id: str | None
    ) -> None: ...

    async def set_queue_job(self, response_id: str, queue_job_id: int | None) -> None: ...

    async def queue_job(self, response_id: str) -> int | None: ...

    async def claim(
        self, response_id: str, owner: str, takeover_error: dict[str, str]
    ) -> JobClaim: ...

    async def mark_streamed(self, response_id: str) -> None: ...

    async def request_cancel(self, response_id: str) -> bool: ...

    async def cancel_unfinished(self, response_id: str) -> None: ...

    async def unfinished(self) -> list[str]: ...


class JobQueue(Protocol):
    """`replicas.queue.JobQueue`: where jobs wait for a replica, and the lease."""

    owner: str  # this replica's id
    shared: bool  # other replicas take jobs from it too
    lease_seconds: float

    async def enqueue(self, response_id: str) -> int | None: ...

    async def cancel(self, queue_job_id: int) -> None: ...


AdmissionFor = Callable[[str | None], Awaitable[Admission | None]]


@dataclass(slots=True)
class JobParts:
    """What jobs are kept in and announced through (wired in `app.py`)."""

    responses: JobResponses
    events: JobEvents
    records: JobRecords
    queue: JobQueue
    wakeups: Wakeups
    admission_for: AdmissionFor
