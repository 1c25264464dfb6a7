"""The database handle: an async engine, its session factory, and migrations at boot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x7467_6D69  # "tgmi": a transaction-scoped advisory lock while migrating


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        # pre-ping: a connection the server dropped (restart, failover) is replaced before
        # use, so the first request after PostgreSQL returns does not fail on a dead one
        pre_ping = not url.startswith("sqlite")
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=pre_ping)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.writes_failing = False  # set by a failed write, cleared by the next good ping

    async def ensure_writable(self) -> None:
        """Refuse work that must be stored while the last write failed and the database is
        still unreachable: the caller gets the connection error (a 503) before anything runs,
        instead of an answer whose stored copy is silently lost. Free while writes succeed."""
        if not self.writes_failing:
            return
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        self.writes_failing = False

    def session(self) -> AsyncSession:
        return self.sessions()

    async def migrate(self) -> None:
        """Bring the schema to every head (parallel branches merge later); safe on every start."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade)

    async def aclose(self) -> None:
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # replicas starting together: one at a time
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
