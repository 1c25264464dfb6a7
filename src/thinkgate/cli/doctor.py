"""`thinkgate doctor`: check the install and print what is wrong (exit 1 if anything is)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from thinkgate.cli.options import config_option, data_dir_option, settings_from
from thinkgate.ops.checks import Check


@click.command(name="doctor")
@data_dir_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor_command(data_dir: Path | None, config_file: Path | None, as_json: bool) -> None:
    """Check the engine, CPU flags, model files, database and schema, Redis and channels."""
    from thinkgate.ops.doctor import diagnose, python_check

    settings = settings_from(config_file, data_dir=data_dir)
    checks = [python_check(), *asyncio.run(diagnose(settings))]
    if as_json:
        rows = [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks]
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(checks)
    if not all(check.ok for check in checks):
        raise SystemExit(1)


def _print_table(checks: list[Check]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="thinkgate doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        result = "[green]ok[/green]" if check.ok else "[red]FAILED[/red]"
        table.add_row(check.name, result, check.detail)
    Console(width=160).print(table)
    failed = [check.name for check in checks if not check.ok]
    summary = f"{len(failed)} problem(s): {', '.join(failed)}" if failed else "all checks passed"
    Console(width=160).print(summary)
