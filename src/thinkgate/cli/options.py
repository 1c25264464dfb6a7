"""Options every command that opens the server's state shares, and loading its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from thinkgate.config import ConfigError, Settings, load_settings

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The server's data dir: database and caches (env THINKGATE_DATA_DIR; default ./data).",
)
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML config file (env THINKGATE_CONFIG).",
)


def settings_from(config_file: Path | None, **overrides: Any) -> Settings:
    """The settings, with a bad config file as a one-line CLI error, not a traceback."""
    try:
        return load_settings(config_file=config_file, overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(f"config: {exc}") from exc
