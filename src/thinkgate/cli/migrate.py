"""`thinkgate migrate`: bring the database schema to this build's heads, then exit.

The server migrates at start too (safe with several replicas at once); this is for running
it once per release before the new replicas roll out (the Kubernetes Job in
deploy/kubernetes, the `migrate` service in deploy/compose), so a failed migration stops
the release instead of every replica's start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from thinkgate.cli.options import config_option, data_dir_option, settings_from


@click.command(name="migrate")
@data_dir_option
@config_option
def migrate_command(data_dir: Path | None, config_file: Path | None) -> None:
    """Migrate the database (THINKGATE_DATABASE_URL) to the schema this version needs."""
    from thinkgate.ops.checks import migrations_check
    from thinkgate.store.database import Database

    settings = settings_from(config_file, data_dir=data_dir)

    async def run() -> str:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        try:
            await database.migrate()
            check = await migrations_check(database)
        finally:
            await database.aclose()
        if not check.ok:
            raise click.ClickException(f"migrations: {check.detail}")
        return check.detail

    click.echo(f"thinkgate: schema {asyncio.run(run())}")
