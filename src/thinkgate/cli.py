"""Command line: `thinkgate serve` (more verbs arrive with their issues)."""

from __future__ import annotations

from pathlib import Path

import click

from thinkgate.config import ConfigError, load_settings


@click.group()
@click.version_option(package_name="thinkgate")
def main() -> None:
    """thinkgate: a self-hosted, GPT-5.1-compatible API server."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000; 0 picks a free one).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the database and caches live (env THINKGATE_DATA_DIR; default ./data).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML config file (env THINKGATE_CONFIG).",
)
def serve(
    host: str | None, port: int | None, data_dir: Path | None, config_file: Path | None
) -> None:
    """Serve the API (embedded model and SQLite unless configured otherwise)."""
    import uvicorn

    from thinkgate.app import create_app

    try:
        settings = load_settings(
            config_file=config_file,
            overrides={"host": host, "port": port, "data_dir": data_dir},
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
    )
