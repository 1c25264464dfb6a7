"""Checks shared by `/readyz` and `thinkgate doctor`: each returns a `Check`, never raises."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from thinkgate.store.database import MIGRATIONS, Database


@dataclass(slots=True, frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def database_check(database: Database, within: float = 3.0) -> Check:
    try:
        async with asyncio.timeout(within), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # the answer this check exists to give
        return Check("database", False, f"unreachable: {_reason(exc)}")
    return Check("database", True, database.engine.dialect.name)


async def migrations_check(database: Database, within: float = 3.0) -> Check:
    """The schema is at every head this build ships (a replica of another version is not)."""
    expected = _expected_heads()
    try:
        async with asyncio.timeout(within), database.engine.connect() as connection:
            current = set(await connection.run_sync(_current_heads))
    except Exception as exc:
        return Check("migrations", False, f"cannot read the schema version: {_reason(exc)}")
    if current != expected:
        return Check(
            "migrations",
            False,
            f"at {sorted(current) or 'nothing'}, this build needs {sorted(expected)}",
        )
    return Check("migrations", True, f"at head {', '.join(sorted(expected))}")


async def redis_check(url: str, within: float = 2.0) -> Check:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=within, socket_timeout=within)
    try:
        await client.ping()
    except Exception as exc:
        return Check("redis", False, f"unreachable: {_reason(exc)}")
    finally:
        await client.aclose()
    return Check("redis", True, "ping ok")


@functools.cache
def _expected_heads() -> frozenset[str]:
    """The heads this build ships: parsed from the migration scripts once per process."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def _current_heads(connection: Connection) -> tuple[str, ...]:
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)  # per probe: quiet
    return MigrationContext.configure(connection).get_current_heads()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300]
