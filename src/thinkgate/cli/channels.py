"""`thinkgate channels …`: check upstream channels from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from thinkgate.cli.options import config_option
from thinkgate.config import ConfigError, load_settings


@click.group(name="channels")
def channels_command() -> None:
    """Upstream channels (`[[channels]]` in the config file)."""


@channels_command.command(name="test")
@click.argument("name")
@config_option
def test_channel(name: str, config_file: Path | None) -> None:
    """List the channel's models, run a tiny completion, and print a table with latency."""
    from rich.console import Console
    from rich.table import Table

    from thinkgate.backends.upstream.probe import probe_channel

    try:
        settings = load_settings(config_file=config_file)
        config = next((c for c in settings.channels if c.name == name), None)
        if config is None:
            known = ", ".join(c.name for c in settings.channels) or "none configured"
            raise click.ClickException(f"no channel named {name!r} (channels: {known})")
        steps = asyncio.run(probe_channel(config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table(title=f"channel {name} ({config.kind}, {config.base_url})")
    for column in ("check", "result", "latency", "detail"):
        table.add_column(column, justify="right" if column == "latency" else "left")
    for step in steps:
        latency = "-" if step.latency_ms is None else f"{step.latency_ms:.0f} ms"
        result = "[green]ok[/green]" if step.ok else "[red]failed[/red]"
        table.add_row(step.check, result, latency, step.detail)
    Console().print(table)
    if not all(step.ok for step in steps):
        raise SystemExit(1)
