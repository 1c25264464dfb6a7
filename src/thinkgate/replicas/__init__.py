"""What replicas share beyond the database: the background job queue (PgQueuer on
PostgreSQL, in-process on SQLite) and the wake-ups that let a job be followed anywhere."""

from thinkgate.ids import replica_id
from thinkgate.replicas.queue import JobQueue, open_job_queue
from thinkgate.replicas.wakeups import LocalWakeups, open_wakeups

__all__ = ["JobQueue", "LocalWakeups", "open_job_queue", "open_wakeups", "replica_id"]
