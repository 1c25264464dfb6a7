"""Alembic environment: runs on the connection `Database.migrate()` hands in."""

from alembic import context

from thinkgate.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through thinkgate.store.Database.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
