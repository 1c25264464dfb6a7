"""Many rows into one table in as few driver calls as the database allows.

The ledger writes a batch of rows every flush. Through SQLAlchemy's `execute(insert(),
[dicts])` each row's parameters are processed in Python (~15 µs a row), and on SQLite the
driver then steps each row in aiosqlite's thread, handing the GIL to the event loop and
back between rows; a batch written while requests were served took tens of milliseconds
(bench/overhead). Here the statement is compiled once for the dialect and rows go to the
driver as plain tuples: on SQLite as one multi-row `INSERT … VALUES (…), (…)` per chunk (one
step for the whole chunk), elsewhere as one `executemany` (asyncpg sends it in one go).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

# SQLite ≥ 3.32 takes up to 32,766 parameters in one statement: chunks stay well below
_SQLITE_MAX_PARAMETERS = 30_000


class BulkInsert:
    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        self._table = table
        statement = insert(table).values({name: bindparam(name) for name in columns})
        compiled = statement.compile(dialect=dialect)
        order = compiled.positiontup
        # a driver with named parameters (psycopg) takes SQLAlchemy's own executemany
        self._positional = order is not None and sorted(order) == sorted(columns)
        # each row's values, in this order
        self.columns = tuple(order) if order and self._positional else tuple(columns)
        self._sql = compiled.string
        self._multi_row = self._positional and dialect.name == "sqlite"
        if self._multi_row:
            head, _, values = self._sql.partition(" VALUES ")
            self._head, self._row_marks = head + " VALUES ", values
            self._chunk = max(1, _SQLITE_MAX_PARAMETERS // len(self.columns))

    async def run(self, connection: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert `rows` (each in `columns` order) within the connection's transaction."""
        if not rows:
            return
        if not self._positional:
            named = [dict(zip(self.columns, row, strict=True)) for row in rows]
            await connection.execute(insert(self._table), named)
            return
        if not self._multi_row:
            await connection.exec_driver_sql(self._sql, list(rows))
            return
        for start in range(0, len(rows), self._chunk):
            chunk = rows[start : start + self._chunk]
            sql = self._head + ", ".join([self._row_marks] * len(chunk))
            flat = tuple(value for row in chunk for value in row)
            await connection.exec_driver_sql(sql, flat)
